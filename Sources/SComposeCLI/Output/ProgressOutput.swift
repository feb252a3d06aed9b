// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import SComposeOS

/// The engine's progress as `--progress` asks, on standard error: Compose's lines (`auto`,
/// `tty`, `plain`), one JSON object per step (`json`: `{"id":"Container web-1","text":"Started"}`,
/// as Compose's JSON writer), or nothing but warnings and errors (`quiet`).
enum ProgressOutput {
    enum Mode: String {
        case auto, tty, plain, json, quiet
    }

    /// Set once from the verb's global options, before any engine runs.
    nonisolated(unsafe) static var mode: Mode = .auto

    static func render(_ event: ProgressEvent) {
        switch (mode, event) {
        case (.quiet, .resource), (.quiet, .image), (.quiet, .output):
            return
        case (.json, .resource), (.json, .image), (.json, .failed):
            var fields: [String] = []
            if let id = event.id { fields.append("\"id\":" + JSONText.quote(id)) }
            if let text = text(event) { fields.append("\"text\":" + JSONText.quote(text)) }
            Console.error("{" + fields.joined(separator: ",") + "}")
        default:
            Console.error(" " + line(event))
        }
    }

    /// The step's word (`Started`, `Error: …`); nil for warnings and output.
    static func text(_ event: ProgressEvent) -> String? {
        switch event {
        case .resource(_, _, let text), .image(_, let text): text
        case .failed(_, _, let error): "Error: " + ErrorWording.message(error)
        case .warning, .output, .warned: nil
        }
    }

    /// Compose's plain line for it.
    static func line(_ event: ProgressEvent) -> String {
        switch event {
        case .resource(let kind, let name, let text): "\(kind.rawValue) \(name)  \(text)"
        case .failed(let kind, let name, let error): "\(kind.rawValue) \(name)  Error: " + ErrorWording.message(error)
        case .image(let service, let text): "\(service) \(text)"
        case .warning(let text): "WARN \(text)"
        case .warned(let error): "WARN " + ErrorWording.message(error)
        case .output(let text): text
        }
    }
}

/// What `watch` tells, on standard error.
enum WatchOutput {
    static func say(_ event: WatchEvent) {
        switch event {
        case .line(let line): Console.error(line)
        case .failed(let error): Console.error(ErrorWording.message(error))
        case .built: break
        }
    }
}
