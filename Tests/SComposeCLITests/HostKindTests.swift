// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// What differs between the kinds of host scompose runs on: cgroup v1 (this development
/// machine) and v2, with and without systemd as PID 1 (the Debian VM of `scripts/vm-test.sh`).
/// Each test says what it needs; the VM run gives the v2 and systemd answers.
@Suite(.serialized) struct HostKindTests {
    typealias Project = RuntimeBehaviourTests.Project

    static var canRun: Bool { ComposeRunTests.canRun }
    static var cgroupV2: Bool { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") }
    static var systemdIsInit: Bool {
        cgroupV2 && FileManager.default.fileExists(atPath: "/run/systemd/system")
            && ((try? String(contentsOfFile: "/proc/1/comm", encoding: .utf8)) ?? "").hasPrefix("systemd")
    }

    /// Limits are written as Docker writes them and read back inside the container at
    /// /sys/fs/cgroup (its own cgroup namespace on v2, bound hierarchies on v1).
    @Test(.enabled(if: canRun)) func limitsAreVisibleInside() throws {
        let p = try Project(
            """
            services:
              limited:
                image: busybox
                mem_limit: 64m
                memswap_limit: 96m
                cpus: 0.5
                cpu_shares: 512
                pids_limit: 50
                blkio_config:
                  weight: 300
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d", "--wait"]).status == 0)
        func inside(_ files: String) throws -> String {
            try p.run(["exec", "-T", "limited", "sh", "-c", "cat \(files) 2>/dev/null"]).out
        }
        if Self.cgroupV2 {
            #expect(try inside("/proc/self/cgroup") == "0::/\n", "the container sees its cgroup as /")
            #expect(try inside("/sys/fs/cgroup/memory.max") == "67108864\n")
            #expect(try inside("/sys/fs/cgroup/cpu.max") == "50000 100000\n")
            #expect(try inside("/sys/fs/cgroup/cpu.weight") == "20\n", "512 shares, as runc converts them")
            #expect(try inside("/sys/fs/cgroup/pids.max") == "50\n")
            let swap = try inside("/sys/fs/cgroup/memory.swap.max")
            #expect(swap.isEmpty || swap == "33554432\n", "swap = memswap_limit - mem_limit: \(swap)")
            // Where the kernel has an I/O weight: BFQ's takes it as it is, io.weight converted.
            let bfq = try inside("/sys/fs/cgroup/io.bfq.weight")
            let io = try inside("/sys/fs/cgroup/io.weight")
            #expect(bfq.hasPrefix("default 300") || bfq.hasPrefix("300") || (bfq.isEmpty && (io.isEmpty || io.hasPrefix("default 2930"))), "\(bfq) \(io)")
        } else {
            #expect(try inside("/sys/fs/cgroup/memory/memory.limit_in_bytes") == "67108864\n")
            #expect(try inside("/sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us") == "50000\n")
            #expect(try inside("/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu,cpuacct/cpu.shares") == "512\n")
            #expect(try inside("/sys/fs/cgroup/pids/pids.max") == "50\n")
        }
        try p.downAndCheckClean()
    }

    /// A service's `devices:` is allowed by the device cgroup (v1 rules, v2's eBPF program), for
    /// the service's process and an exec'd one; the same node made with mknod by another
    /// service stays refused.
    @Test(.enabled(if: canRun && FileManager.default.fileExists(atPath: "/dev/fuse"))) func givenDevicesOpenOthersDoNot() throws {
        let p = try Project(
            """
            services:
              given:
                image: busybox
                devices: ["/dev/fuse:/dev/fuse:rw"]
                command: sh -c '(exec 3<>/dev/fuse) && echo opened; exec sleep 1000'
              other:
                image: busybox
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d", "--wait"]).status == 0)
        #expect(try p.run(["logs", "--no-log-prefix", "given"]).out == "opened\n")
        #expect(try p.run(["exec", "-T", "given", "sh", "-c", "(exec 3<>/dev/fuse) && echo opened"]).out == "opened\n")
        let refused = try p.run(["exec", "-T", "other", "sh", "-c", "mknod /dev/f c 10 229 && (exec 3<>/dev/f) 2>/dev/null || echo refused"])
        #expect(refused.out == "refused\n", "\(refused)")
        try p.downAndCheckClean()
    }

    /// Containers that share a network namespace (another service's, or the host's) bind the
    /// host's /sys: they start, and see their own cgroup, on v1 and v2 alike.
    @Test(.enabled(if: canRun)) func sharedNetworkNamespacesStart() throws {
        let p = try Project(
            """
            services:
              web:
                image: busybox
                command: sleep 1000
              side:
                image: busybox
                network_mode: service:web
                pids_limit: 42
                command: sleep 1000
              hostnet:
                image: busybox
                network_mode: host
                pids_limit: 43
                command: sleep 1000
            """)
        let up = try p.run(["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        let pidsFile = Self.cgroupV2 ? "/sys/fs/cgroup/pids.max" : "/sys/fs/cgroup/pids/pids.max"
        #expect(try p.run(["exec", "-T", "side", "cat", pidsFile]).out == "42\n")
        #expect(try p.run(["exec", "-T", "hostnet", "cat", pidsFile]).out == "43\n")
        if Self.cgroupV2 {
            #expect(try p.run(["exec", "-T", "side", "cat", "/proc/self/cgroup"]).out == "0::/\n")
        }
        try p.downAndCheckClean()
    }

    /// A container over its memory limit is killed by the kernel and reported as Docker does:
    /// exit code 137 and an `oom` event, whatever the cgroup version.
    @Test(.enabled(if: canRun)) func anOOMKillIsReported() throws {
        let p = try Project(
            """
            services:
              hungry:
                image: busybox
                mem_limit: 32m
                memswap_limit: 32m
                command: sh -c 'sleep 0.5; x=$$(head -c 200000000 /dev/zero | tr "\\\\0" a); echo survived'
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        let ps = try p.waitFor("Exited (137)")
        #expect(ps.contains("Exited (137)"), "\(ps)")
        #expect(!(try p.run(["logs", "hungry"]).out.contains("survived")))
        let events = try p.run(["events", "--json", "--since", "5m", "--until", "0s"]).out
        #expect(events.contains("\"action\":\"oom\""), "\(events)")
        let exit = try String(contentsOfFile: p.s.root + "/containers/" + (try FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers").first ?? "") + "/exit.json", encoding: .utf8)
        #expect(exit.contains("\"oomKilled\":true"), "OOMKilled, as Docker's inspect says: \(exit)")
        try p.downAndCheckClean()
    }

    /// Where AppArmor is enabled: `scompose-default` unless the service names a loaded profile
    /// or `unconfined`; a profile that is not loaded is a clear error that creates nothing.
    @Test(.enabled(if: canRun && RuntimeBehaviourTests.hostHasAppArmor, "AppArmor is not enabled here (the VM run covers it)"))
    func appArmorProfiles() throws {
        let p = try Project(
            """
            services:
              confined:
                image: busybox
                command: sleep 1000
              free:
                image: busybox
                security_opt: ["apparmor=unconfined"]
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d", "--wait"]).status == 0)
        #expect(try p.run(["exec", "-T", "confined", "cat", "/proc/1/attr/current"]).out == "scompose-default (enforce)\n")
        #expect(try p.run(["exec", "-T", "free", "cat", "/proc/1/attr/current"]).out == "unconfined\n")
        try p.downAndCheckClean()
        let q = try Project(
            """
            services:
              odd:
                image: busybox
                security_opt: ["apparmor=no-such-profile"]
                command: sleep 1000
            """)
        let up = try q.run(["up", "-d"])
        #expect(up.status != 0 && up.err.contains("AppArmor profile \"no-such-profile\" is not loaded"), "\(up.err)")
        #expect(try q.run(["ps", "-a", "-q"]).out.isEmpty, "nothing created")
        try q.downAndCheckClean()
    }

    /// Under systemd, each container is in a delegated scope of its own, named after it; a
    /// `daemon-reload` and a restart of another unit leave it running, in that cgroup, with
    /// its limits; `down` leaves no scope.
    @Test(.enabled(if: canRun && systemdIsInit, "systemd is not PID 1 with cgroup v2 here (the VM run covers it)"))
    func systemdLeavesContainersAlone() throws {
        let p = try Project(
            """
            services:
              steady:
                image: busybox
                mem_limit: 48m
                command: sleep 1000
            """)
        #expect(try p.run(["up", "-d", "--wait"]).status == 0)
        let pid = try #require(RuntimeBehaviourTests.state(p).first?["pid"] as? Int)
        let cgroup = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        #expect(cgroup.hasPrefix("0::/scompose.slice/scompose-\(p.name)-steady-1-") && cgroup.hasSuffix(".scope/container\n"), "\(cgroup)")
        let tree = try p.s.run(["--no-pager", "/scompose.slice"], tool: "/usr/bin/systemd-cgls").out
        #expect(tree.contains("scompose-\(p.name)-steady-1-"), "systemd-cgls names the container: \(tree)")
        for command in [["daemon-reload"], ["restart", "systemd-journald"]] {
            let r = try p.s.run(command, tool: "/usr/bin/systemctl")
            #expect(r.status == 0, "systemctl \(command): \(r.err)")
        }
        usleep(500_000)
        #expect(kill(Int32(pid), 0) == 0, "the container's process lives on")
        #expect(try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) == cgroup, "in the same cgroup")
        let dir = "/sys/fs/cgroup" + String(cgroup.dropFirst(3).dropLast())
        #expect(try String(contentsOfFile: dir + "/memory.max", encoding: .utf8) == "50331648\n", "with its limit")
        #expect(try p.run(["ps", "--status", "running", "--services"]).out == "steady\n")
        try p.downAndCheckClean()
        let unit = String(cgroup.split(separator: "/")[2])
        var gone = false
        for _ in 0..<50 where !gone {
            gone = !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/scompose.slice/" + unit)
            usleep(100_000)
        }
        #expect(gone, "the scope \(unit) is gone after down")
    }
}
