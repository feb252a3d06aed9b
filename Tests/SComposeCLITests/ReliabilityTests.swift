// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Faults a daemonless tool must survive (RELIABILITY.md §9, §11): damaged state files and a
/// host port already taken.
@Suite(.serialized) struct ReliabilityTests {
    static var canRun: Bool { ComposeRunTests.canRun }
    typealias Project = RuntimeBehaviourTests.Project

    static let twoSleepers = """
        services:
          a: {image: busybox, command: sleep 1000, stop_grace_period: 1s}
          b: {image: busybox, command: sleep 1000, stop_grace_period: 1s}
        """

    /// Each state file of a running container damaged in turn (emptied, cut, not JSON, a link
    /// to /etc/shadow): `ps` still lists both containers and names the file, and `down`
    /// stops and removes everything, leaving no process, mount, cgroup or bridge.
    @Test(.enabled(if: canRun), arguments: ["container.json", "state.json", "spec.json"])
    func damagedContainerStateFiles(file: String) throws {
        for damage in ["empty", "cut", "garbage", "link"] {
            let p = try Project(Self.twoSleepers)
            let up = try p.run(["up", "-d"])
            #expect(up.status == 0, "\(up.err)")
            let id = try p.run(["ps", "-q", "a"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
            let dir = p.s.root + "/containers/" + id
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/state.json"))) as? [String: Any]
            let pids = ["pid", "shimPid"].compactMap { (state?[$0] as? NSNumber)?.int32Value }
            #expect(pids.count == 2)
            let path = dir + "/" + file
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            try FileManager.default.removeItem(atPath: path)
            switch damage {
            case "empty": _ = FileManager.default.createFile(atPath: path, contents: Data())
            case "cut": _ = FileManager.default.createFile(atPath: path, contents: original.prefix(original.count / 2))
            case "garbage": _ = FileManager.default.createFile(atPath: path, contents: Data("xx{".utf8))
            default: try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/etc/shadow")
            }
            let ps = try p.run(["ps", "-a"])
            #expect(ps.status == 0, "\(file) \(damage): \(ps.err)")
            #expect(ps.out.contains("\(p.name)-a-1") && ps.out.contains("\(p.name)-b-1"), "\(file) \(damage): \(ps.out)")
            if file != "spec.json" {
                #expect(ps.err.contains(file) && ps.out.contains("Up"), "\(file) \(damage): \(ps.out) \(ps.err)")
            }
            try p.downAndCheckClean(pids: pids)
        }
    }

    /// A damaged image index or volume record is an error that names its file, and touches
    /// nothing else: the project still goes down.
    @Test(.enabled(if: canRun)) func damagedStoreFilesAreNamed() throws {
        let p = try Project(
            """
            services:
              a: {image: busybox, command: sleep 1000, stop_grace_period: 1s, volumes: [data:/data]}
            volumes:
              data: {}
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        let index = p.s.root + "/images/index.json"
        let saved = try Data(contentsOf: URL(fileURLWithPath: index))
        try Data("{\"images\": [".utf8).write(to: URL(fileURLWithPath: index))
        let recreate = try p.run(["up", "-d", "--force-recreate"])
        #expect(recreate.status != 0 && recreate.err.contains(index), "\(recreate.err)")
        #expect(try p.run(["ps"]).out.contains("\(p.name)-a-1"), "the running container is left alone")
        try saved.write(to: URL(fileURLWithPath: index))
        let volumes = (try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/volumes")) ?? []
        let volume = volumes.first { $0.hasSuffix("_data") } ?? ""
        try Data("not json".utf8).write(to: URL(fileURLWithPath: p.s.root + "/volumes/\(volume)/volume.json"))
        let ls = try p.s.run(["volume", "ls"])
        #expect(ls.status == 0, "\(ls.err)")
        let down = try p.run(["down", "-v"])
        #expect(down.status == 0, "\(down.err)")
        #expect(try p.run(["ps", "-a", "-q"]).out.isEmpty)
    }

    /// What a reboot does to a project, short of rebooting: its running containers and their
    /// shims killed, every cgroup, port table, bridge and network table of it gone.
    static func simulateReboot(_ p: Project) throws {
        let containers = p.s.root + "/containers"
        let running = try p.run(["ps", "-q"]).out.split(separator: "\n").map(String.init)
        for id in running {
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(containers)/\(id)/state.json"))) as? [String: Any]
            for key in ["shimPid", "pid"] {
                if let pid = (state?[key] as? NSNumber)?.int32Value { kill(pid, SIGKILL) }
            }
        }
        usleep(300_000)
        for id in try FileManager.default.contentsOfDirectory(atPath: containers).filter({ $0.count == 64 }) {
            for controller in ["memory", "pids", "cpu", "cpuacct", "cpuset", "freezer", "devices", "blkio"] {
                rmdir("/sys/fs/cgroup/\(controller)/scompose/\(id)")
            }
            rmdir("/sys/fs/cgroup/scompose/\(id)")
            for family in ["ip", "ip6"] { _ = try p.s.run(["delete", "table", family, "scompose-p-" + id.prefix(12)], tool: "/usr/sbin/nft") }
        }
        for n in ImageCommandTests.Sandbox.networks(root: p.s.root) {
            #expect(try p.s.run(["link", "del", n.bridge], tool: "/usr/sbin/ip").status == 0)
            for family in ["ip", "ip6"] { _ = try p.s.run(["delete", "table", family, n.table], tool: "/usr/sbin/nft") }
        }
    }

    /// `boot` after a reboot: what the restart policies ask for starts again (`always`, also
    /// after a manual stop; `unless-stopped` that was running), dependencies first and waited
    /// for when `service_healthy`; `restart: no` and a manually stopped `unless-stopped` stay
    /// down. `boot --install` writes and enables a systemd unit, `--uninstall` removes it.
    @Test(.enabled(if: canRun)) func bootStartsWhatTheRestartPoliciesAskForInDependencyOrder() throws {
        let port = RegistryTests.LocalRegistry.freePort()
        let p = try Project(
            """
            services:
              db:
                image: busybox
                command: [sh, -c, "rm -f /tmp/ready; sleep 1; touch /tmp/ready; exec sleep 1000"]
                restart: unless-stopped
                stop_signal: SIGKILL
                healthcheck: {test: [CMD, test, -e, /tmp/ready], interval: 300ms, retries: 20}
              web:
                image: busybox
                command: [httpd, -f, -p, "80", -h, /etc]
                restart: always
                stop_signal: SIGKILL
                ports: ["\(port):80"]
                depends_on: {db: {condition: service_healthy}}
              worker: {image: busybox, command: sleep 1000, stop_signal: SIGKILL}
              manual: {image: busybox, command: sleep 1000, restart: unless-stopped, stop_signal: SIGKILL}
              pinned: {image: busybox, command: sleep 1000, restart: always, stop_signal: SIGKILL}
            """)
        let up = try p.run(["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        #expect(try p.run(["stop", "manual", "pinned"]).status == 0)
        try Self.simulateReboot(p)
        let boot = try p.s.run(["boot"])
        #expect(boot.status == 0, "\(boot.err)")
        let states = try p.run(["ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}"]).out
        #expect(states == "db running 0\nmanual exited 137\npinned running 0\nweb running 0\nworker exited 255\n", "\(states)")
        // db first, and web only once db is healthy.
        let lines = boot.err.split(separator: "\n").map(String.init)
        let dbStarted = lines.firstIndex { $0.contains("\(p.name)-db-1  Started") }
        let webStarting = lines.firstIndex { $0.contains("\(p.name)-web-1  Starting") }
        #expect(dbStarted != nil && webStarting != nil && dbStarted! < webStarting!, "\(boot.err)")
        #expect(boot.err.contains("\(p.name)-web-1  Waiting for \(p.name)-db-1"), "\(boot.err)")
        let fetch = try p.s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/passwd"], tool: "/bin/busybox")
        #expect(fetch.out.hasPrefix("root:"), "the published port answers again: \(fetch.out) \(fetch.err)")
        #expect(try p.s.run(["boot"]).err.isEmpty, "a second boot has nothing to do")
        // The unit, in a directory of the test's own.
        let units = p.s.dir + "/units"
        let install = try p.s.run(["boot", "--install", "--unit-dir", units])
        #expect(install.status == 0, "\(install.err)")
        let unit = try String(contentsOfFile: units + "/scompose-boot.service", encoding: .utf8)
        #expect(unit.contains("Environment=SCOMPOSE_ROOT=\(p.s.root)\n") && unit.contains("scompose boot\n") && unit.contains("WantedBy=multi-user.target"), "\(unit)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: units + "/multi-user.target.wants/scompose-boot.service") == units + "/scompose-boot.service")
        #expect(try p.s.run(["boot", "--uninstall", "--unit-dir", units]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: units + "/scompose-boot.service"))
        // `start`, as Compose's, starts dependencies first too.
        #expect(try p.run(["stop"]).status == 0)
        let start = try p.run(["start", "web", "db"]).err
        let db = start.range(of: "\(p.name)-db-1  Started"), web = start.range(of: "\(p.name)-web-1  Starting")
        #expect(db != nil && web != nil && db!.lowerBound < web!.lowerBound, "\(start)")
        try p.downAndCheckClean()
    }

    /// What a reboot leaves (RELIABILITY.md §8), short of rebooting: every shim and container
    /// killed, their cgroups, bridges and nftables tables gone. The containers show as
    /// `Exited (255)`, as Docker shows them after a reboot; `start` and `up -d` start the same
    /// containers again (their writable layers kept) with the networks and published port, and
    /// `down` cleans up.
    @Test(.enabled(if: canRun)) func projectComesBackAfterASimulatedReboot() throws {
        let port = RegistryTests.LocalRegistry.freePort()
        let p = try Project(
            """
            services:
              web: {image: busybox, command: [httpd, -f, -p, "80", -h, /etc], ports: ["\(port):80"], restart: always, stop_grace_period: 1s}
              worker: {image: busybox, command: sleep 1000, stop_grace_period: 1s}
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        #expect(try p.run(["exec", "-T", "worker", "sh", "-c", "echo kept > /kept"]).status == 0)
        let containers = p.s.root + "/containers"
        let ids = try FileManager.default.contentsOfDirectory(atPath: containers).filter { $0.count == 64 }
        #expect(ids.count == 2)
        try Self.simulateReboot(p)
        let ps = try p.run(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.ExitCode}}"])
        #expect(ps.status == 0 && ps.out == "\(p.name)-web-1 exited 255\n\(p.name)-worker-1 exited 255\n", "\(ps.out) \(ps.err)")
        #expect(try p.run(["ps", "-a"]).out.contains("Exited (255)"))
        let start = try p.run(["start", "worker"])
        #expect(start.status == 0, "\(start.err)")
        #expect(try p.run(["exec", "-T", "worker", "cat", "/kept"]).out == "kept\n", "the same container, its writable layer kept")
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0 && !up.err.contains("Recreate"), "\(up.err)")
        let after = try p.run(["ps"]).out
        #expect(after.contains("\(p.name)-web-1") && after.contains("\(p.name)-worker-1"), "\(after)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: containers).filter { $0.count == 64 }.sorted() == ids.sorted())
        let fetch = try p.s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/passwd"], tool: "/bin/busybox")
        #expect(fetch.out.hasPrefix("root:"), "the published port answers again: \(fetch.out) \(fetch.err)")
        try p.downAndCheckClean()
    }

    /// Soak (RELIABILITY.md §11): `up`/`down` cycles leave the machine as they found it:
    /// links, nftables tables, mounts, cgroups and processes back to where they started
    /// (scompose has no process of its own left to leak descriptors).
    @Test(.enabled(if: canRun)) func upDownCyclesLeaveNothingBehind() throws {
        let port = RegistryTests.LocalRegistry.freePort()
        let p = try Project(
            """
            services:
              web: {image: busybox, command: [httpd, -f, -p, "80"], ports: ["\(port):80"], stop_signal: SIGKILL}
              worker: {image: busybox, command: sleep 1000, stop_signal: SIGKILL, depends_on: [web]}
            """)
        // Only what this project makes is counted (other tests may run beside this one): the
        // kernel objects of the networks and containers its state root has held, gathered
        // while it is up.
        var names: Set<String> = []
        var containerIDs: Set<String> = []
        func remember() {
            names.formUnion(NetworkTests.kernelNames(of: p.s))
            for id in (try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers")) ?? [] where id.count == 64 {
                containerIDs.insert(id)
            }
        }
        func snapshot() throws -> [String: Int] {
            let links = try FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")
            let tables = try p.s.run(["list", "tables"], tool: "/usr/sbin/nft").out
            let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
            let cgroups = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/scompose")) ?? []
            let processes = try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { $0.allSatisfy(\.isNumber) }
            let shims = processes.filter {
                ((try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? "").contains(p.s.root)
            }
            return [
                "links": links.filter { link in names.contains { link.hasPrefix($0) } }.count,
                "tables": names.filter { $0.hasPrefix("scompose-") && tables.contains($0) }.count,
                "mounts": mounts.components(separatedBy: p.s.root).count - 1,
                "cgroups": cgroups.filter { containerIDs.contains($0) }.count, "shims": shims.count,
            ]
        }
        let before = try snapshot()
        for cycle in 0..<20 {
            let up = try p.run(["up", "-d"])
            #expect(up.status == 0, "cycle \(cycle): \(up.err)")
            remember()
            if cycle == 0 { #expect(try snapshot() != before, "the project shows while it runs") }
            let down = try p.run(["down"])
            #expect(down.status == 0, "cycle \(cycle): \(down.err)")
        }
        let after = try snapshot()
        #expect(after == before, "before \(before), after \(after)")
        try p.downAndCheckClean()
    }

    /// A disk the container's logs fill: the container runs on, lines that do not fit are
    /// dropped and counted in one line once space is back, logging resumes, and the exit code
    /// is recorded (RELIABILITY.md §4).
    @Test(.enabled(if: canRun)) func diskFullKeepsTheContainerAndItsExitCode() throws {
        let p = try Project(
            """
            services:
              a:
                image: busybox
                command:
                  - sh
                  - -c
                  - i=0; while [ $$i -lt 40000 ]; do echo line $$i; i=$$((i+1)); done; touch /tmp/flooded;
                    while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after; exit 3
            """)
        // The containers' directory (logs, state) on a 1 MiB file system of its own.
        let containers = p.s.root + "/containers"
        try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
        #expect(try p.s.run(["-t", "tmpfs", "-o", "size=1m", "tmpfs", containers], tool: "/bin/mount").status == 0)
        defer { _ = try? p.s.run(["-l", containers], tool: "/bin/umount") }
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        var flooded = false
        for _ in 0..<200 where !flooded {
            flooded = try p.run(["exec", "-T", "a", "test", "-e", "/tmp/flooded"]).status == 0
            if !flooded { usleep(50_000) }
        }
        #expect(flooded)
        #expect(try p.run(["ps"]).out.contains("Up"), "the container runs on")
        // Space comes back: the next line goes in, after the count of those lost.
        #expect(try p.s.run(["-o", "remount,size=16m", containers], tool: "/bin/mount").status == 0)
        #expect(try p.run(["exec", "-T", "a", "touch", "/tmp/go"]).status == 0)
        let exited = try p.waitFor("Exited (3)")
        #expect(exited.contains("Exited (3)"), "\(exited)")
        let logs = try p.run(["logs", "--no-log-prefix", "a"])
        let lines = logs.out.split(separator: "\n")
        #expect(lines.first == "line 0" && lines.last == "after", "\(lines.prefix(2)) … \(lines.suffix(3))")
        #expect(lines.filter { $0.contains("dropped: no space left on device") }.count == 1, "\(lines.suffix(3))")
        #expect(logs.err.count < 1000, "scompose itself stays quiet: \(logs.err.prefix(300))")
        #expect(try p.run(["down"]).status == 0)
        #expect(try p.s.run([containers], tool: "/bin/umount").status == 0)
        try p.downAndCheckClean()
    }

    /// A published port something else holds: a clear error, and `up` leaves no container
    /// running and no rule; `down` then leaves nothing.
    @Test(.enabled(if: canRun)) func hostPortAlreadyInUse() throws {
        let port = RegistryTests.LocalRegistry.freePort()
        let holder = try RegistryTests.Server("/usr/bin/python3", ["-m", "http.server", "--bind", "0.0.0.0", String(port)], port: port)
        let p = try Project("services:\n  web: {image: busybox, command: sleep 1000, ports: [\"\(port):80\"]}\n")
        let up = try p.run(["up", "-d"])
        #expect(up.status != 0, "\(up.out)")
        #expect(up.err.contains("\(port)") && up.err.contains("already"), "\(up.err)")
        #expect(!(try p.run(["ps"]).out.contains("\(p.name)-web-1")), "nothing runs")
        let tables = try p.s.run(["list", "tables"], tool: "/usr/sbin/nft").out
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers")) ?? []
        for id in ids where id.count == 64 {
            #expect(!tables.contains("scompose-p-" + id.prefix(12)), "no port rules for \(id)")
        }
        try p.downAndCheckClean()
        _ = holder
    }
}
