// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// scompose run by an ordinary user: the user's identity, their subordinate ID ranges, where
/// their state lives, and whether the process has joined the user's namespaces yet.
///
/// Rootless scompose works as podman does: one long-lived process per user (the *holder*,
/// `scompose-shim holder`) owns a user namespace that maps the user to root and their
/// `/etc/subuid`/`/etc/subgid` ranges beyond it, a mount namespace and a network namespace
/// (reached from the host through `pasta`). A command that creates or manages containers runs
/// inside those namespaces, where it is root for them: the CLI re-executes itself with
/// `joinVariable` set, and a constructor in `CLinux` joins them before Swift starts (a user
/// namespace can only be joined by a single-threaded process). Everything below that point is
/// the root-mode code, with what a user namespace forbids (cgroups without delegation, device
/// nodes, AppArmor profiles) decided here.
public struct Rootless: Sendable, Equatable {
    /// The invoking user outside the namespace.
    public var uid: UInt32
    public var gid: UInt32
    /// The user's home and XDG directories, from the environment outside.
    public var home: String

    /// Set by the re-executed CLI for itself and every process it starts: the user outside
    /// (`uid:gid`). Its presence is what says "rootless" once `getuid()` answers 0.
    public static let userVariable = "_SCOMPOSE_ROOTLESS"
    /// The holder's pid, for the constructor in `CLinux` to join (and unset).
    public static let joinVariable = "_SCOMPOSE_JOIN"
    /// The host's lowest unprivileged port, carried in: inside, `/proc/sys/net` is the
    /// holder's network namespace's.
    public static let portStartVariable = "_SCOMPOSE_PORT_START"

    /// The lowest host port pasta can bind for the user (rootless); nil in root mode.
    public static var hostPortStart: UInt16? {
        guard ofProcess != nil else { return nil }
        return getenv(portStartVariable).flatMap { UInt16(String(cString: $0)) } ?? 1024
    }

    public init(uid: UInt32, gid: UInt32, home: String) {
        self.uid = uid
        self.gid = gid
        self.home = home
    }

    /// The rootless identity this process runs under: its own when not root, or the one the
    /// re-executed CLI carries inside the namespaces; nil for root mode.
    public static func current(environment: [String: String]) -> Rootless? {
        let home = environment["HOME"] ?? "/"
        if let text = environment[userVariable] {
            let parts = text.split(separator: ":").compactMap { UInt32($0) }
            guard parts.count == 2 else { return nil }
            return Rootless(uid: parts[0], gid: parts[1], home: home)
        }
        guard getuid() != 0 else { return nil }
        return Rootless(uid: getuid(), gid: getgid(), home: home)
    }

    /// `current(environment:)` of this process's own environment.
    public static var ofProcess: Rootless? {
        var env: [String: String] = [:]
        for name in [userVariable, "HOME"] { if let v = getenv(name) { env[name] = String(cString: v) } }
        return current(environment: env)
    }

    /// How many group IDs this process's user namespace maps (`/proc/self/gid_map`): a group
    /// range given to the kernel (`ping_group_range`) must stay inside it.
    public static func mappedGroups() -> UInt32 {
        let text = (try? Files.read("/proc/self/gid_map")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let total = text.split(separator: "\n").compactMap { line -> UInt64? in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.count == 3 ? UInt64(fields[2]) : nil
        }.reduce(0, +)
        return UInt32(clamping: max(total, 1))
    }

    /// Whether this process is inside the user's namespaces (root there).
    public var joined: Bool { getuid() == 0 }

    /// `$XDG_DATA_HOME/scompose`: images, containers, volumes.
    public static func stateRoot(environment: [String: String]) -> String {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") { return data + "/scompose" }
        return (environment["HOME"] ?? "/") + "/.local/share/scompose"
    }

    /// `$XDG_RUNTIME_DIR/scompose` (else a directory of the user's under /tmp): the holder's
    /// pid and lock, which go with the user's session.
    public static func runDirectory(environment: [String: String], uid: UInt32) -> String {
        if let run = environment["XDG_RUNTIME_DIR"], run.hasPrefix("/") { return run + "/scompose" }
        return "/tmp/scompose-\(uid)"
    }
}

/// One range of subordinate IDs of `/etc/subuid` or `/etc/subgid`.
public struct SubordinateRange: Sendable, Equatable {
    public var start: UInt32
    public var count: UInt32

    public init(start: UInt32, count: UInt32) {
        self.start = start
        self.count = count
    }

    /// The ranges of the user named `name` (or with the numeric ID `id`) in the text of
    /// `/etc/subuid` or `/etc/subgid` (`name:start:count` lines; `#` comments).
    public static func parse(_ text: String, name: String, id: UInt32) -> [SubordinateRange] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, !line.hasPrefix("#"), fields[0] == name || fields[0] == "\(id)",
                let start = UInt32(fields[1]), let count = UInt32(fields[2]), count > 0
            else { return nil }
            return SubordinateRange(start: start, count: count)
        }
    }

    /// The arguments of `newuidmap`/`newgidmap` after the pid: the user as 0, then each range
    /// one after the other from 1 (`0 1000 1 1 100000 65536`).
    public static func mapArguments(id: UInt32, ranges: [SubordinateRange]) -> [String] {
        var out = ["0", "\(id)", "1"]
        var inside: UInt64 = 1
        for r in ranges {
            out += ["\(inside)", "\(r.start)", "\(r.count)"]
            inside += UInt64(r.count)
        }
        return out
    }
}

/// Where a container's cgroup goes.
public enum CgroupPlacement: Sendable, Equatable {
    /// A transient systemd scope (cgroup v2 under systemd).
    case systemdScope
    /// A transient scope of the rootless user's own systemd manager, which delegates the
    /// controllers limits need to the user (cgroup v2 under systemd with a user session).
    case userScope(SystemdScope.Manager)
    /// scompose's own tree (`scompose/<id>`).
    case tree
    /// None: rootless with no cgroups delegated to the user; limits are not applied.
    case none

    /// This host's placement for this process's containers.
    public static var host: CgroupPlacement {
        if let rootless = Rootless.ofProcess {
            let runtime = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }.flatMap { $0.hasPrefix("/") ? $0 : nil }
            return SystemdScope.Manager.delegated(uid: rootless.uid, runtimeDirectory: runtime, layout: CgroupLayout.host)
                .map(CgroupPlacement.userScope) ?? .none
        }
        return SystemdScope.applies(layout: CgroupLayout.host) ? .systemdScope : .tree
    }

    /// The systemd manager asked for the container's scope, if any.
    public var manager: SystemdScope.Manager? {
        switch self {
        case .systemdScope: .system
        case .userScope(let manager): manager
        case .tree, .none: nil
        }
    }
}
