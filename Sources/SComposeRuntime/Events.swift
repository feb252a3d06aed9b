// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// One line of a project's event log (`$SCOMPOSE_ROOT/projects/<name>.events`): what Docker
/// reports as a container event, written by the engine (create, kill, stop, pause, destroy…)
/// and by the shims (start, die, health_status…).
public struct ContainerEvent: Sendable, Codable, Equatable {
    /// RFC 3339 with nanoseconds, UTC.
    public var time: String
    /// Docker's action: `create`, `start`, `die`, `health_status: healthy`…
    public var action: String
    /// The container id.
    public var id: String
    public var service: String
    /// `name`, `image`, and `exitCode` for `die`.
    public var attributes: [String: String]

    public init(action: String, id: String, service: String, attributes: [String: String], time: String = Clock.rfc3339Now()) {
        self.time = time
        self.action = action
        self.id = id
        self.service = service
        self.attributes = attributes
    }
}

/// Who a container is, for the events about it (kept in its shim's spec).
public struct EventSource: Sendable, Codable, Equatable {
    /// The project's event log.
    public var path: String
    public var service: String
    public var attributes: [String: String]

    public init(path: String, service: String, attributes: [String: String]) {
        self.path = path
        self.service = service
        self.attributes = attributes
    }

    /// Past this size the log becomes `<log>.1` (replacing the one before) and a new one starts.
    public static let rotateBytes: Int64 = 4 << 20

    /// Appends one event: a single `write` of one line with `O_APPEND`, so that the engine's
    /// threads and every shim can write to the log at once.
    public func record(_ action: String, id: String, extra: [String: String] = [:]) {
        var attributes = self.attributes
        for (k, v) in extra { attributes[k] = v }
        let event = ContainerEvent(action: action, id: id, service: service, attributes: attributes)
        guard var line = try? StateJSONEncoder().encode(event) else { return }
        line.append(UInt8(ascii: "\n"))
        var fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        var st = stat()
        if fstat(fd, &st) == 0, Int64(st.st_size) >= Self.rotateBytes {
            fd = rotate(fd)
            guard fd >= 0 else { return }
        }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Moves the full log aside and opens a new one. Under the old file's lock, and only when
    /// the name still points at it: of writers rotating at once, one moves the log, the
    /// others write to the new one (none moves a fresh log over the full one).
    private func rotate(_ fd: Int32) -> Int32 {
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        var held = stat()
        var named = stat()
        if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev {
            rename(path, path + ".1")
        }
        close(fd)
        return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    }
}
