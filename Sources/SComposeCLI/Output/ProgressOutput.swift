// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import SComposeOS

/// The engine's progress as `--progress` asks, on standard error: Compose's lines (`auto`,
/// `tty`, `plain`), one JSON object per step (`json`: `{"id":"Container web-1","text":"Started"}`,
/// as Compose's JSON writer), or nothing but warnings (`quiet`).
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
        case (.json, .resource), (.json, .image):
            var fields: [String] = []
            if let id = event.id { fields.append("\"id\":" + JSONText.quote(id)) }
            if let text = event.text { fields.append("\"text\":" + JSONText.quote(text)) }
            Console.error("{" + fields.joined(separator: ",") + "}")
        default:
            Console.error(" " + event.line)
        }
    }
}
