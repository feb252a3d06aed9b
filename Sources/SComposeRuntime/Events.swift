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

    /// Appends one event: a single `write` of one line with `O_APPEND`, so that the engine's
    /// threads and every shim can write to the log at once.
    public func record(_ action: String, id: String, extra: [String: String] = [:]) {
        var attributes = self.attributes
        for (k, v) in extra { attributes[k] = v }
        let event = ContainerEvent(action: action, id: id, service: service, attributes: attributes)
        guard var line = try? StateJSONEncoder().encode(event) else { return }
        line.append(UInt8(ascii: "\n"))
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
