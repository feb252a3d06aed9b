// SPDX-License-Identifier: Apache-2.0

/// A step of a command's progress, as the engine tells it; the CLI words it as Compose does
/// for `--progress` (plain or TTY lines, JSON objects, or nothing): `ProgressOutput`.
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
    /// A resource's step that failed: `Container web-1  Error: …`.
    case failed(Resource, String, EngineError)
    /// An error the command carried on past (a failed `pre_stop` hook).
    case warned(EngineError)

    /// Compose's id of what the event is about (`Container web-1`, `web`); nil for warnings
    /// and output.
    public var id: String? {
        switch self {
        case .resource(let kind, let name, _): "\(kind.rawValue) \(name)"
        case .image(let service, _): service
        case .failed(let kind, let name, _): "\(kind.rawValue) \(name)"
        case .warning, .output, .warned: nil
        }
    }
}
