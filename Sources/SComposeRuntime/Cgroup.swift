// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Where the cgroup hierarchies are, read from `/proc/self/mountinfo`: pure cgroup v2 (most
/// hosts), or v1 controllers with an optional v2 "unified" mount (hybrid, like this machine).
public enum CgroupLayout: Sendable, Equatable {
    /// cgroup2 mounted at this path (`/sys/fs/cgroup`).
    case v2(String)
    /// v1 controllers by name (`memory` → `/sys/fs/cgroup/memory`), plus the unified mount if any.
    case v1(controllers: [String: String], unified: String?)

    /// Parses mountinfo text.
    public static func detect(mountinfo: String) -> CgroupLayout? {
        var controllers: [String: String] = [:]
        var unified: String?
        for line in mountinfo.split(separator: "\n") {
            // "<id> <parent> <dev> <root> <mount point> <options> [optional…] - <type> <source> <super options>"
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = unescape(String(left[4]))
            switch right[0] {
            case "cgroup2":
                if unified == nil { unified = mountPoint }
            case "cgroup":
                for option in right[2].split(separator: ",") {
                    let name = String(option)
                    if ["rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec"].contains(name) { continue }
                    if controllers[name] == nil { controllers[name] = mountPoint }
                }
            default:
                continue
            }
        }
        if controllers.isEmpty, let unified { return .v2(unified) }
        if controllers.isEmpty { return nil }
        return .v1(controllers: controllers, unified: unified)
    }

    /// This machine's layout, read once per process (an exec, each health probe and `down`
    /// of every container ask for it).
    public static let host = current()

    /// This machine's layout, read now.
    public static func current() -> CgroupLayout? {
        guard let text = try? readText("/proc/self/mountinfo") else { return nil }
        return detect(mountinfo: text)
    }

    static func unescape(_ s: String) -> String {
        // mountinfo escapes space, tab, newline and backslash as \040 etc.
        guard s.contains("\\") else { return s }
        var out = ""
        var chars = Array(s)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "\\", chars.count >= 3, let v = UInt8(String(chars.prefix(3)), radix: 8) {
                out.append(Character(Unicode.Scalar(v)))
                chars = chars.dropFirst(3)
            } else {
                out.append(c)
            }
        }
        return out
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [Substring] {
        var out: [Substring] = []
        var rest = self
        while let r = rest.firstRange(of: separator) {
            out.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        out.append(rest)
        return out
    }
}

/// A device cgroup rule (`c 1:3 rwm`).
public struct DeviceRule: Sendable, Equatable, CustomStringConvertible {
    /// `a`, `b` or `c`.
    public var type: Unicode.Scalar
    /// -1 for any.
    public var major: Int64
    public var minor: Int64
    public var access: String

    public var description: String {
        if type == "a" { return "a" }
        return "\(type) \(major < 0 ? "*" : String(major)):\(minor < 0 ? "*" : String(minor)) \(access)"
    }

    var accessBits: Int32 {
        (access.contains("m") ? 1 : 0) | (access.contains("r") ? 2 : 0) | (access.contains("w") ? 4 : 0)
    }

    /// Docker's list (its own, then the entries runc appends): mknod of anything, and only the
    /// standard nodes, ptys and tun opened; everything else (disks, /dev/mem, fuse) refused.
    public static let defaults: [DeviceRule] = [
        .init(type: "c", major: -1, minor: -1, access: "m"), .init(type: "b", major: -1, minor: -1, access: "m"),
        .init(type: "c", major: 1, minor: 3, access: "rwm"), .init(type: "c", major: 1, minor: 5, access: "rwm"),
        .init(type: "c", major: 1, minor: 7, access: "rwm"), .init(type: "c", major: 1, minor: 8, access: "rwm"),
        .init(type: "c", major: 1, minor: 9, access: "rwm"), .init(type: "c", major: 5, minor: 0, access: "rwm"),
        .init(type: "c", major: 5, minor: 1, access: "rwm"), .init(type: "c", major: 5, minor: 2, access: "rwm"),
        .init(type: "c", major: 10, minor: 200, access: "rwm"), .init(type: "c", major: 136, minor: -1, access: "rwm"),
    ]
}

/// Resource limits of a container.
public struct Resources: Sendable, Equatable, Codable {
    /// Bytes.
    public var memory: Int64?
    /// Memory plus swap, bytes; -1 for unlimited swap.
    public var memorySwap: Int64?
    public var cpus: Double?
    public var cpuShares: Int64?
    public var pids: Int64?
    /// The block I/O weight (`blkio_config.weight`, 10–1000), where an I/O scheduler takes one.
    public var blkioWeight: Int64?

    public init(
        memory: Int64? = nil, memorySwap: Int64? = nil, cpus: Double? = nil, cpuShares: Int64? = nil, pids: Int64? = nil,
        blkioWeight: Int64? = nil
    ) {
        self.memory = memory
        self.memorySwap = memorySwap
        self.cpus = cpus
        self.cpuShares = cpuShares
        self.pids = pids
        self.blkioWeight = blkioWeight
    }
}

/// A container's cgroup (`scompose/<id>` in every hierarchy): created before the container
/// starts, limits written, processes added, OOM kills read back, removed when it ends.
public struct Cgroup: Sendable {
    public let layout: CgroupLayout
    /// Relative path below each hierarchy's root.
    public let path: String

    /// Errors of cgroup files.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var file: String
        public var errno: Int32
        public var description: String { "\(file): \(String(cString: strerror(errno)))" }
    }

    static let v1Controllers = ["memory", "cpu", "pids", "freezer", "cpuacct", "blkio", "devices", "cpuset"]

    public init(layout: CgroupLayout, path: String) {
        self.layout = layout
        self.path = path
    }

    /// The directories of this cgroup, by controller (`""` for v2).
    public var directories: [(controller: String, dir: String)] {
        switch layout {
        case .v2(let root): return [("", root + "/" + path)]
        case .v1(let controllers, _):
            return Self.v1Controllers.compactMap { c in controllers[c].map { (c, $0 + "/" + path) } }
        }
    }

    func dir(_ controller: String) -> String? {
        switch layout {
        case .v2(let root): return root + "/" + path
        case .v1(let controllers, _): return controllers[controller].map { $0 + "/" + path }
        }
    }

    /// What the container sees at /sys/fs/cgroup.
    public var view: CgroupView {
        switch layout {
        case .v2: return .v2
        case .v1(let controllers, _):
            // One bind per hierarchy (`cpu` and `cpuacct` may share one), named as mounted.
            var seen = Set<String>()
            var binds: [ContainerConfig.FileBind] = []
            for (_, mount) in controllers.sorted(by: { $0.key < $1.key }) where seen.insert(mount).inserted {
                let name = String(mount.split(separator: "/").last ?? "")
                guard !name.isEmpty, access(mount + "/" + path, F_OK) == 0 else { continue }
                binds.append(.init(source: mount + "/" + path, target: name))
            }
            return .v1(binds)
        }
    }

    /// Creates the cgroup (and its parents).
    public func create() throws(Failure) {
        for (controller, dir) in directories {
            var current = ""
            for part in dir.split(separator: "/") {
                current += "/" + part
                if mkdir(current, 0o755) != 0 && errno != EEXIST { throw Failure(file: current, errno: errno) }
            }
            // cpuset needs its parents' cpus and mems copied down before a process can join.
            if controller == "cpuset" { copyCpusetDown(dir) }
        }
        if case .v2(let root) = layout {
            // Enable the controllers we write for the children of every ancestor.
            var current = root
            for part in path.split(separator: "/").dropLast() {
                enableControllers(current)
                current += "/" + part
            }
            enableControllers(current)
        }
    }

    /// Enables, for the children of `dir`, the v2 controllers we write (io only where the
    /// kernel offers it: one write, as a missing controller fails the whole line).
    private func enableControllers(_ dir: String) {
        try? write(dir + "/cgroup.subtree_control", "+memory +pids +cpu")
        try? write(dir + "/cgroup.subtree_control", "+io")
    }

    private func copyCpusetDown(_ dir: String) {
        var ancestors: [String] = []
        var d = dir
        while let slash = d.lastIndex(of: "/"), d.count > 1 {
            ancestors.append(d)
            d = String(d[..<slash])
            if d.hasSuffix("/cpuset") { break }
        }
        for a in ancestors.reversed() {
            let parent = String(a[..<(a.lastIndex(of: "/") ?? a.endIndex)])
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let mine = (try? readText(a + "/" + file))?.trimmingNewlines() ?? ""
                if mine.isEmpty, let theirs = try? readText(parent + "/" + file) { try? write(a + "/" + file, theirs) }
            }
        }
    }

    /// Writes the limits.
    public func apply(_ r: Resources) throws(Failure) {
        switch layout {
        case .v2:
            guard let d = dir("") else { return }
            if let m = r.memory { try write(d + "/memory.max", String(m)) }
            if let s = r.memorySwap, let m = r.memory, access(d + "/memory.swap.max", F_OK) == 0 {
                try write(d + "/memory.swap.max", s < 0 ? "max" : String(max(0, s - m)))
            }
            if let c = r.cpus { try write(d + "/cpu.max", "\(Int64((c * 100_000).rounded())) 100000") }
            if let shares = r.cpuShares { try write(d + "/cpu.weight", String(Self.weight(fromShares: shares))) }
            if let p = r.pids { try write(d + "/pids.max", p <= 0 ? "max" : String(p)) }
            if let w = r.blkioWeight {
                // BFQ takes the weight as it is; the io controller's own weight on its scale.
                if access(d + "/io.bfq.weight", F_OK) == 0 {
                    try write(d + "/io.bfq.weight", String(w))
                } else if access(d + "/io.weight", F_OK) == 0 {
                    try write(d + "/io.weight", "default \(Self.ioWeight(fromBlkio: w))")
                }
            }
        case .v1:
            if let d = dir("memory") {
                if let m = r.memory { try write(d + "/memory.limit_in_bytes", String(m)) }
                if let s = r.memorySwap, access(d + "/memory.memsw.limit_in_bytes", F_OK) == 0 {
                    try write(d + "/memory.memsw.limit_in_bytes", String(s))
                }
            }
            if let d = dir("cpu") {
                if let c = r.cpus {
                    try write(d + "/cpu.cfs_period_us", "100000")
                    try write(d + "/cpu.cfs_quota_us", String(Int64((c * 100_000).rounded())))
                }
                if let shares = r.cpuShares { try write(d + "/cpu.shares", String(shares)) }
            }
            if let d = dir("pids"), let p = r.pids { try write(d + "/pids.max", p <= 0 ? "max" : String(p)) }
            if let d = dir("blkio"), let w = r.blkioWeight {
                for file in ["blkio.weight", "blkio.bfq.weight"] where access(d + "/" + file, F_OK) == 0 {
                    try write(d + "/" + file, String(w))
                    break
                }
            }
        }
    }

    /// Restricts device access to Docker's default list and the container's own devices
    /// (everything for privileged containers): the v1 `devices` controller, or on v2 a BPF
    /// device program attached to the cgroup.
    public func applyDevices(privileged: Bool, devices: [ContainerConfig.Device] = []) throws(Failure) {
        let given = devices.map { DeviceRule(type: $0.type == "b" ? "b" : "c", major: $0.major, minor: $0.minor, access: $0.permissions) }
        let rules = privileged ? [DeviceRule(type: "a", major: -1, minor: -1, access: "rwm")] : DeviceRule.defaults + given
        switch layout {
        case .v1:
            guard let d = dir("devices") else { return }
            if privileged {
                try write(d + "/devices.allow", "a")
                return
            }
            try write(d + "/devices.deny", "a")
            for rule in rules { try write(d + "/devices.allow", rule.description) }
        case .v2:
            guard let d = dir("") else { return }
            let fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure(file: d, errno: errno) }
            defer { close(fd) }
            let cRules = rules.map {
                sc_device_rule(type: CChar(UInt8(ascii: $0.type)), major: $0.major, minor: $0.minor, access: $0.accessBits)
            }
            let r = cRules.withUnsafeBufferPointer { sc_attach_device_filter(fd, $0.baseAddress, Int32($0.count)) }
            if r != 0 { throw Failure(file: d + " (BPF device program)", errno: errno) }
        }
    }

    /// cgroup v2's weight for v1 shares (the formula runc and crun use).
    public static func weight(fromShares shares: Int64) -> Int64 {
        guard shares > 0 else { return 100 }
        return 1 + ((max(2, min(shares, 262_144)) - 2) * 9999) / 262_142
    }

    /// cgroup v2's `io.weight` (1–10000) for a blkio weight (10–1000), as runc converts it.
    public static func ioWeight(fromBlkio weight: Int64) -> Int64 {
        let w = max(10, min(weight, 1000))
        return 1 + (w - 10) * 9999 / 990
    }

    /// Moves a process into the cgroup.
    public func add(_ pid: pid_t) throws(Failure) {
        for (_, dir) in directories { try write(dir + "/cgroup.procs", String(pid)) }
    }

    /// The `cgroup.procs` files of the cgroups that `pid` is in, one per hierarchy a container
    /// is placed in (the v2 cgroup, or each v1 controller scompose sets): where a process
    /// exec'd into the container writes itself so that the same limits, device rules and
    /// freezer cover it. Read from `/proc/<pid>/cgroup`, so it follows the container wherever
    /// its cgroup was made.
    public static func procsFiles(ofProcess pid: pid_t, layout: CgroupLayout) -> [String] {
        guard let text = try? readText("/proc/\(pid)/cgroup") else { return [] }
        return procsFiles(membership: text, layout: layout)
    }

    /// `procsFiles(ofProcess:layout:)` for the text of a `/proc/<pid>/cgroup` file.
    static func procsFiles(membership: String, layout: CgroupLayout) -> [String] {
        var out: [String] = []
        func add(_ mount: String, _ path: Substring) {
            let dir = path == "/" ? mount : mount + path
            let file = dir + "/cgroup.procs"
            if !out.contains(file) { out.append(file) }
        }
        for line in membership.split(separator: "\n") {
            // "<hierarchy id>:<controllers>:<path>"; the path may itself hold colons.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            switch layout {
            case .v2(let root):
                if fields[0] == "0" && fields[1].isEmpty { add(root, fields[2]) }
            case .v1(let controllers, _):
                let names = fields[1].split(separator: ",").map(String.init)
                guard let name = names.first(where: { v1Controllers.contains($0) }), let mount = controllers[name] else { continue }
                add(mount, fields[2])
            }
        }
        return out
    }

    /// The processes in the cgroup.
    public func processes() -> [pid_t] {
        guard let first = directories.first?.dir, let text = try? readText(first + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// What the cgroup's processes use now, as `stats` reports it.
    public struct Usage: Sendable, Equatable {
        /// CPU time of all its processes, nanoseconds.
        public var cpuNanoseconds: Int64 = 0
        /// Memory in use without the inactive page cache (as Docker counts it).
        public var memory: Int64 = 0
        /// The memory limit, nil when unlimited.
        public var memoryLimit: Int64?
        public var pids: Int64 = 0
        public var readBytes: Int64 = 0
        public var writeBytes: Int64 = 0

        public init() {}
    }

    public func usage() -> Usage {
        var u = Usage()
        func number(_ file: String?) -> Int64? {
            guard let file, let text = try? readText(file) else { return nil }
            return Int64(text.split(separator: "\n").first ?? "")
        }
        switch layout {
        case .v2:
            guard let d = dir("") else { return u }
            if let text = try? readText(d + "/cpu.stat") { u.cpuNanoseconds = Self.counter("usage_usec", in: text) * 1000 }
            let inactive = (try? readText(d + "/memory.stat")).map { Self.counter("inactive_file", in: $0) } ?? 0
            u.memory = max(0, (number(d + "/memory.current") ?? 0) - inactive)
            u.memoryLimit = number(d + "/memory.max")
            u.pids = number(d + "/pids.current") ?? 0
            for line in ((try? readText(d + "/io.stat")) ?? "").split(separator: "\n") {
                for field in line.split(separator: " ") {
                    let kv = field.split(separator: "=")
                    guard kv.count == 2, let n = Int64(kv[1]) else { continue }
                    if kv[0] == "rbytes" { u.readBytes += n }
                    if kv[0] == "wbytes" { u.writeBytes += n }
                }
            }
        case .v1:
            u.cpuNanoseconds = number(dir("cpuacct").map { $0 + "/cpuacct.usage" }) ?? 0
            if let d = dir("memory") {
                let inactive = (try? readText(d + "/memory.stat")).map { Self.counter("total_inactive_file", in: $0) } ?? 0
                u.memory = max(0, (number(d + "/memory.usage_in_bytes") ?? 0) - inactive)
                // v1 says "unlimited" with a huge page-rounded number.
                u.memoryLimit = number(d + "/memory.limit_in_bytes").flatMap { $0 >= Int64.max / 2 ? nil : $0 }
            }
            u.pids = number(dir("pids").map { $0 + "/pids.current" }) ?? 0
            let blkio = dir("blkio").flatMap { try? readText($0 + "/blkio.throttle.io_service_bytes") } ?? ""
            for line in blkio.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 3, let n = Int64(parts[2]) else { continue }
                if parts[1] == "Read" { u.readBytes += n }
                if parts[1] == "Write" { u.writeBytes += n }
            }
        }
        return u
    }

    /// Whether the kernel's OOM killer killed a process of the cgroup.
    public func oomKilled() -> Bool {
        switch layout {
        case .v2:
            guard let d = dir(""), let text = try? readText(d + "/memory.events") else { return false }
            return Self.counter("oom_kill", in: text) > 0
        case .v1:
            guard let d = dir("memory"), let text = try? readText(d + "/memory.oom_control") else { return false }
            return Self.counter("oom_kill", in: text) > 0
        }
    }

    static func counter(_ name: String, in text: String) -> Int64 {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Int64(parts[1]) ?? 0 }
        }
        return 0
    }

    /// Freezes (`pause`) or thaws (`unpause`) every process of the cgroup.
    public func setFrozen(_ frozen: Bool) throws(Failure) {
        switch layout {
        case .v2: if let d = dir("") { try write(d + "/cgroup.freeze", frozen ? "1" : "0") }
        case .v1: if let d = dir("freezer") { try write(d + "/freezer.state", frozen ? "FROZEN" : "THAWED") }
        }
    }

    /// Whether the cgroup is frozen (`pause`d).
    public var isFrozen: Bool {
        switch layout {
        case .v2:
            guard let d = dir(""), let text = try? readText(d + "/cgroup.freeze") else { return false }
            return text.hasPrefix("1")
        case .v1:
            guard let d = dir("freezer"), let text = try? readText(d + "/freezer.state") else { return false }
            return text.hasPrefix("FROZEN") || text.hasPrefix("FREEZING")
        }
    }

    /// Removes the cgroup (it must have no processes left).
    public func remove() throws(Failure) {
        for (_, dir) in directories where rmdir(dir) != 0 && errno != ENOENT {
            throw Failure(file: dir, errno: errno)
        }
    }

    func write(_ file: String, _ value: String) throws(Failure) {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(file: file, errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw Failure(file: file, errno: n < 0 ? errno : EIO) }
    }
}

/// Reads a whole file as text, including /proc and /sys files that report size 0.
func readText(_ path: String) throws(Cgroup.Failure) -> String {
    do {
        return String(decoding: try Files.read(path), as: UTF8.self)
    } catch {
        throw Cgroup.Failure(file: path, errno: error.errno)
    }
}

extension String {
    /// Without its trailing newlines and spaces (of a /proc or /sys file, a helper's output).
    func trimmingNewlines() -> String {
        var s = self
        while s.hasSuffix("\n") || s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
