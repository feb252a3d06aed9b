// SPDX-License-Identifier: Apache-2.0

/// A step of a command's progress, as the engine tells it; the CLI renders it as Compose does
/// for `--progress` (plain or TTY lines, JSON objects, or nothing).
public enum ProgressEvent: Sendable, Equatable {
    /// What a progress line is about.
    public enum Resource: String, Sendable {
        case container = "Container"
        case network = "Network"
        case volume = "Volume"
        case service = "Service"
        case project = "Project"
    }

    /// A resource's step: `Container web-1  Started`.
    case resource(Resource, String, String)
    /// A service's image pulled or pushed: `web Pulling`.
    case image(service: String, text: String)
    /// Something the user should know that is not a step: `WARN …`.
    case warning(String)
    /// A build's own output, line by line.
    case output(String)

    /// Compose's id of what the event is about (`Container web-1`, `web`); nil for warnings
    /// and output.
    public var id: String? {
        switch self {
        case .resource(let kind, let name, _): "\(kind.rawValue) \(name)"
        case .image(let service, _): service
        case .warning, .output: nil
        }
    }

    /// The step's word (`Started`); nil for warnings and output.
    public var text: String? {
        switch self {
        case .resource(_, _, let text), .image(_, let text): text
        case .warning, .output: nil
        }
    }

    /// Compose's plain line for it.
    public var line: String {
        switch self {
        case .resource(let kind, let name, let text): "\(kind.rawValue) \(name)  \(text)"
        case .image(let service, let text): "\(service) \(text)"
        case .warning(let text): "WARN \(text)"
        case .output(let text): text
        }
    }
}
