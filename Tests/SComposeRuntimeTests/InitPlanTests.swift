// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOCI
import Testing

@testable import SComposeRuntime

@Suite struct InitPlanTests {
    func config() -> ContainerConfig {
        var c = ContainerConfig(
            layers: ["/s/l1", "/s/l2"], upperDir: "/c/upper", workDir: "/c/work", rootDir: "/c/root",
            args: ["/bin/sh", "-c", "true"], env: ["PATH=/bin"])
        c.hostname = "web"
        c.fileBinds = [.init(source: "/c/hosts", target: "/etc/hosts")]
        return c
    }

    @Test func order() throws {
        let text = try InitPlan.compile(config()).description
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "mount - / - flags=0x84000")
        #expect(lines[1] == "mount overlay /c/root overlay flags=0x0 lowerdir=/s/l2:/s/l1,upperdir=/c/upper,workdir=/c/work")
        func index(_ prefix: String) -> Int { lines.firstIndex { $0.hasPrefix(prefix) } ?? -1 }
        #expect(index("mount proc") < index("pivot_root"))
        #expect(index("bind-device /c/hosts /c/root/etc/hosts") < index("pivot_root"))
        #expect(index("pivot_root") < index("mask /proc/kcore"))
        #expect(index("mask /proc/kcore") < index("readonly /proc/sys"))
        #expect(index("bounding") < index("setgroups"))
        #expect(index("setuid") < index("caps"))
        #expect(index("setgid") < index("setuid"))
        #expect(index("caps") < index("chdir"))
        #expect(lines.last?.hasPrefix("exec /bin/sh") == true)
        #expect(text.contains("mount sysfs /c/root/sys sysfs flags=0xf"))
        #expect(text.contains("mknod /c/root/dev/null 020666 1:3"))
        #expect(text.contains("bounding a80425fb"))
        #expect(text.contains("caps a80425fb ambient=0"))
    }

    /// A working directory is made in the image's file system before anything is mounted (as
    /// Docker makes it at create), never for `/` or a relative path.
    @Test func workingDirectoryIsMadeInTheRootBeforeMounts() throws {
        var c = config()
        c.workingDir = "/srv/app"
        let lines = try InitPlan.compile(c).description.split(separator: "\n").map(String.init)
        func index(_ prefix: String) -> Int { lines.firstIndex { $0.hasPrefix(prefix) } ?? -1 }
        #expect(index("open-root /c/root") >= 0)
        #expect(index("open-root /c/root") + 1 == index("make-in-root /srv/app"))
        #expect(index("make-in-root /srv/app") < index("mount proc"))
        #expect(index("chdir /srv/app") > index("pivot_root"))
        for other in ["/", "relative"] {
            c.workingDir = other
            #expect(!(try InitPlan.compile(c).description.contains("make-in-root")))
        }
    }

    /// A given device is made at its path (parents first) with the host node's kind and mode,
    /// or bound from the host in a user namespace where mknod is refused.
    @Test func givenDevicesAreMadeOrBound() throws {
        var c = config()
        c.devices = [
            .init(source: "/dev/fuse", path: "/dev/fuse", type: "c", major: 10, minor: 229, mode: 0o600, permissions: "rwm"),
            .init(source: "/dev/sda", path: "/dev/disks/xvda", type: "b", major: 8, minor: 0, mode: 0o660, permissions: "r"),
        ]
        let text = try InitPlan.compile(c).description
        #expect(text.contains("mknod /c/root/dev/fuse 020600 10:229"))
        #expect(text.contains("mkdir /c/root/dev/disks 0755\nmknod /c/root/dev/disks/xvda 060660 8:0"))
        c.inUserNamespace = true
        let bound = try InitPlan.compile(c).description
        #expect(bound.contains("bind-device /dev/sda /c/root/dev/disks/xvda"))
        #expect(!bound.contains("mknod /c/root/dev/fuse"))
    }

    /// The AppArmor profile is asked for after pivot_root (the container's /proc) and before
    /// no_new_privs and seccomp, for the first process and for exec'd ones alike.
    @Test func appArmorBeforeNoNewPrivilegesAndSeccomp() throws {
        var c = config()
        c.appArmorProfile = "scompose-default"
        c.noNewPrivileges = true
        for plan in [try InitPlan.compile(c), try InitPlan.compileExec(c, containerRoot: "/proc/1/root")] {
            let lines = plan.description.split(separator: "\n").map(String.init)
            func index(_ prefix: String) -> Int { lines.firstIndex { $0.hasPrefix(prefix) } ?? -1 }
            #expect(index("apparmor scompose-default") >= 0)
            #expect(index("pivot_root") < index("apparmor scompose-default"))
            #expect(index("apparmor scompose-default") < index("no_new_privs"))
            #expect(index("apparmor scompose-default") < index("seccomp"))
        }
        #expect(!(try InitPlan.compile(config()).description.contains("apparmor")))
    }

    @Test func loadedAppArmorProfiles() {
        let text = "docker-default (enforce)\nscompose-default (enforce)\n/usr/bin/man (enforce)\nlsb_release (complain)\n"
        #expect(AppArmor.loadedProfiles(text) == ["docker-default", "scompose-default", "/usr/bin/man", "lsb_release"])
        #expect(AppArmor.defaultProfileText.contains("profile scompose-default flags=(attach_disconnected,mediate_deleted) {"))
        #expect(AppArmor.defaultProfileText.contains("deny mount,"))
    }

    @Test func nonRootKeepsOnlyTheBoundingSet() throws {
        var c = config()
        c.uid = 1000
        c.gid = 1000
        let text = try InitPlan.compile(c).description
        #expect(text.contains("bounding a80425fb"))
        #expect(text.contains("caps 0 ambient=0"))
    }

    @Test func cgroupViewV2HasItsOwnNamespaceAndAReadOnlyMount() throws {
        var c = config()
        c.cgroupView = .v2
        let lines = try InitPlan.compile(c).description.split(separator: "\n").map(String.init)
        #expect(lines.first == "unshare cgroup", "made after the parent moved the child into its cgroup")
        #expect(lines.contains("mount cgroup /c/root/sys/fs/cgroup cgroup2 flags=0xf"))
        #expect(lines.firstIndex(of: "mount cgroup /c/root/sys/fs/cgroup cgroup2 flags=0xf") ?? 0
            > lines.firstIndex { $0.hasPrefix("mount sysfs") } ?? 99)
        #expect(!lines.contains { $0.hasPrefix("mount tmpfs /c/root/sys/fs/cgroup") })
        // Sharing another network namespace (or the host's), /sys is the host's bound: a tmpfs
        // goes between its cgroup2 and ours, which the kernel would refuse on the same place.
        c.namespaces.remove(.net)
        let shared = try InitPlan.compile(c).description.split(separator: "\n").map(String.init)
        let tmpfs = shared.firstIndex(of: "mount tmpfs /c/root/sys/fs/cgroup tmpfs flags=0xe mode=755") ?? 99
        #expect(shared.firstIndex { $0.hasPrefix("mount /sys /c/root/sys") } ?? 99 < tmpfs)
        #expect(tmpfs < shared.firstIndex(of: "mount cgroup /c/root/sys/fs/cgroup cgroup2 flags=0xf") ?? 0)
    }

    @Test func cgroupViewV1BindsEachHierarchyReadOnly() throws {
        var c = config()
        c.cgroupView = .v1([.init(source: "/sys/fs/cgroup/memory/scompose/x", target: "memory")])
        let text = try InitPlan.compile(c).description
        #expect(!text.contains("unshare cgroup"))
        #expect(text.contains("mount tmpfs /c/root/sys/fs/cgroup tmpfs flags=0xe mode=755"))
        #expect(text.contains("mount /sys/fs/cgroup/memory/scompose/x /c/root/sys/fs/cgroup/memory - flags=0x5000"))
        #expect(text.contains("mount - /c/root/sys/fs/cgroup/memory - flags=0x102f"))
    }

    @Test func privilegedIsNotMaskedAndSysIsWritable() throws {
        var c = config()
        c.privileged = true
        let text = try InitPlan.compile(c).description
        #expect(!text.contains("mask /proc"))
        #expect(text.contains("mount sysfs /c/root/sys sysfs flags=0xe"))
    }
}

/// Runs real containers: root, namespaces, overlayfs. Each test makes its own image store and
/// directories under a temporary root and removes them; the container's mounts live in its own
/// mount namespace and vanish with it.
@Suite(.serialized) struct ContainerRunTests {
    static var canRun: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
    }

    final class Box {
        let dir: String
        let layers: [String]

        init() throws {
            // Writing to a pipe whose reader is gone must fail, not kill the test runner.
            signal(SIGPIPE, SIG_IGN)
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-rt-\(UUID().uuidString)").path
            let rootfs = dir + "/rootfs"
            for d in ["bin", "etc", "tmp"] {
                try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
            for tool in ["sh", "cat", "echo", "hostname", "grep", "ls", "id", "mount", "touch"] {
                try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + tool, withDestinationPath: "busybox")
            }
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["-C", rootfs, "-cf", dir + "/rootfs.tar", "."]
            try tar.run()
            tar.waitUntilExit()
            let store = try ImageStore(root: dir + "/state")
            let record = try store.importRootfs(
                file: dir + "/rootfs.tar", reference: try ImageReference(parsing: "busybox:rt"), changes: ImageChanges(),
                message: nil, source: "test")
            layers = try store.snapshots(record)
            for d in ["upper", "work", "root"] {
                try FileManager.default.createDirectory(atPath: dir + "/c/" + d, withIntermediateDirectories: true)
            }
        }

        deinit {
            try? FileManager.default.removeItem(atPath: dir)
        }

        func config(_ script: String) -> ContainerConfig {
            var c = ContainerConfig(
                layers: layers, upperDir: dir + "/c/upper", workDir: dir + "/c/work", rootDir: dir + "/c/root",
                args: ["sh", "-c", script], env: ["PATH=/bin", "HOME=/root"])
            c.hostname = "box"
            return c
        }

        /// Runs the container to the end; returns its exit status and output.
        func run(_ c: ContainerConfig) throws -> (Int32, String) {
            var fds: [Int32] = [-1, -1]
            pipe(&fds)
            let pid = try Launcher.spawn(InitPlan.compile(c), stdio: .init(stdout: fds[1], stderr: fds[1]))
            close(fds[1])
            var out = Data()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fds[0], &buffer, buffer.count)
                if n <= 0 { break }
                out.append(contentsOf: buffer[0..<n])
            }
            close(fds[0])
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return ((status >> 8) & 0xff, String(decoding: out, as: UTF8.self))
        }
    }

    @Test(.enabled(if: canRun)) func runsIsolated() throws {
        let box = try Box()
        let (status, out) = try box.run(
            box.config(
                "echo hello; hostname; echo pid=$$; grep CapEff /proc/self/status; ls /proc | grep -c '^[0-9]'; "
                    + "cat /proc/kcore 2>&1 | head -c 0; touch /sys/x 2>/dev/null || echo sys-ro; "
                    + "grep -c overlay /proc/mounts; id -u; exit 3"))
        #expect(status == 3)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "hello")
        #expect(lines.contains("box"))
        #expect(lines.contains("pid=1"))
        #expect(lines.contains { $0.hasPrefix("CapEff:") && $0.hasSuffix("00000000a80425fb") })
        #expect(lines.contains("sys-ro"))
        #expect(lines.last == "0")
        // Only the container's own processes are visible (sh, and the pipeline it runs).
        if let count = lines.dropFirst(4).first.flatMap({ Int($0) }) { #expect(count <= 4) }
    }

    @Test(.enabled(if: canRun)) func nonRootUserHasNoEffectiveCapabilities() throws {
        let box = try Box()
        var c = box.config("id -u; grep -E 'CapEff|CapBnd' /proc/self/status")
        c.uid = 1000
        c.gid = 1000
        let (status, out) = try box.run(c)
        #expect(status == 0)
        #expect(out.contains("1000"))
        #expect(out.contains("CapEff:\t0000000000000000"))
        #expect(out.contains("CapBnd:\t00000000a80425fb"))
    }

    /// A missing working directory is made, and links on its way are followed inside the root:
    /// one that points at a host folder never makes anything there.
    @Test(.enabled(if: canRun)) func missingWorkingDirectoryIsMadeInsideTheRoot() throws {
        let box = try Box()
        try FileManager.default.createSymbolicLink(atPath: box.dir + "/c/upper/into", withDestinationPath: "/tmp")
        var c = box.config("pwd -P")
        c.workingDir = "/into/new/dir"
        let (status, out) = try box.run(c)
        #expect(status == 0, "\(out)")
        #expect(out == "/tmp/new/dir\n")
        #expect(FileManager.default.fileExists(atPath: box.dir + "/c/upper/tmp/new/dir"))

        try FileManager.default.createDirectory(atPath: box.dir + "/outside", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: box.dir + "/c/upper/escape", withDestinationPath: box.dir + "/outside")
        c.workingDir = "/escape/new"
        #expect(throws: SpawnError.self) { try box.run(c) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.dir + "/outside").isEmpty)
    }

    @Test(.enabled(if: canRun)) func writesGoToTheUpperDirectory() throws {
        let box = try Box()
        let (status, _) = try box.run(box.config("echo data > /tmp/file"))
        #expect(status == 0)
        #expect(try String(contentsOfFile: box.dir + "/c/upper/tmp/file", encoding: .utf8) == "data\n")
        #expect(!FileManager.default.fileExists(atPath: box.layers[0] + "/tmp/file"))
    }

    @Test(.enabled(if: canRun)) func failingStepIsReported() throws {
        let box = try Box()
        var c = box.config("true")
        c.args = ["/bin/does-not-exist"]
        do {
            _ = try box.run(c)
            Issue.record("expected a spawn error")
        } catch let error as SpawnError {
            #expect(error.step.hasPrefix("exec /bin/does-not-exist"))
            #expect(error.errno == ENOENT)
        }
    }
}
