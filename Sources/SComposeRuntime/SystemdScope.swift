// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Where a container's cgroup goes on a host whose PID 1 is systemd with the unified (v2)
/// hierarchy: a transient scope per container under `scompose.slice`, asked of systemd over
/// its private D-Bus socket (as podman does for conmon), with the subtree delegated to us.
/// systemd then never moves, freezes or kills what is in it on `daemon-reload` or when the
/// unit that ran `scompose` stops, and `systemd-cgls` lists each container by name. Elsewhere
/// (no systemd, cgroup v1), containers are in `scompose/<id>` of each hierarchy, as before.
///
/// Inside the scope (`scompose.slice/<unit>`) the shim moves itself to `supervisor` and the
/// container goes to `container`: cgroup v2 lets a cgroup with processes enable no controller
/// for its children, so both are leaves.
///
/// Rootless, the manager asked is the user's own (`user@UID.service`, over
/// `$XDG_RUNTIME_DIR/systemd/private`), whose subtree systemd delegates to the user: the scope
/// is then `user.slice/user-UID.slice/user@UID.service/scompose.slice/<unit>`, owned by the user.
public enum SystemdScope {
    public static let slice = "scompose.slice"

    /// The systemd instance that makes the scopes: PID 1 (root mode) or a rootless user's own.
    public struct Manager: Sendable, Codable, Equatable {
        /// Its private D-Bus socket (no bus daemon needed).
        public var socket: String
        /// The ID given for D-Bus's EXTERNAL authentication: the caller's own outside any user
        /// namespace, which is what the manager sees in the socket's peer credentials.
        public var uid: UInt32
        /// Where its units' cgroups are, below the hierarchy's root ("" for PID 1's).
        public var cgroupBase: String

        /// A manager reached on `socket`, authenticated as `uid`, whose units are below `cgroupBase`.
        public init(socket: String, uid: UInt32, cgroupBase: String) {
            self.socket = socket
            self.uid = uid
            self.cgroupBase = cgroupBase
        }

        /// PID 1, for root.
        public static let system = Manager(socket: "/run/systemd/private", uid: 0, cgroupBase: "")

        /// `uid`'s manager (`user@UID.service`), reached in `runtimeDirectory`
        /// (`$XDG_RUNTIME_DIR`, `/run/user/UID` by default).
        public static func user(uid: UInt32, runtimeDirectory: String) -> Manager {
            Manager(
                socket: runtimeDirectory + "/systemd/private", uid: uid,
                cgroupBase: "user.slice/user-\(uid).slice/user@\(uid).service")
        }

        /// The controllers a container's limits need: without any of them delegated to the
        /// user, rootless containers get no cgroup (and `up` lists the limits it ignores).
        public static let neededControllers: Set<String> = ["memory", "pids", "cpu"]

        /// The rootless user `uid`'s manager, when one runs and delegates the controllers the
        /// limits need to the user (cgroup v2 under systemd, a user session or lingering);
        /// nil otherwise.
        public static func delegated(uid: UInt32, runtimeDirectory: String?, layout: CgroupLayout?) -> Manager? {
            guard case .v2(let root)? = layout else { return nil }
            let manager = user(uid: uid, runtimeDirectory: runtimeDirectory ?? "/run/user/\(uid)")
            guard access(manager.socket, F_OK) == 0,
                let text = try? Files.read(root + "/" + manager.cgroupBase + "/cgroup.controllers")
            else { return nil }
            let controllers = Set(String(decoding: text, as: UTF8.self).split(whereSeparator: \.isWhitespace).map(String.init))
            return neededControllers.isSubset(of: controllers) ? manager : nil
        }
    }

    /// Whether containers go into systemd scopes here: systemd is PID 1 (it made
    /// `/run/systemd/system`) and cgroups are v2 only.
    public static func applies(layout: CgroupLayout?) -> Bool {
        guard case .v2? = layout else { return false }
        return access("/run/systemd/system", F_OK) == 0 && access(privateSocket, F_OK) == 0
    }

    /// The scope's unit name for a container: its name (as `systemd-cgls` shows it) and the
    /// start of its id (names are unique per state root, not per machine).
    public static func unitName(container name: String, id: String) -> String {
        let safe = String(name.unicodeScalars.map { c -> Character in
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "." || c == "-"
            return ok ? Character(c) : "_"
        })
        return "scompose-\(safe)-\(id.prefix(12)).scope"
    }

    /// The container's cgroup below the hierarchy's root, for a scope of `manager`.
    public static func containerCgroup(unit: String, manager: Manager = .system) -> String {
        scopeCgroup(unit: unit, manager: manager) + "/container"
    }

    /// The shim's own cgroup in the scope.
    public static func supervisorCgroup(unit: String, manager: Manager = .system) -> String {
        scopeCgroup(unit: unit, manager: manager) + "/supervisor"
    }

    static func scopeCgroup(unit: String, manager: Manager) -> String {
        (manager.cgroupBase.isEmpty ? "" : manager.cgroupBase + "/") + "\(slice)/\(unit)"
    }

    static let privateSocket = Manager.system.socket

    /// Why the scope could not be had.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `StartTransientUnit` for a scope holding `pid`, as a message.
    static func startMessage(unit: String, description: String, pid: pid_t, serial: UInt32) -> DBusMessage {
        func property(_ name: String, _ value: DBusValue) -> DBusValue { .structure([.string(name), .variant(value)]) }
        let properties: [DBusValue] = [
            property("Description", .string(description)),
            property("Slice", .string(slice)),
            // The subtree is ours: systemd enables the controllers above it and leaves it alone.
            property("Delegate", .bool(true)),
            // A scope whose processes ended (or failed) is forgotten, so its name can be used again.
            property("CollectMode", .string("inactive-or-failed")),
            property("PIDs", .array(elementSignature: "u", [.uint32(UInt32(pid))])),
        ]
        return .call(
            serial: serial, destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager", member: "StartTransientUnit",
            body: [
                .string(unit), .string("fail"), .array(elementSignature: "(sv)", properties),
                .array(elementSignature: "(sa(sv))", []),
            ])
    }

    /// Puts `pid` (the shim) into a new scope `unit` and waits until it is in it. A scope of
    /// that name still being stopped (the container ran a moment ago) is waited for.
    public static func start(unit: String, description: String, pid: pid_t = getpid(), manager: Manager = .system) throws(Failure) {
        var lastError = ""
        for attempt in 0..<40 {
            let reply = try call(startMessage(unit: unit, description: description, pid: pid, serial: UInt32(attempt + 1)), manager: manager)
            if reply.kind == .methodReturn {
                try waitUntilIn(unit: unit, pid: pid)
                return
            }
            lastError = "\(reply.errorName ?? "error"): \(reply.firstString ?? "")"
            guard reply.errorName == "org.freedesktop.systemd1.UnitExists" else { break }
            usleep(50_000)
        }
        throw Failure(description: "systemd refused the scope \(unit): \(lastError)")
    }

    /// Puts the calling process (the shim) into the scope `unit` and then into its `supervisor`
    /// leaf, so that the scope can enable controllers for the container's cgroup beside it.
    public static func enter(unit: String, layout: CgroupLayout, manager: Manager = .system) throws(Failure) {
        guard case .v2 = layout else { return }
        let name = unit.hasPrefix("scompose-") && unit.hasSuffix(".scope") ? String(unit.dropFirst(9).dropLast(6)) : unit
        try start(unit: unit, description: "scompose container \(name)", manager: manager)
        let supervisor = Cgroup(layout: layout, path: supervisorCgroup(unit: unit, manager: manager))
        do {
            try supervisor.create()
            try supervisor.add(getpid())
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// A container's scope as a process started into it from outside asks for it: the manager
    /// that holds the scope, and its unit.
    public struct Entry: Sendable, Equatable {
        public var manager: Manager
        public var unit: String

        public init(manager: Manager, unit: String) {
            self.manager = manager
            self.unit = unit
        }
    }

    /// `AttachProcessesToUnit` of `pids` into `subcgroup` of the delegated `unit`, as a message.
    static func attachMessage(unit: String, subcgroup: String, pids: [pid_t], serial: UInt32) -> DBusMessage {
        .call(
            serial: serial, destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager", member: "AttachProcessesToUnit",
            body: [.string(unit), .string(subcgroup), .array(elementSignature: "u", pids.map { .uint32(UInt32($0)) })])
    }

    /// Has `entry`'s manager move `pid` into the `supervisor` leaf of the scope and waits until
    /// it is there. For a rootless `exec`: the user may move processes between cgroups only
    /// below a cgroup they own, and their login session is not below their manager's subtree.
    /// The manager may ask PID 1 (over the system bus), which checks that the process, the
    /// caller and the manager are the same user's. From `supervisor`, the process's child
    /// moves itself into the container's leaf as in root mode.
    public static func attach(_ pid: pid_t, to entry: Entry) throws(Failure) {
        let reply = try call(attachMessage(unit: entry.unit, subcgroup: "/supervisor", pids: [pid], serial: 1), manager: entry.manager)
        guard reply.kind == .methodReturn else {
            throw Failure(description: "systemd did not move the process into \(entry.unit): \(reply.errorName ?? "error"): \(reply.firstString ?? "")")
        }
        try waitUntilIn(unit: entry.unit + "/supervisor", pid: pid)
    }

    /// systemd moves the process when the job runs, right after it answers.
    static func waitUntilIn(unit: String, pid: pid_t) throws(Failure) {
        for _ in 0..<500 {
            if let text = try? Files.read("/proc/\(pid)/cgroup"),
                String(decoding: text, as: UTF8.self).contains("/\(unit)\n")
            {
                return
            }
            usleep(10_000)
        }
        throw Failure(description: "systemd did not move the process into \(unit)")
    }

    /// One method call on a manager's private socket (its owner only; no bus daemon needed).
    /// A user's manager moves a process it may not move itself (one outside its subtree, as
    /// a shim started from the user's login session is) by asking PID 1, over the system bus.
    static func call(_ message: DBusMessage, manager: Manager = .system) throws(Failure) -> DBusMessage {
        let privateSocket = manager.socket
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = UnixSocket.address(privateSocket)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect \(privateSocket): \(String(cString: strerror(errno)))") }
        // SASL EXTERNAL: our uid (outside: root for PID 1, the user for theirs), in hex of
        // its decimal digits; then BEGIN, and messages.
        let uid = String(manager.uid == 0 ? getuid() : manager.uid).utf8.map { String($0, radix: 16) }.joined()
        try send(fd, [0] + Array("AUTH EXTERNAL \(uid)\r\n".utf8), socket: privateSocket)
        var buffer: [UInt8] = []
        while !buffer.contains(UInt8(ascii: "\n")) { buffer += try receive(fd, socket: privateSocket) }
        guard buffer.starts(with: Array("OK ".utf8)) else {
            throw Failure(description: "systemd refused our credentials: \(String(decoding: buffer, as: UTF8.self))")
        }
        try send(fd, Array("BEGIN\r\n".utf8) + message.bytes, socket: privateSocket)
        buffer = Array(buffer[(buffer.firstIndex(of: UInt8(ascii: "\n")) ?? 0) + 1..<buffer.count])
        while true {
            do throws(DBusMessage.ParseError) {
                if let length = try DBusMessage.length(ofMessageAt: buffer), buffer.count >= length {
                    let reply = try DBusMessage.parse(Array(buffer[0..<length]))
                    buffer.removeFirst(length)
                    if reply.replySerial == message.serial { return reply }
                    continue
                }
            } catch {
                throw Failure(description: "systemd's answer: \(error)")
            }
            buffer += try receive(fd, socket: privateSocket)
        }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8], socket privateSocket: String) throws(Failure) {
        do {
            try Files.writeAll(fd, bytes, what: privateSocket)
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    static func receive(_ fd: Int32, socket privateSocket: String) throws(Failure) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure(description: "reading \(privateSocket): \(String(cString: strerror(errno)))") }
            if n == 0 { throw Failure(description: "systemd closed \(privateSocket)") }
            return Array(chunk[0..<n])
        }
    }
}
