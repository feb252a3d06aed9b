// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import SComposeRuntime

@Suite struct CgroupLayoutTests {
    @Test func hybridV1() {
        let text = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        guard case .v1(let controllers, let unified)? = CgroupLayout.detect(mountinfo: text) else {
            Issue.record("not v1")
            return
        }
        #expect(controllers["memory"] == "/sys/fs/cgroup/memory")
        #expect(controllers["pids"] == "/sys/fs/cgroup/pids")
        #expect(unified == "/sys/fs/cgroup/unified")
    }

    @Test func pureV2() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
        #expect(CgroupLayout.detect(mountinfo: text) == .v2("/sys/fs/cgroup"))
        #expect(CgroupLayout.detect(mountinfo: "1 0 0:1 / / rw - ext4 /dev/vda rw\n") == nil)
    }

    /// Where a process exec'd into a container writes itself: each hierarchy the container's
    /// init is in, at its path there; named hierarchies and the hybrid unified one are left out.
    @Test func execJoinsTheInitsCgroups() {
        let v1 = CgroupLayout.v1(
            controllers: [
                "memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids", "cpu": "/sys/fs/cgroup/cpu,cpuacct",
                "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
            ], unified: "/sys/fs/cgroup/unified")
        let membership = """
            12:pids:/scompose/abc
            9:cpu,cpuacct:/scompose/abc
            7:devices:/scompose/abc
            5:freezer:/scompose/abc
            4:memory:/scompose/abc
            3:net_cls,net_prio:/
            1:name=systemd:/user.slice
            0::/user.slice/odd:path
            """
        #expect(
            Cgroup.procsFiles(membership: membership, layout: v1) == [
                "/sys/fs/cgroup/pids/scompose/abc/cgroup.procs", "/sys/fs/cgroup/cpu,cpuacct/scompose/abc/cgroup.procs",
                "/sys/fs/cgroup/devices/scompose/abc/cgroup.procs", "/sys/fs/cgroup/freezer/scompose/abc/cgroup.procs",
                "/sys/fs/cgroup/memory/scompose/abc/cgroup.procs",
            ])
        let v2 = CgroupLayout.v2("/sys/fs/cgroup")
        #expect(Cgroup.procsFiles(membership: "0::/scompose.slice/scompose-abc.scope\n", layout: v2) == [
            "/sys/fs/cgroup/scompose.slice/scompose-abc.scope/cgroup.procs"
        ])
        #expect(Cgroup.procsFiles(membership: "0::/\n", layout: v2) == ["/sys/fs/cgroup/cgroup.procs"])
        #expect(Cgroup.procsFiles(membership: "garbage\n", layout: v2).isEmpty)
    }

    @Test func blkioToIOWeight() {
        #expect(Cgroup.ioWeight(fromBlkio: 10) == 1)
        #expect(Cgroup.ioWeight(fromBlkio: 300) == 2930)
        #expect(Cgroup.ioWeight(fromBlkio: 500) == 4950)
        #expect(Cgroup.ioWeight(fromBlkio: 1000) == 10000)
    }

    @Test func sharesToWeight() {
        #expect(Cgroup.weight(fromShares: 1024) == 39)
        #expect(Cgroup.weight(fromShares: 2) == 1)
        #expect(Cgroup.weight(fromShares: 262_144) == 10000)
    }
}

@Suite(.serialized) struct CgroupRunTests {
    static var canRun: Bool { ContainerRunTests.canRun && CgroupLayout.current() != nil }

    @Test(.enabled(if: canRun)) func limitsAndOOM() throws {
        let layout = try #require(CgroupLayout.current())
        let cgroup = Cgroup(layout: layout, path: "scompose-test/\(UUID().uuidString.prefix(12))")
        try cgroup.create()
        defer { try? cgroup.remove() }
        try cgroup.apply(Resources(memory: 32 << 20, memorySwap: 32 << 20, cpus: 0.5, pids: 64))
        let box = try ContainerRunTests.Box()
        // A shell variable of 48 MB: more than the limit allows.
        var c = box.config("sleep 0.3; x=$(busybox head -c 48000000 /dev/zero | busybox tr '\\0' a); echo survived")
        c.hostname = "oom"
        var fds: [Int32] = [-1, -1]
        pipe(&fds)
        let pid = try Launcher.spawn(InitPlan.compile(c), stdio: .init(stdout: fds[1], stderr: fds[1])) { pid in
            try cgroup.add(pid)
        }
        close(fds[1])
        #expect(cgroup.processes().contains(pid))
        var buffer = [UInt8](repeating: 0, count: 4096)
        var out = ""
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            out += String(decoding: buffer[0..<n], as: UTF8.self)
        }
        close(fds[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(!out.contains("survived"))
        #expect(cgroup.oomKilled())
        #expect(cgroup.processes().isEmpty)
        if case .v1(let controllers, _) = layout, let memory = controllers["memory"] {
            let limit = try String(contentsOfFile: memory + "/" + cgroup.path + "/memory.limit_in_bytes", encoding: .utf8)
            #expect(limit.trimmingCharacters(in: .whitespacesAndNewlines) == String(32 << 20))
        }
        try cgroup.remove()
        for (_, dir) in cgroup.directories { #expect(!FileManager.default.fileExists(atPath: dir)) }
        for (_, dir) in cgroup.directories { rmdir((dir as NSString).deletingLastPathComponent) }
    }
}
