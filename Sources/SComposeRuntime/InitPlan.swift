// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// What a container is, for the runtime: no compose knowledge, only what the kernel needs.
public struct ContainerConfig: Sendable, Equatable, Codable {
    /// The image's unpacked layers, lowest first.
    public var layers: [String]
    /// Per-container overlay directories.
    public var upperDir: String
    public var workDir: String
    /// Where the root file system is assembled before `pivot_root`.
    public var rootDir: String
    /// The program and its arguments.
    public var args: [String]
    public var env: [String]
    public var workingDir: String = "/"
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    public var additionalGids: [UInt32] = []
    public var hostname: String?
    /// Host files bind-mounted at these paths in the container (`/etc/hosts`, …); a user mount
    /// on the same path wins.
    public var fileBinds: [FileBind] = []
    /// Volumes, bind mounts, tmpfs, secrets and configs, mounted in this order after sorting
    /// by depth (a parent before what is inside it).
    public var mounts: [Mount] = []
    /// Size of /dev/shm in bytes (`shm_size`; Docker's default is 64 MiB).
    public var shmSize: Int64?
    public var readOnlyRootfs = false
    public var privileged = false
    /// Created from a user namespace (rootless): `mknod` is refused there, so device nodes are
    /// the host's, bound in.
    public var inUserNamespace = false
    /// Whether group 5 (`tty`, devpts' group) exists for the kernel: not in a user namespace
    /// that maps the user alone.
    public var ttyGroupMapped = true
    /// False where processes exec'd into the container stay in the caller's cgroups: it has
    /// none of its own (rootless with no cgroups delegated to the user).
    public var ownCgroup = true
    /// Capabilities by number; nil means Docker's default set.
    public var capabilities: Set<Int>?
    public var noNewPrivileges = false
    public var rlimits: [Rlimit] = []
    /// Namespaces to create.
    public var namespaces: Namespaces = .default
    /// Docker's default seccomp profile (false: `seccomp=unconfined`; never for privileged).
    public var seccomp = true
    /// The AppArmor profile the program runs under (nil: unconfined, or no AppArmor).
    public var appArmorProfile: String?
    /// Standard input is a pty to become the controlling terminal (`tty: true`).
    public var tty = false
    /// With `tty`: the socket (inherited by the child) the pty master is sent back over;
    /// set by whoever starts the container, not stored.
    public var consoleSocket: Int32?
    /// A minimal reaping init runs as pid 1 with the program as its child (`init: true`).
    public var initProcess = false
    /// The network namespace to join instead of making one (`network_mode: service:X`), as a
    /// `/proc/<pid>/ns/net` path; set by the shim when it starts the container.
    public var joinNetwork: String?
    /// How the container sees its cgroup at /sys/fs/cgroup (nil: an empty directory).
    public var cgroupView: CgroupView?
    /// Written below /proc/sys before it is made read-only (`net.ipv4.ip_forward` → …/ip_forward).
    public var sysctls: [String: String] = [:]
    /// Host devices the container is given (`devices:`, `--device`): a node at each path (the
    /// host's, bound in, in a user namespace), allowed by the device cgroup.
    public var devices: [Device] = []

    public init(layers: [String], upperDir: String, workDir: String, rootDir: String, args: [String], env: [String]) {
        self.layers = layers
        self.upperDir = upperDir
        self.workDir = workDir
        self.rootDir = rootDir
        self.args = args
        self.env = env
    }

    /// A host device given to the container, as the host's node was found at create.
    public struct Device: Sendable, Equatable, Codable {
        /// The host's node.
        public var source: String
        /// Where it appears in the container (below `/dev`).
        public var path: String
        /// `c` or `b`.
        public var type: String
        public var major: Int64
        public var minor: Int64
        /// The host node's permission bits.
        public var mode: UInt32
        /// What the device cgroup lets the container do with it (`rwm`, `r`, …).
        public var permissions: String

        public init(source: String, path: String, type: String, major: Int64, minor: Int64, mode: UInt32, permissions: String) {
            self.source = source
            self.path = path
            self.type = type
            self.major = major
            self.minor = minor
            self.mode = mode
            self.permissions = permissions
        }
    }

    /// A host file bind-mounted into the container.
    public struct FileBind: Sendable, Equatable, Codable {
        public var source: String
        public var target: String
        public init(source: String, target: String) {
            self.source = source
            self.target = target
        }
    }

    /// A mount in the container.
    public struct Mount: Sendable, Equatable, Codable {
        public enum Kind: String, Sendable, Codable {
            /// A host path (a bind, a volume's data directory, a secret's file).
            case bind
            case tmpfs
        }
        public var kind: Kind
        /// The host path of a bind (ignored for tmpfs).
        public var source: String
        /// The path in the container.
        public var target: String
        public var readOnly = false
        /// The target is a file (a single-file bind).
        public var isFile = false
        /// tmpfs options (`size=…,mode=…`).
        public var data: String?
        /// `rprivate` (Docker's default), `private`, `rshared`, `shared`, `rslave`, `slave`.
        public var propagation: String?
        /// Mount flags beyond read-only: `noexec`, `nosuid`, `nodev`.
        public var flags: [String] = []

        public init(kind: Kind, source: String, target: String, readOnly: Bool = false, isFile: Bool = false) {
            self.kind = kind
            self.source = source
            self.target = target
            self.readOnly = readOnly
            self.isFile = isFile
        }
    }

    /// A resource limit (`RLIMIT_*` number).
    public struct Rlimit: Sendable, Equatable, Codable {
        public var resource: Int32
        public var soft: UInt64
        public var hard: UInt64
        public init(resource: Int32, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.soft = soft
            self.hard = hard
        }
    }

    /// The namespaces a container gets.
    public struct Namespaces: OptionSet, Sendable, Hashable, Codable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let mount = Namespaces(rawValue: 0x0002_0000)  // CLONE_NEWNS
        public static let uts = Namespaces(rawValue: 0x0400_0000)  // CLONE_NEWUTS
        public static let ipc = Namespaces(rawValue: 0x0800_0000)  // CLONE_NEWIPC
        public static let pid = Namespaces(rawValue: 0x2000_0000)  // CLONE_NEWPID
        public static let net = Namespaces(rawValue: 0x4000_0000)  // CLONE_NEWNET
        /// Docker's: mount, uts, ipc, pid, net.
        public static let `default`: Namespaces = [.mount, .uts, .ipc, .pid, .net]
    }
}

/// Docker's default security profile values.
public enum SecurityDefaults {
    /// CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
    /// NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE (`CapEff 00000000a80425fb`).
    public static let capabilities: Set<Int> = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31]
    /// What `privileged` gets: every capability we hold ourselves (our bounding set), which is
    /// all the kernel knows on a normal host and less inside a restricted one.
    public static var hostBoundingSet: Set<Int> {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return Set(0...40) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
            let mask = UInt64(line.dropFirst(7).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        else { return Set(0...40) }
        return Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 })
    }

    public static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ]
    public static let readOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    /// Character devices every container gets: name, major, minor.
    public static let devices: [(String, Int64, Int64)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ]
}

/// What a container sees at /sys/fs/cgroup, as Docker arranges it: on cgroup v2 its own cgroup
/// namespace with cgroup2 mounted; on v1 a tmpfs with each hierarchy's container directory
/// bound read-only under the hierarchy's name (`memory`, `cpu,cpuacct`, …).
public enum CgroupView: Sendable, Equatable, Codable {
    case v2
    /// Hierarchy name and the container's host directory in it.
    case v1([ContainerConfig.FileBind])
}

/// The host's device nodes under /dev (not pts, shm, mqueue: the container has its own).
public enum HostDevices {
    public struct Device: Sendable {
        /// Relative to /dev, with a leading slash (`list`), or as given (`node`).
        public var path: String
        /// The whole `st_mode`: the node's kind and permission bits.
        public var mode: UInt32
        public var major: Int64
        public var minor: Int64
    }

    /// The device node at `path` (a link is followed); nil with errno set when it cannot be
    /// read, nil with errno 0 when it is not a character or block device.
    public static func node(_ path: String) -> Device? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard st.st_mode & S_IFMT == S_IFCHR || st.st_mode & S_IFMT == S_IFBLK else {
            errno = 0
            return nil
        }
        return device(path, st)
    }

    static func device(_ path: String, _ st: stat) -> Device {
        // glibc's gnu_dev_major and gnu_dev_minor (macros Swift does not import).
        let dev = UInt64(st.st_rdev)
        let major = Int64(((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
        let minor = Int64((dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
        return Device(path: path, mode: UInt32(st.st_mode), major: major, minor: minor)
    }

    static func list(_ dir: String = "/dev", prefix: String = "") -> [Device] {
        var out: [Device] = []
        for name in Files.list(dir) {
            if prefix.isEmpty && ["pts", "shm", "mqueue", "console", "ptmx", "fd", "core"].contains(name) { continue }
            var st = stat()
            guard lstat(dir + "/" + name, &st) == 0 else { continue }
            let type = st.st_mode & S_IFMT
            if type == S_IFDIR {
                out += list(dir + "/" + name, prefix: prefix + "/" + name)
            } else if type == S_IFCHR || type == S_IFBLK {
                out.append(device(prefix + "/" + name, st))
            }
        }
        return out.sorted { $0.path < $1.path }
    }
}

/// One step of the code that runs between clone and execve.
public enum InitStep: Sendable, Equatable, CustomStringConvertible {
    case mount(source: String?, target: String, type: String?, flags: UInt, data: String?)
    case mkdir(String, mode: UInt32)
    case symlink(target: String, link: String)
    case mknod(String, mode: UInt32, major: Int64, minor: Int64)
    case bindDevice(host: String, target: String)
    case pivotRoot(String)
    case sethostname(String)
    case setrlimit(resource: Int32, soft: UInt64, hard: UInt64)
    case mask(String)
    case readOnly(String)
    case setgroups([UInt32])
    case setgid(UInt32)
    case setuid(UInt32)
    case noNewPrivileges
    case chdir(String)
    case writeFile(String, String)
    /// Drops what is outside `bounding` from the bounding set and keeps the permitted set across setuid.
    case boundingSet(UInt64)
    /// Sets the effective and permitted sets (inheritable stays empty, as Docker since 20.10.14).
    case capabilities(main: UInt64, ambient: UInt64)
    case exec(path: String, args: [String], env: [String])
    /// Brings up the loopback interface of a new network namespace.
    case loopbackUp
    /// Installs a classic-BPF seccomp program.
    case seccomp([UInt8])
    /// Starts a session whose controlling terminal is standard input.
    case controllingTerminal
    /// A new cgroup namespace rooted at the cgroup the process is in.
    case unshareCgroup
    /// Joins the network namespace of this file.
    case joinNetwork(String)
    /// Forks: the parent stays as a reaping init, the child goes on to exec.
    case initProcess
    /// Opens the assembled root that later `mountInRoot` targets are resolved in.
    case openRoot(String)
    /// Makes a directory of the container (and its missing parents) resolved inside the root.
    case makeInRoot(String)
    /// Mounts onto a path of the container resolved inside the root (never through a symlink
    /// out of it), creating the target if it is missing.
    case mountInRoot(source: String?, target: String, type: String?, flags: UInt, data: String?, isFile: Bool, readOnly: Bool, propagation: UInt)
    /// A pty of the container's devpts as the standard streams; its master sent over `socket`.
    case console(ptmx: String, ptsDir: String, socket: Int32)
    /// Confines the program under this AppArmor profile from its execve on.
    case appArmor(String)

    public var description: String {
        switch self {
        case .mount(let s, let t, let ty, let f, let d):
            return "mount \(s ?? "-") \(t) \(ty ?? "-") flags=0x\(String(f, radix: 16)) \(d ?? "")".trimmingTrailingSpace()
        case .mkdir(let p, let m): return "mkdir \(p) 0\(String(m, radix: 8))"
        case .symlink(let t, let l): return "symlink \(l) -> \(t)"
        case .mknod(let p, let m, let ma, let mi): return "mknod \(p) 0\(String(m, radix: 8)) \(ma):\(mi)"
        case .bindDevice(let h, let t): return "bind-device \(h) \(t)"
        case .pivotRoot(let p): return "pivot_root \(p)"
        case .sethostname(let h): return "sethostname \(h)"
        case .setrlimit(let r, let s, let h): return "setrlimit \(r) \(s) \(h)"
        case .mask(let p): return "mask \(p)"
        case .readOnly(let p): return "readonly \(p)"
        case .setgroups(let g): return "setgroups \(g.map(String.init).joined(separator: ","))"
        case .setgid(let g): return "setgid \(g)"
        case .setuid(let u): return "setuid \(u)"
        case .noNewPrivileges: return "no_new_privs"
        case .chdir(let p): return "chdir \(p)"
        case .writeFile(let p, let c): return "write \(p) \(c)"
        case .boundingSet(let b): return "bounding \(String(b, radix: 16))"
        case .capabilities(let m, let a): return "caps \(String(m, radix: 16)) ambient=\(String(a, radix: 16))"
        case .exec(let p, let a, let e): return "exec \(p) \(a) env=\(e.count)"
        case .loopbackUp: return "loopback up"
        case .seccomp(let program): return "seccomp \(program.count / 8) instructions"
        case .controllingTerminal: return "setsid tty"
        case .unshareCgroup: return "unshare cgroup"
        case .joinNetwork(let p): return "setns net \(p)"
        case .initProcess: return "init"
        case .console(let ptmx, let dir, _): return "console \(ptmx) \(dir)"
        case .appArmor(let profile): return "apparmor \(profile)"
        case .openRoot(let p): return "open-root \(p)"
        case .makeInRoot(let p): return "make-in-root \(p)"
        case .mountInRoot(let src, let t, let ty, let f, let d, let file, let ro, let prop):
            return "mount-in-root \(src ?? "-") \(t) \(ty ?? "-") flags=0x\(String(f, radix: 16))\(d.map { " " + $0 } ?? "")"
                + (file ? " file" : "") + (ro ? " ro" : "") + (prop != 0 ? " propagation=0x\(String(prop, radix: 16))" : "")
        }
    }
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "/" : $0 })
    }

    fileprivate func trimmingTrailingSpace() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}

/// The ordered steps that turn a cloned child into the container's first process, compiled
/// from a `ContainerConfig`. The order (runc's and crun's) lives here, tested as text; the C
/// side only interprets.
public struct InitPlan: Sendable, Equatable, CustomStringConvertible {
    public var steps: [InitStep]
    public var namespaces: ContainerConfig.Namespaces
    /// For an exec: whether the process joins the container's cgroups first.
    public var joinsCgroups = true
    /// For an exec from outside the systemd manager's subtree that holds the container's scope
    /// (a rootless user's login session): the scope whose manager moves the process there
    /// first, since the caller may not. nil: the process moves itself.
    public var systemdEntry: SystemdScope.Entry?

    public var description: String { steps.map(\.description).joined(separator: "\n") }

    // Mount flags (linux/mount.h).
    static let MS_RDONLY: UInt = 1
    static let MS_NOSUID: UInt = 2
    static let MS_REMOUNT: UInt = 32
    static let MS_NODEV: UInt = 4
    static let MS_NOEXEC: UInt = 8
    static let MS_BIND: UInt = 4096
    static let MS_REC: UInt = 16384
    static let MS_PRIVATE: UInt = 1 << 18
    static let MS_SLAVE: UInt = 1 << 19
    static let MS_STRICTATIME: UInt = 1 << 24

    /// Compiles the plan; fails only if the seccomp program cannot be built.
    public static func compile(_ c: ContainerConfig) throws(SeccompProfile.Failure) -> InitPlan {
        var s: [InitStep] = []
        let root = c.rootDir
        // The cgroup namespace is made here, after the parent moved us into our cgroup (clone
        // would root it at the shim's).
        if c.cgroupView == .v2 { s.append(.unshareCgroup) }
        // Before /sys is mounted: sysfs shows the network namespace of whoever mounts it.
        if let path = c.joinNetwork { s.append(.joinNetwork(path)) }
        // Nothing we mount may propagate back to the host.
        s.append(.mount(source: nil, target: "/", type: nil, flags: MS_REC | MS_SLAVE, data: nil))
        s.append(
            .mount(
                source: "overlay", target: root, type: "overlay", flags: 0,
                data: Overlay(layers: c.layers, upper: c.upperDir, work: c.workDir).options))
        s.append(.openRoot(root))
        // A working directory the image lacks is made in its file system, as Docker does at
        // create, before anything is mounted over it (never in a bind-mounted host folder).
        if c.workingDir.hasPrefix("/") && c.workingDir != "/" { s.append(.makeInRoot(c.workingDir)) }
        s.append(.mkdir(root + "/proc", mode: 0o555))
        s.append(.mount(source: "proc", target: root + "/proc", type: "proc", flags: MS_NOSUID | MS_NOEXEC | MS_NODEV, data: nil))
        s.append(.mkdir(root + "/dev", mode: 0o755))
        s.append(
            .mount(
                source: "tmpfs", target: root + "/dev", type: "tmpfs", flags: MS_NOSUID | MS_STRICTATIME,
                data: "mode=755,size=65536k"))
        s.append(.mkdir(root + "/dev/pts", mode: 0o755))
        s.append(
            .mount(
                source: "devpts", target: root + "/dev/pts", type: "devpts", flags: MS_NOSUID | MS_NOEXEC,
                data: "newinstance,ptmxmode=0666,mode=0620" + (c.ttyGroupMapped ? ",gid=5" : "")))
        s.append(.mkdir(root + "/dev/shm", mode: 0o1777))
        s.append(
            .mount(
                source: "shm", target: root + "/dev/shm", type: "tmpfs", flags: MS_NOSUID | MS_NOEXEC | MS_NODEV,
                data: "mode=1777,size=\((c.shmSize ?? 64 << 20) / 1024)k"))
        s.append(.mkdir(root + "/dev/mqueue", mode: 0o755))
        s.append(
            .mount(source: "mqueue", target: root + "/dev/mqueue", type: "mqueue", flags: MS_NOSUID | MS_NOEXEC | MS_NODEV, data: nil))
        s.append(.mkdir(root + "/sys", mode: 0o555))
        if c.namespaces.contains(.net) {
            s.append(
                .mount(
                    source: "sysfs", target: root + "/sys", type: "sysfs",
                    flags: MS_NOSUID | MS_NOEXEC | MS_NODEV | (c.privileged ? 0 : MS_RDONLY), data: nil))
        } else {
            s.append(.mount(source: "/sys", target: root + "/sys", type: nil, flags: MS_BIND | MS_REC, data: nil))
        }
        let cgroupFlags = MS_NOSUID | MS_NOEXEC | MS_NODEV | (c.privileged ? 0 : MS_RDONLY)
        switch c.cgroupView {
        case .v2?:
            if !c.namespaces.contains(.net) {
                // /sys is the host's, bound with what is mounted under it: the host's cgroup2
                // is at this very place, and the kernel refuses the same file system twice on
                // one mount point (EBUSY). A tmpfs between them, as runc's fallback.
                s.append(
                    .mount(
                        source: "tmpfs", target: root + "/sys/fs/cgroup", type: "tmpfs", flags: MS_NOSUID | MS_NOEXEC | MS_NODEV,
                        data: "mode=755"))
            }
            s.append(.mount(source: "cgroup", target: root + "/sys/fs/cgroup", type: "cgroup2", flags: cgroupFlags, data: nil))
        case .v1(let hierarchies)?:
            let base = root + "/sys/fs/cgroup"
            s.append(.mount(source: "tmpfs", target: base, type: "tmpfs", flags: MS_NOSUID | MS_NOEXEC | MS_NODEV, data: "mode=755"))
            for h in hierarchies {
                s.append(.mkdir(base + "/" + h.target, mode: 0o755))
                s.append(.mount(source: h.source, target: base + "/" + h.target, type: nil, flags: MS_BIND | MS_REC, data: nil))
                if !c.privileged {
                    s.append(.mount(source: nil, target: base + "/" + h.target, type: nil, flags: MS_BIND | MS_REMOUNT | MS_RDONLY | cgroupFlags, data: nil))
                }
            }
            if !c.privileged {
                s.append(.mount(source: nil, target: base, type: nil, flags: MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, data: "mode=755"))
            }
        case nil:
            break
        }
        for (name, major, minor) in SecurityDefaults.devices {
            s.append(
                c.inUserNamespace
                    ? .bindDevice(host: "/dev/" + name, target: root + "/dev/" + name)
                    : .mknod(root + "/dev/" + name, mode: 0o020666, major: major, minor: minor))
        }
        var madeDirs = Set<String>()
        for device in c.devices {
            var dir = ""
            for part in device.path.split(separator: "/").dropFirst().dropLast() {
                dir += "/" + part
                if madeDirs.insert(dir).inserted { s.append(.mkdir(root + "/dev" + dir, mode: 0o755)) }
            }
            let kind: UInt32 = device.type == "b" ? 0o060000 : 0o020000
            s.append(
                c.inUserNamespace
                    ? .bindDevice(host: device.source, target: root + device.path)
                    : .mknod(root + device.path, mode: kind | (device.mode & 0o7777), major: device.major, minor: device.minor))
        }
        if c.privileged {
            // As Docker: a privileged container gets every device node of the host.
            var made = Set<String>()
            for device in HostDevices.list() where !SecurityDefaults.devices.contains(where: { "/" + $0.0 == device.path }) {
                var dir = ""
                for part in device.path.split(separator: "/").dropLast() {
                    dir += "/" + part
                    if made.insert(dir).inserted { s.append(.mkdir(root + "/dev" + dir, mode: 0o755)) }
                }
                s.append(
                    c.inUserNamespace
                        ? .bindDevice(host: "/dev" + device.path, target: root + "/dev" + device.path)
                        : .mknod(root + "/dev" + device.path, mode: device.mode, major: device.major, minor: device.minor))
            }
        }
        for (link, target) in [
            ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"),
        ] {
            s.append(.symlink(target: target, link: root + "/dev/" + link))
        }
        for bind in c.fileBinds where !c.mounts.contains(where: { $0.target == bind.target }) {
            s.append(
                .mountInRoot(
                    source: bind.source, target: bind.target, type: nil, flags: MS_BIND, data: nil, isFile: true,
                    readOnly: c.readOnlyRootfs, propagation: MS_PRIVATE))
        }
        s += mountSteps(c.mounts)
        if c.tty, let socket = c.consoleSocket {
            s.append(.console(ptmx: root + "/dev/pts/ptmx", ptsDir: root + "/dev/pts", socket: socket))
        }
        s.append(.pivotRoot(root))
        for (key, value) in c.sysctls.sorted(by: { $0.key < $1.key }) {
            s.append(.writeFile("/proc/sys/" + key.replacingDots(), value))
        }
        if !c.privileged {
            for p in SecurityDefaults.maskedPaths { s.append(.mask(p)) }
            for p in SecurityDefaults.readOnlyPaths { s.append(.readOnly(p)) }
        }
        if let h = c.hostname { s.append(.sethostname(h)) }
        if c.namespaces.contains(.net) { s.append(.loopbackUp) }
        if c.readOnlyRootfs {
            s.append(.mount(source: nil, target: "/", type: nil, flags: MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY, data: nil))
        }
        for r in c.rlimits { s.append(.setrlimit(resource: r.resource, soft: r.soft, hard: r.hard)) }
        s += try processSteps(c, lookupRoots: c.layers, initProcess: c.initProcess)
        return InitPlan(steps: s, namespaces: c.namespaces)
    }

    /// User mounts, parents first (Docker sorts by the number of path components).
    static func mountSteps(_ mounts: [ContainerConfig.Mount]) -> [InitStep] {
        let propagations: [String: UInt] = [
            "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": 1 << 20, "rshared": (1 << 20) | MS_REC,
            "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
        ]
        let sorted = mounts.enumerated().sorted {
            let a = $0.element.target.split(separator: "/").count
            let b = $1.element.target.split(separator: "/").count
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        return sorted.map { m in
            var flags: UInt = 0
            for f in m.flags {
                switch f {
                case "noexec": flags |= MS_NOEXEC
                case "nosuid": flags |= MS_NOSUID
                case "nodev": flags |= MS_NODEV
                default: break
                }
            }
            switch m.kind {
            case .bind:
                return .mountInRoot(
                    source: m.source, target: m.target, type: nil, flags: MS_BIND | MS_REC | flags, data: nil, isFile: m.isFile,
                    readOnly: m.readOnly, propagation: propagations[m.propagation ?? "rprivate"] ?? (MS_PRIVATE | MS_REC))
            case .tmpfs:
                return .mountInRoot(
                    source: "tmpfs", target: m.target, type: "tmpfs", flags: flags | (m.readOnly ? MS_RDONLY : 0),
                    data: m.data, isFile: false, readOnly: false, propagation: 0)
            }
        }
    }

    /// The steps of a process started in a running container (`exec`): ids, capabilities,
    /// working directory and the program; the namespaces are joined, not made.
    public static func compileExec(_ c: ContainerConfig, containerRoot: String) throws(SeccompProfile.Failure) -> InitPlan {
        var plan = InitPlan(steps: try processSteps(c, lookupRoots: [containerRoot], initProcess: false), namespaces: [])
        plan.joinsCgroups = c.ownCgroup
        return plan
    }

    /// What the first process and an `exec`'d one share: capabilities, ids, working directory,
    /// program. Bounding set first (it needs CAP_SETPCAP), ids next (they need CAP_SETUID/SETGID,
    /// whatever the user dropped), the working sets last: a non-root user keeps only the
    /// bounding set, as Docker does. The program is looked up in `lookupRoots` (top last).
    /// Seccomp comes before the capabilities are dropped unless no_new_privs is set (loading a
    /// filter needs CAP_SYS_ADMIN or no_new_privs), and then as late as possible, as runc does.
    static func processSteps(_ c: ContainerConfig, lookupRoots: [String], initProcess: Bool) throws(SeccompProfile.Failure) -> [InitStep] {
        let caps = c.privileged ? SecurityDefaults.hostBoundingSet : (c.capabilities ?? SecurityDefaults.capabilities)
        let mask = caps.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) }
        let filter: [UInt8]? = c.seccomp && !c.privileged ? try SeccompProfile.compile(capabilities: caps) : nil
        var s: [InitStep] = c.tty ? [.controllingTerminal] : []
        // Asked for while the process may still write its own attributes, before no_new_privs
        // and seccomp (as runc); the kernel applies it at execve.
        if let profile = c.appArmorProfile { s.append(.appArmor(profile)) }
        s.append(.boundingSet(mask))
        if let filter, !c.noNewPrivileges { s.append(.seccomp(filter)) }
        s += [
            .setgroups(c.additionalGids), .setgid(c.gid), .setuid(c.uid),
            .capabilities(main: c.uid == 0 ? mask : 0, ambient: 0),
        ]
        if c.noNewPrivileges { s.append(.noNewPrivileges) }
        s.append(.chdir(c.workingDir))
        if let filter, c.noNewPrivileges { s.append(.seccomp(filter)) }
        if initProcess { s.append(.initProcess) }
        let path = c.args.first ?? "/bin/sh"
        s.append(.exec(path: resolve(path, env: c.env, layers: lookupRoots), args: c.args, env: c.env))
        return s
    }

    /// A command name resolved through the container's PATH, looked up in the image's layers
    /// (top first) before the clone: nothing may be looked up on the host afterwards.
    static func resolve(_ command: String, env: [String], layers: [String]) -> String {
        if command.contains("/") { return command }
        let path = env.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let dirs = path.split(separator: ":").map(String.init)
        for dir in dirs {
            for layer in layers.reversed() where access(layer + dir + "/" + command, F_OK) == 0 || isLink(layer + dir + "/" + command) {
                return dir + "/" + command
            }
        }
        return (dirs.first ?? "/bin") + "/" + command
    }

    static func isLink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }
}
