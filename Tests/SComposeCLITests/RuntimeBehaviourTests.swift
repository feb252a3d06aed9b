// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// What the runtime must show from the CLI, for real (root, namespaces, cgroups): Docker's
/// isolation defaults seen from inside, restart policies, log capture under load and its
/// rotation, a killed shim, a killed `up`, and the remaining container verbs.
@Suite(.serialized) struct RuntimeBehaviourTests {
    static var canRun: Bool { ComposeRunTests.canRun }

    /// A sandbox with a busybox image that has every applet, and a project directory.
    final class Project {
        let s: ImageCommandTests.Sandbox
        let file: String
        let name: String

        /// `prepare` adds to the image's root file system; `changes` are `image import -c` lines.
        init(_ yaml: String, changes: [String] = [], prepare: (String) throws -> Void = { _ in }) throws {
            s = try ImageCommandTests.Sandbox()
            try Self.importBusybox(s, changes: changes, prepare: prepare)
            name = "rb\(getpid())\(Int.random(in: 100...999))"
            try FileManager.default.createDirectory(atPath: s.dir + "/app", withIntermediateDirectories: true)
            file = s.dir + "/app/compose.yaml"
            try ("name: \(name)\n" + yaml).write(toFile: file, atomically: true, encoding: .utf8)
        }

        /// `busybox:latest` in the sandbox's store, with every applet.
        static func importBusybox(
            _ s: ImageCommandTests.Sandbox, changes: [String] = [], prepare: (String) throws -> Void = { _ in }
        ) throws {
            let rootfs = s.dir + "/rootfs"
            for d in ["bin", "etc", "tmp", "mnt"] {
                try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
            let list = try s.run(["--list"], tool: "/bin/busybox").out
            for applet in list.split(separator: "\n") where applet != "busybox" {
                try? FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
            }
            try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
            try "root:x:0:\n".write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
            try prepare(rootfs)
            let tarball = s.dir + "/rootfs.tar.gz"
            _ = try s.run(["-C", rootfs, "-czf", tarball, "."], tool: "/bin/tar")
            let imported = try s.run(["image", "import"] + changes.flatMap { ["-c", $0] } + [tarball, "busybox:latest"])
            #expect(imported.status == 0, "\(imported.err)")
        }

        @discardableResult
        func run(_ args: [String]) throws -> ImageCommandTests.Run { try s.run(["-f", file] + args) }

        /// `scompose -f FILE args` in this sandbox, not started yet, for a test that signals it
        /// or reads it as it goes; its streams go where given (inherited when nil).
        func process(_ args: [String], stdout: Any? = nil, stderr: Any? = nil) -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
            process.arguments = ["-f", file] + args
            var env = ProcessInfo.processInfo.environment
            env["SCOMPOSE_ROOT"] = s.root
            process.environment = env
            if let stdout { process.standardOutput = stdout }
            if let stderr { process.standardError = stderr }
            return process
        }

        /// Polls `ps -a` until `text` shows up (or 10 s pass).
        func waitFor(_ text: String, _ args: [String] = ["ps", "-a"]) throws -> String {
            var out = ""
            for _ in 0..<100 {
                out = try run(args).out
                if out.contains(text) { return out }
                usleep(100_000)
            }
            return out
        }

        /// `down`, then checks that nothing of the project is left: directories, cgroups,
        /// mounts, processes.
        func downAndCheckClean(pids: [Int32] = []) throws {
            let ids = (try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []
            let bridges = ImageCommandTests.Sandbox.networks(root: s.root).map(\.bridge)
            let down = try run(["down", "-t", "2"])
            #expect(down.status == 0, "\(down.err)")
            for bridge in bridges {
                #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/" + bridge), "bridge \(bridge) is left")
            }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []
            #expect(left.isEmpty, "left after down: \(left) \(left.map { (try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers/" + $0)) ?? [] })")
            for id in ids {
                for controller in ["memory", "pids", "cpu", "freezer", "devices"] {
                    #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(controller)/scompose/\(id)"))
                }
            }
            let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
            #expect(!mounts.contains(s.root))
            for pid in pids { #expect(kill(pid, 0) != 0 || isZombie(pid), "process \(pid) is left") }
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    static func state(_ p: Project) throws -> [[String: Any]] {
        let dir = p.s.root + "/containers"
        return try FileManager.default.contentsOfDirectory(atPath: dir).compactMap {
            guard let data = FileManager.default.contents(atPath: dir + "/" + $0 + "/state.json") else { return nil }
            return try JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
    }

    /// A block device of this host that root can open here (`major minor`; a disk rather than
    /// a loop device when there is one), for the device rules to refuse in a container.
    static var hostBlockDevice: String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []).sorted {
            ($0.hasPrefix("loop") ? 1 : 0, $0) < ($1.hasPrefix("loop") ? 1 : 0, $1)
        }
        for name in names {
            let fd = open("/dev/" + name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            close(fd)
            if let dev = try? String(contentsOfFile: "/sys/block/\(name)/dev", encoding: .utf8) {
                return dev.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: ":", with: " ")
            }
        }
        return "7 0"
    }

    /// What a process sees of its confinement: the answers Docker gives, printed one per line.
    /// `$` is written `$$` (compose interpolation); `unescaped` turns it back for `exec`.
    static var isolationProbe: String {
        """
        grep -E '^(CapEff|CapBnd|CapInh|Seccomp|NoNewPrivs):' /proc/self/status
        echo procs=$$(ls /proc | grep -c '^[0-9]')
        mount -t tmpfs t /mnt 2>/dev/null && echo mount=yes || echo mount=no
        echo x > /proc/sys/kernel/domainname 2>/dev/null && echo procsys=rw || echo procsys=ro
        echo sys=$$(awk '$$2 == "/sys" { split($$4, o, ","); print o[1] }' /proc/mounts)
        echo keys=$$(cat /proc/keys 2>/dev/null | wc -c) firmware=$$(ls /sys/firmware 2>/dev/null | wc -l)
        mknod /tmp/lc c 10 237 2>/dev/null; (exec 3< /tmp/lc) 2>/dev/null && echo rawdevice=yes || echo rawdevice=no
        mknod /tmp/blk b \(hostBlockDevice) 2>/dev/null; (exec 3< /tmp/blk) 2>/dev/null && echo blockdevice=yes || echo blockdevice=no
        mknod /tmp/fuse c 10 229 2>/dev/null; (exec 3< /tmp/fuse) 2>/dev/null && echo fuse=yes || echo fuse=no
        ls /dev | tr '\\n' ' '; echo
        unshare -n true 2>/dev/null && echo unshare=yes || echo unshare=no
        echo memlimit=$$(cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)
        echo pidslimit=$$(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null)
        [ "$$(cat /proc/self/cgroup)" = "$$(cat /proc/1/cgroup)" ] && echo samecgroups=yes || echo samecgroups=no
        echo apparmor=$$(cat /proc/self/attr/current 2>/dev/null)
        echo done
        """
    }

    static func unescaped(_ probe: String) -> String { probe.replacingOccurrences(of: "$$", with: "$") }

    /// Docker's answers for a confined container (64m, 50 pids) and a privileged one, whether
    /// the probe is the service's own process or was started by `exec`.
    static func expectDockerAnswers(confined: String, wide: String, how: String) {
        #expect(confined.contains("CapEff:\t00000000a80425fb"), "\(how): \(confined)")
        #expect(confined.contains("CapBnd:\t00000000a80425fb"), "\(how)")
        #expect(confined.contains("CapInh:\t0000000000000000"), "\(how)")
        #expect(confined.contains("Seccomp:\t2"), "\(how)")
        #expect(confined.contains("NoNewPrivs:\t0"), "\(how)")
        let procs = confined.split(separator: "\n").first { $0.hasPrefix("procs=") }.flatMap { Int($0.dropFirst(6)) } ?? 99
        #expect(procs <= 6, "\(how): only the container's processes: \(confined)")
        #expect(confined.contains("mount=no"), "\(how)")
        #expect(confined.contains("procsys=ro"), "\(how)")
        #expect(confined.contains("sys=ro"), "\(how)")
        #expect(confined.contains("keys=0 firmware=0"), "\(how): masked paths read empty")
        #expect(confined.contains("rawdevice=no"), "\(how): the device rules refuse what is not on their list")
        #expect(confined.contains("blockdevice=no"), "\(how): a node of the host's disk cannot be opened")
        #expect(confined.contains("fuse=no"), "\(how): /dev/fuse cannot be opened")
        #expect(confined.contains("unshare=no"), "\(how): seccomp and capabilities refuse new namespaces")
        #expect(confined.contains("memlimit=67108864"), "\(how): the container reads its own limits at /sys/fs/cgroup")
        #expect(confined.contains("pidslimit=50"), "\(how)")
        #expect(confined.contains("samecgroups=yes"), "\(how): in the cgroups of the container's init")
        #expect(confined.contains("full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"), "\(how)")
        #expect(wide.contains("Seccomp:\t0"), "\(how): \(wide)")
        #expect(!wide.contains("CapEff:\t00000000a80425fb"), "\(how)")
        #expect(wide.contains("mount=yes"), "\(how)")
        #expect(wide.contains("sys=rw"), "\(how)")
        #expect(wide.contains("rawdevice=yes"), "\(how)")
        #expect(wide.contains("blockdevice=yes"), "\(how): privileged containers open every device")
        if FileManager.default.fileExists(atPath: "/dev/fuse") { #expect(wide.contains("fuse=yes"), "\(how)") }
        #expect(wide.contains("samecgroups=yes"), "\(how)")
        if Self.hostHasAppArmor {
            #expect(confined.contains("apparmor=scompose-default (enforce)"), "\(how): Docker's default profile, as ours")
            #expect(wide.contains("apparmor=unconfined"), "\(how): privileged containers are unconfined")
        }
    }

    static var hostHasAppArmor: Bool {
        (try? String(contentsOfFile: "/sys/module/apparmor/parameters/enabled", encoding: .utf8))?.hasPrefix("Y") == true
    }

    @Test(.enabled(if: canRun)) func isolationMatchesDockerDefaults() throws {
        let probe = Self.isolationProbe
        let p = try Project(
            """
            services:
              confined:
                image: busybox
                mem_limit: 64m
                pids_limit: 50
                command: ["sh", "-c", \(jsonString(probe + "\nexec sleep 1000"))]
              wide:
                image: busybox
                privileged: true
                command: ["sh", "-c", \(jsonString(probe + "\nexec sleep 1000"))]
            """)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        let confined = try p.waitFor("done", ["logs", "--no-log-prefix", "confined"])
        let wide = try p.waitFor("done", ["logs", "--no-log-prefix", "wide"])
        Self.expectDockerAnswers(confined: confined, wide: wide, how: "the service's process")
        // The same answers for a process `exec` starts: it joins the container's cgroups (device
        // rules, limits) as well as its namespaces.
        let execConfined = try p.run(["exec", "-T", "confined", "sh", "-c", Self.unescaped(probe)])
        let execWide = try p.run(["exec", "-T", "wide", "sh", "-c", Self.unescaped(probe)])
        #expect(execConfined.status == 0 && execWide.status == 0, "\(execConfined.err) \(execWide.err)")
        Self.expectDockerAnswers(confined: execConfined.out, wide: execWide.out, how: "exec")
        try p.downAndCheckClean()
    }

    /// An exec'd process is the container's for the kernel: in its cgroups (host side and
    /// inside), counted by `stats`, bound by its memory and pids limits, frozen by `pause`.
    @Test(.enabled(if: canRun)) func execJoinsTheContainersCgroups() throws {
        let p = try Project(
            """
            services:
              box:
                image: busybox
                mem_limit: 64m
                pids_limit: 20
                init: true
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d", "--wait"]).status == 0)
        func pids() throws -> String {
            let stats = try p.run(["stats", "--no-stream", "--format", "json"])
            #expect(stats.status == 0, "\(stats.err)")
            let object = try JSONSerialization.jsonObject(with: Data(stats.out.utf8)) as? [String: Any]
            return object?["PIDs"] as? String ?? stats.out
        }
        // Our init (it reaps what exec leaves behind) and the service's process.
        #expect(try pids() == "2")
        #expect(try p.run(["exec", "-d", "box", "sleep", "300"]).status == 0)
        var counted = ""
        for _ in 0..<50 where counted != "3" {
            counted = try pids()
            usleep(100_000)
        }
        #expect(counted == "3", "stats counts the exec'd process (and nothing of ours beside it)")
        // Host side: the exec'd process's cgroups are the init's, hierarchy by hierarchy.
        let initPid = try #require(Self.state(p).first?["pid"] as? Int)
        let initCgroups = try String(contentsOfFile: "/proc/\(initPid)/cgroup", encoding: .utf8)
        let execPid = try #require(Self.processes(ofCgroupsOf: initPid).first { pid in
            (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) == "sleep\u{0}300\u{0}"
        })
        #expect(try String(contentsOfFile: "/proc/\(execPid)/cgroup", encoding: .utf8) == initCgroups)
        // Its memory limit: a process that grows past 64 MiB is killed (137), the container lives on.
        // One process grows (dd's 100 MB buffer): with a pipeline, a second writer can charge the
        // cgroup while the first victim's memory is still being freed, and the kernel then kills
        // the largest process left, our init, which ends the container (seen under slow emulation).
        let grow = try p.run(["exec", "-T", "box", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=100000000 count=1 && echo survived"])
        #expect(grow.status == 137 && !grow.out.contains("survived"), "\(grow.status) \(grow.out) \(grow.err)")
        #expect(try p.run(["ps", "--status", "running", "--services"]).out == "box\n")
        // pause freezes what exec started as well; exec into a paused container is refused.
        #expect(try p.run(["exec", "-d", "box", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; usleep 20000; done"]).status == 0)
        func counter() -> Int {
            // The loop truncates the file before each write: a read can fall in between.
            for _ in 0..<20 {
                let text = (try? String(contentsOfFile: "/proc/\(initPid)/root/tmp/n", encoding: .utf8)) ?? ""
                if let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return n }
                usleep(5_000)
            }
            return -1
        }
        usleep(300_000)
        let before = counter()
        usleep(300_000)
        #expect(counter() > before, "the loop runs")
        #expect(try p.run(["pause", "box"]).status == 0)
        usleep(200_000)
        let frozen = counter()
        usleep(500_000)
        #expect(counter() == frozen, "pause froze the exec'd loop")
        let refused = try p.run(["exec", "-T", "box", "true"])
        #expect(refused.status == 1 && refused.err.contains("is paused, unpause the container before exec"), "\(refused.err)")
        #expect(try p.run(["unpause", "box"]).status == 0)
        usleep(300_000)
        #expect(counter() > frozen, "unpause thawed it")
        // Its pids limit: of 30 more processes, the container (20 in all, 5 running) refuses some.
        let fork = try p.run(["exec", "-T", "box", "sh", "-c", "for i in $(seq 1 30); do sleep 5 & done; echo started"])
        #expect(fork.err.contains("can't fork") && !fork.out.contains("started"), "pids_limit bounds what exec starts: \(fork.err)")
        try p.downAndCheckClean()
    }

    /// The processes in the cgroups of `pid` (its first hierarchy's `cgroup.procs`).
    static func processes(ofCgroupsOf pid: Int) throws -> [Int] {
        let text = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let dir: String
            if fields[0] == "0" {
                dir = "/sys/fs/cgroup" + (FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? "" : "/unified")
            } else if fields[1].split(separator: ",").contains("pids") {
                dir = "/sys/fs/cgroup/pids"
            } else {
                continue
            }
            if fields[0] == "0" && !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") { continue }
            let procs = try String(contentsOfFile: dir + fields[2] + "/cgroup.procs", encoding: .utf8)
            return procs.split(separator: "\n").compactMap { Int($0) }
        }
        return []
    }

    @Test(.enabled(if: canRun)) func restartPoliciesAndStopSignals() throws {
        let p = try Project(
            """
            services:
              flaky:
                image: busybox
                command: sh -c 'echo run; exit 2'
                restart: on-failure:2
              always:
                image: busybox
                command: sh -c 'echo again; sleep 0.2; exit 0'
                restart: always
              graceful:
                image: busybox
                init: true
                stop_signal: SIGUSR1
                stop_grace_period: 20s
                command: sh -c 'trap "echo bye; exit 3" USR1; echo ready; while true; do sleep 0.1; done'
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        // on-failure:2 runs once and restarts exactly twice.
        let ps = try p.waitFor("Exited (2)")
        #expect(ps.contains("Exited (2)"), "\(ps)")
        usleep(500_000)
        #expect(try p.run(["logs", "--no-log-prefix", "flaky"]).out == "run\nrun\nrun\n")
        // always: restarted after each exit, until stopped by the user.
        _ = try p.waitFor("again\nagain\nagain", ["logs", "--no-log-prefix", "always"])
        #expect(try p.run(["stop", "always"]).status == 0)
        let afterStop = try p.run(["logs", "--no-log-prefix", "always"]).out
        usleep(700_000)
        #expect(try p.run(["logs", "--no-log-prefix", "always"]).out == afterStop, "a stopped `always` stays stopped")
        #expect(try p.run(["ps", "-a", "--status", "exited", "--services"]).out.contains("always"))
        // The stop signal reaches the program through our init, well before the grace period.
        _ = try p.waitFor("ready", ["logs", "graceful"])
        let started = Date()
        #expect(try p.run(["stop", "graceful"]).status == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try p.run(["logs", "--no-log-prefix", "graceful"]).out == "ready\nbye\n")
        #expect(try p.run(["ps", "-a"]).out.contains("Exited (3)"))
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func everyLineOfAFastWriterIsLoggedAndRotationKeepsTheNewest() throws {
        let p = try Project(
            """
            services:
              burst:
                image: busybox
                command: seq 1 100000
              rotated:
                image: busybox
                command: sh -c 'seq 1 20000; echo end'
                logging:
                  driver: json-file
                  options: {max-size: 64k, max-file: "3"}
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        _ = try p.waitFor("Exited (0)")
        _ = try p.waitFor("end", ["logs", "rotated"])
        var lines: [Substring] = []
        for _ in 0..<100 {
            lines = try p.run(["logs", "--no-log-prefix", "burst"]).out.split(separator: "\n")
            if lines.count >= 100_000 { break }
            usleep(100_000)
        }
        #expect(lines.count == 100_000)
        #expect(lines.first == "1" && lines.last == "100000")
        #expect(lines == (1...100_000).map { Substring(String($0)) })
        // Rotation: at most max-file files of at most max-size, the newest lines kept, in order.
        let dir = try FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers").first { id in
            (try? String(contentsOfFile: p.s.root + "/containers/\(id)/container.json", encoding: .utf8))?.contains("rotated") == true
        }
        let logs = try FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers/\(dir ?? "")")
            .filter { $0.hasPrefix("container.log") }
        #expect(logs.sorted() == ["container.log", "container.log.1", "container.log.2"])
        for name in logs {
            let size = try FileManager.default.attributesOfItem(atPath: p.s.root + "/containers/\(dir ?? "")/" + name)[.size] as? Int
            #expect((size ?? 0) <= 64 * 1024)
        }
        let kept = try p.run(["logs", "--no-log-prefix", "rotated"]).out.split(separator: "\n")
        #expect(kept.last == "end")
        #expect(kept.count > 1000 && kept.count < 20001)
        let numbers = kept.dropLast().compactMap { Int($0) }
        #expect(numbers == Array((20001 - numbers.count)...20000))
        let tail = try p.run(["logs", "--tail", "2", "-t", "rotated"]).out.split(separator: "\n")
        #expect(tail.count == 2)
        #expect(tail.last?.hasSuffix(" end") == true)
        #expect(tail.last?.contains("Z end") == true, "timestamps come first: \(tail)")
        #expect(try p.run(["logs", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z", "burst"]).out.isEmpty)
        #expect(try p.run(["logs", "--since", "1h", "--tail", "1", "burst"]).out.contains("100000"))
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func followSeesNewOutputAndEndsWithTheContainers() throws {
        let p = try Project(
            """
            services:
              ticker:
                image: busybox
                command: sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo tick $$i; sleep 0.2; done'
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        let out = Pipe()
        let follower = p.process(["logs", "-f", "ticker"], stdout: out)
        try follower.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        follower.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(follower.terminationStatus == 0)
        #expect(text.contains("ticker-1  | tick 1\n"), "\(text)")
        #expect(text.contains("ticker-1  | tick 15\n"), "follow sees lines written after it started: \(text)")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func aKilledShimLeavesAContainerThatDownCleansUp() throws {
        let p = try Project(
            """
            services:
              orphaned:
                image: busybox
                command: sleep 1000
              fine:
                image: busybox
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        let states = try Self.state(p)
        #expect(states.count == 2)
        guard let victim = states.first, let shim = victim["shimPid"] as? Int, let pid = victim["pid"] as? Int else {
            Issue.record("no state")
            return
        }
        #expect(kill(Int32(shim), SIGKILL) == 0)
        let ps = try p.waitFor("(unsupervised)", ["ps"])
        #expect(ps.contains("Up ") && ps.contains("(unsupervised)"), "\(ps)")
        try p.downAndCheckClean(pids: [Int32(pid)] + states.compactMap { ($0["pid"] as? Int).map(Int32.init) })
    }

    @Test(.enabled(if: canRun)) func upConvergesAfterBeingKilledAtAnyPoint() throws {
        let p = try Project(
            """
            services:
              a: {image: busybox, command: sleep 1000}
              b: {image: busybox, command: sleep 1000, depends_on: [a]}
              c: {image: busybox, command: sleep 1000, deploy: {replicas: 2}}
            """)
        for delay in [0, 5_000, 15_000, 30_000, 60_000, 120_000] {
            let up = p.process(["up", "-d"], stderr: FileHandle.nullDevice)
            try up.run()
            usleep(useconds_t(delay))
            kill(up.processIdentifier, SIGKILL)
            up.waitUntilExit()
            let again = try p.run(["up", "-d"])
            #expect(again.status == 0, "after a kill at \(delay) µs: \(again.err)")
            let names = try p.run(["ps", "--format", "json"]).out.split(separator: "\n")
            #expect(names.count == 4, "exactly one container per service replica, all running: \(names)")
            let all = try p.run(["ps", "-a", "-q"]).out.split(separator: "\n")
            #expect(all.count == 4)
            if delay == 30_000 { try p.downAndCheckClean() }
        }
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func createPauseTopWaitAndTty() throws {
        let p = try Project(
            """
            services:
              worker:
                image: busybox
                command: sh -c 'while true; do sleep 0.1; done'
              terminal:
                image: busybox
                tty: true
                command: sh -c 'tty; sleep 0.5; exit 4'
            """)
        #expect(try p.run(["create"]).status == 0)
        let created = try p.run(["ps", "-a"]).out
        #expect(created.contains("Created"), "\(created)")
        #expect(try p.run(["ps", "--format", "json", "-a"]).out.contains("\"State\":\"created\""))
        #expect(try p.run(["start"]).status == 0)
        #expect(try p.run(["pause", "worker"]).status == 0)
        #expect(try p.run(["ps"]).out.contains("(Paused)"))
        #expect(try p.run(["ps", "--format", "json"]).out.contains("\"State\":\"paused\""))
        #expect(try p.run(["unpause", "worker"]).status == 0)
        #expect(!(try p.run(["ps"]).out.contains("(Paused)")))
        let top = try p.run(["top", "worker"]).out
        #expect(top.hasPrefix("SERVICE  #  UID   PID"), "\(top)")
        #expect(top.contains("worker   1  root"))
        #expect(top.contains("sh -c while true; do sleep 0.1; done"))
        let wait = try p.run(["wait", "terminal"])
        #expect(wait.status == 4)
        #expect(wait.out.contains("exited with status code 4"))
        #expect(try p.run(["logs", "--no-log-prefix", "terminal"]).out.hasPrefix("/dev/pts/0"))
        let ls = try p.s.run(["ls", "-a"]).out
        #expect(ls.hasPrefix("NAME") && ls.contains(p.name) && ls.contains("running(1)") && ls.contains(p.file), "\(ls)")
        let images = try p.run(["images"]).out
        #expect(images.hasPrefix("CONTAINER"), "\(images)")
        #expect(images.contains("busybox") && images.contains("latest") && images.contains("linux/"))
        try p.downAndCheckClean()
    }

    func jsonString(_ s: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }

    @Test(.enabled(if: canRun)) func healthchecksDependencyConditionsAndWait() throws {
        let p = try Project(
            """
            services:
              db:
                image: busybox
                command: sh -c 'sleep 1; touch /tmp/ready; sleep 1000'
                healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, start_interval: 200ms, start_period: 10s, retries: 2}
                stop_grace_period: 1s
              cache:
                image: busybox
                command: sleep 1000
                healthcheck: {test: "true", interval: 1s}
                depends_on: {db: {condition: service_healthy}}
                stop_grace_period: 1s
              migrate:
                image: busybox
                command: sh -c 'echo migrated'
                depends_on: {cache: {condition: service_healthy}}
              app:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                depends_on:
                  migrate: {condition: service_completed_successfully}
              sick:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                profiles: [sick]
                healthcheck: {test: ["CMD-SHELL", "echo not well; exit 1"], interval: 1s, retries: 2, timeout: 1s}
            """)
        let started = Date()
        let up = try p.run(["up", "-d", "--wait", "app"])
        #expect(up.status == 0, "\(up.err)")
        #expect(Date().timeIntervalSince(started) < 15 * ImageCommandTests.timeScale)
        // Each waited for the one before: the order of their starts shows it.
        let order = ["db-1  Started", "cache-1  Started", "migrate-1  Started", "app-1  Started"].map {
            up.err.range(of: $0)?.lowerBound
        }
        #expect(order.allSatisfy { $0 != nil }, "\(up.err)")
        let indices = order.compactMap { $0 }
        #expect(indices == indices.sorted(), "\(up.err)")
        let ps = try p.run(["ps", "-a"]).out
        #expect(ps.contains("(healthy)"), "\(ps)")
        #expect(ps.contains("Exited (0)"))
        #expect(try p.run(["ps", "--format", "json", "db"]).out.contains("\"Health\":\"healthy\""))
        // An unhealthy container fails `up --wait`, with the probe's output kept.
        let sick = try p.run(["--profile", "sick", "up", "-d", "--wait", "--wait-timeout", "20", "sick"])
        #expect(sick.status != 0)
        #expect(sick.err.contains("sick-1 is unhealthy"), "\(sick.err)")
        #expect(try p.run(["--profile", "sick", "ps", "sick"]).out.contains("(unhealthy)"))
        let health = try FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers").compactMap {
            try? String(contentsOfFile: p.s.root + "/containers/\($0)/health.json", encoding: .utf8)
        }
        #expect(health.contains { $0.contains("not well") && $0.contains("\"exitCode\":1") })
        try p.run(["--profile", "sick", "down", "-t", "1"])
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func concurrentUpScaleAndOrphans() throws {
        let yaml = """
            services:
              a: {image: busybox, command: sleep 1000, stop_grace_period: 1s}
              b: {image: busybox, command: sleep 1000, stop_grace_period: 1s, deploy: {replicas: 2}}
            """
        let p = try Project(yaml)
        // Two `up` of one project at the same time: one set of containers.
        let ups = (0..<2).map { _ in p.process(["up", "-d"], stderr: FileHandle.nullDevice) }
        for up in ups { try up.run() }
        for up in ups { up.waitUntilExit() }
        #expect(ups.allSatisfy { $0.terminationStatus == 0 })
        #expect(try p.run(["ps", "-a", "-q"]).out.split(separator: "\n").count == 3)
        // Scale up and down: the highest numbers go.
        #expect(try p.run(["up", "-d", "--scale", "a=3"]).status == 0)
        #expect(try p.run(["ps", "-q", "a"]).out.split(separator: "\n").count == 3)
        let down = try p.run(["up", "-d", "--scale", "a=1"])
        #expect(down.err.contains("a-3  Removed") && down.err.contains("a-2  Removed"), "\(down.err)")
        #expect(try p.run(["ps", "--format", "json", "a"]).out.contains("\"Name\":\"\(p.name)-a-1\""))
        // A service gone from the file leaves orphans: a warning, then --remove-orphans.
        try ("name: \(p.name)\nservices:\n  a: {image: busybox, command: sleep 1000, stop_grace_period: 1s}\n")
            .write(toFile: p.file, atomically: true, encoding: .utf8)
        let warned = try p.run(["up", "-d"])
        #expect(warned.err.contains("Found orphan containers") && warned.err.contains("\(p.name)-b-1"), "\(warned.err)")
        #expect(try p.run(["ps", "-q"]).out.split(separator: "\n").count == 3, "orphans are left running")
        let removed = try p.run(["up", "-d", "--remove-orphans"])
        #expect(removed.err.contains("b-1  Removed") && removed.err.contains("b-2  Removed"), "\(removed.err)")
        #expect(try p.run(["ps", "-a", "-q"]).out.split(separator: "\n").count == 1)
        try p.downAndCheckClean()
    }

    /// `--dry-run up` prints the whole plan in order (networks, volumes, each service's waits and
    /// containers) and changes nothing; after a network's definition changes, it says the
    /// network is made again, and its containers (the orphan on it too) are made anew.
    @Test(.enabled(if: canRun)) func dryRunPrintsEveryOperationInOrder() throws {
        let compose = { (extra: String, labels: String) in
            """
            services:
              db:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                healthcheck: {test: ["CMD", "true"], interval: 1s}
                volumes: [data:/data]
                networks: [back]
              web:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                depends_on: {db: {condition: service_healthy}}
                networks: [back]
            \(extra)networks:
              back: {labels: {tier: "\(labels)"}}
            volumes:
              data: {}

            """
        }
        let p = try Project(compose("  old: {image: busybox, command: sleep 1000, stop_grace_period: 1s, networks: [back]}\n", "a"))
        func plan() throws -> [String] {
            let dry = try p.run(["--dry-run", "up", "-d"])
            #expect(dry.status == 0, "\(dry.err)")
            return dry.err.split(separator: "\n").map { String($0.dropFirst("DRY-RUN MODE - ".count)) }
        }
        let first = try plan()
        #expect(first == [
            "network create \(p.name)_back", "volume create \(p.name)_data", "service db",
            "  create \(p.name)-db-1", "service old", "  create \(p.name)-old-1", "service web after db(service_healthy)",
            "  wait db service_healthy", "  create \(p.name)-web-1",
        ], "\(first)")
        #expect(try p.run(["ps", "-a", "-q"]).out.isEmpty, "a dry run makes nothing")
        #expect(try p.run(["up", "-d"]).status == 0)
        try ("name: \(p.name)\n" + compose("", "b")).write(toFile: p.file, atomically: true, encoding: .utf8)
        let second = try plan()
        #expect(second == [
            "network recreate \(p.name)_back (config changed)", "service db", "  create \(p.name)-db-1",
            "service web after db(service_healthy)", "  wait db service_healthy", "  create \(p.name)-web-1",
        ], "\(second)")
        #expect(try p.run(["up", "-d", "--remove-orphans"]).status == 0)
        // --progress: Compose's JSON writer's objects, or nothing.
        let json = try p.run(["--progress", "json", "restart", "-t", "1", "web"])
        #expect(json.err == "{\"id\":\"Container \(p.name)-web-1\",\"text\":\"Restarting\"}\n{\"id\":\"Container \(p.name)-web-1\",\"text\":\"Started\"}\n", "\(json.err)")
        let quiet = try p.run(["--progress", "quiet", "restart", "-t", "1", "web"])
        #expect(quiet.status == 0 && quiet.err.isEmpty, "\(quiet.err)")
        try p.downAndCheckClean()
        _ = try p.run(["down", "-v"])
    }

    /// Ctrl-C during `up -d`: the wait for a dependency ends, nothing more is started, and the
    /// command exits with 130; what started stays for `down`.
    @Test(.enabled(if: canRun)) func interruptedUpStartsNothingMore() throws {
        let p = try Project(
            """
            services:
              db:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1000}
              web:
                image: busybox
                command: sleep 1000
                depends_on: {db: {condition: service_healthy}}
            """)
        let err = Pipe()
        let up = p.process(["up", "-d"], stdout: FileHandle.nullDevice, stderr: err)
        try up.run()
        _ = try p.waitFor("Up ", ["ps", "db"])
        usleep(500_000)
        kill(up.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        up.waitUntilExit()
        #expect(up.terminationStatus == 130, "\(text)")
        #expect(text.contains("Gracefully stopping"), "\(text)")
        #expect(!text.contains("web-1  Created"), "\(text)")
        let names = try p.run(["ps", "-a", "--format", "{{.Service}}"]).out
        #expect(names == "db\n", "only db was made: \(names)")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func attachedUpExitCodeFromAndInterrupt() throws {
        let p = try Project(
            """
            services:
              web:
                image: busybox
                init: true
                command: sh -c 'trap "echo web stopping; exit 0" TERM; echo web up; while true; do sleep 0.1; done'
              tests:
                image: busybox
                command: sh -c 'echo running tests; sleep 0.5; exit 3'
            """)
        let run = try p.run(["up", "--exit-code-from", "tests", "--no-color"])
        #expect(run.status == 3, "the test container's code: \(run.err)")
        #expect(run.out.hasPrefix("Attaching to tests-1, web-1\n"), "\(run.out)")
        #expect(run.out.contains("tests-1  | running tests\n") && run.out.contains("web-1    | web up\n"))
        #expect(run.out.contains("tests-1 exited with code 3\n"))
        #expect(run.out.contains("web-1    | web stopping\n"), "the others are stopped")
        #expect(try p.run(["ps"]).out.split(separator: "\n").count == 1, "nothing runs any more")
        // Ctrl-C: everything stops gracefully, exit 0, and only this run's output is shown.
        let out = Pipe()
        let up = p.process(["up", "web"], stdout: out, stderr: FileHandle.nullDevice)
        try up.run()
        _ = try p.waitFor("Up ", ["ps", "web"])
        usleep(300_000)
        kill(up.processIdentifier, SIGINT)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        up.waitUntilExit()
        #expect(up.terminationStatus == 0)
        #expect(text.hasPrefix("Attaching to web-1\n"), "\(text)")
        #expect(text.components(separatedBy: "web up").count == 2, "one run's output: \(text)")
        #expect(text.contains("web-1 exited with code 0"))
        #expect(try p.run(["ps"]).out.split(separator: "\n").count == 1)
        try p.downAndCheckClean()
    }
}
