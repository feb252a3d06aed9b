// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import SComposeLoader

/// A temporary project directory with files, removed when the test ends.
final class TempProject {
    let dir: String

    init(_ files: [String: String]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        dir = base.path
        for (name, text) in files {
            let url = base.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Loads the project in this directory as `config` would, with exactly `env`.
    func load(
        env: [String: String] = [:], files: [String] = [], profiles: [String] = [], name: String? = "test"
    ) throws -> LoadedProject {
        var options = ProjectOptions(environment: env, currentDirectory: dir)
        options.configFiles = files
        options.projectName = name
        options.profiles = profiles
        return try Loader.load(options)
    }

    /// The printed model as parsed JSON.
    func json(env: [String: String] = [:], files: [String] = [], profiles: [String] = []) throws -> [String: Any] {
        let project = try load(env: env, files: files, profiles: profiles)
        let text = Render.text(try Render.project(project.model), format: .json, escapeDollars: true)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any])
    }
}

extension Dictionary where Key == String, Value == Any {
    /// Reads a dotted path (`services.web.image`), with numeric components indexing arrays.
    func at(_ path: String) -> Any? {
        var current: Any? = self
        for part in path.split(separator: ".") {
            if let dict = current as? [String: Any] {
                current = dict[String(part)]
            } else if let array = current as? [Any], let i = Int(part), i < array.count {
                current = array[i]
            } else {
                return nil
            }
        }
        return current
    }
}
