// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeBridge
import SComposeLoader

/// The golden cases: `Fixtures/bridge/<case>/` holds `compose.yaml` (or, for `example-<name>`,
/// the project is `examples/<name>/`), an optional `args` file of `bridge convert` flags, and
/// `expected/`, the files the conversion must write byte for byte.
/// `SCOMPOSE_UPDATE_GOLDEN=1` writes `expected/` again (read the diff before committing it).
enum Golden {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = testsDirectory.appendingPathComponent("Fixtures/bridge")
    static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()
    static let checker = testsDirectory.appendingPathComponent("Fixtures/k8s_schema_check.py")

    static var updating: Bool { ProcessInfo.processInfo.environment["SCOMPOSE_UPDATE_GOLDEN"] == "1" }

    /// Every case, sorted.
    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// The project directory of a case.
    static func projectDirectory(_ name: String) -> URL {
        if name.hasPrefix("example-") {
            return repository.appendingPathComponent("examples/" + name.dropFirst("example-".count))
        }
        return fixtures.appendingPathComponent(name)
    }

    struct Arguments {
        var options = BridgeOptions()
        var profiles: [String] = []
        var services: [String] = []
    }

    /// The case's `args` file: the flags of `bridge convert`, whitespace-separated.
    static func arguments(_ name: String) throws -> Arguments {
        var out = Arguments()
        let file = fixtures.appendingPathComponent(name + "/args")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return out }
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)[...]
        while let word = words.popFirst() {
            switch word {
            case "--format":
                guard let value = words.popFirst(), let format = BridgeOptions.Format(rawValue: value) else { throw GoldenError("bad --format in \(name)/args") }
                out.options.format = format
            case "--namespace": out.options.namespace = words.popFirst()
            case "--storage-class": out.options.storageClass = words.popFirst()
            case "--node-ports": out.options.nodePorts = true
            case "--allow-host-paths": out.options.allowHostPaths = true
            case "--profile": out.profiles += words.popFirst().map { [$0] } ?? []
            default: out.services.append(word)
            }
        }
        return out
    }

    /// Loads and converts a case; `format` overrides the case's own.
    static func convert(_ name: String, format: BridgeOptions.Format? = nil) throws -> BridgeResult {
        let directory = projectDirectory(name)
        let args = try arguments(name)
        // A fixed environment: the machine's variables must not change the output.
        var options = ProjectOptions(environment: ["HOME": "/nonexistent"], currentDirectory: directory.path)
        options.configFiles = [directory.appendingPathComponent("compose.yaml").path]
        options.profiles = args.profiles
        options.services = args.services
        let loaded = try Loader.load(options)
        var bridgeOptions = args.options
        if let format { bridgeOptions.format = format }
        let input = try BridgeInput(loaded) { path in
            (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) }
        }
        var result = try Bridge.convert(input, options: bridgeOptions)
        // Bind mounts' host paths are absolute: the checkout's place is written as /PROJECT,
        // so the golden files hold wherever the repository is cloned.
        for i in result.files.indices {
            result.files[i].text = result.files[i].text.replacingOccurrences(of: directory.path, with: "/PROJECT")
        }
        return result
    }

    /// The files under a directory, by relative path.
    static func read(_ directory: URL) -> [String: String] {
        var out: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: directory.path) else { return out }
        while let path = walker.nextObject() as? String {
            let url = directory.appendingPathComponent(path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            out[path] = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        }
        return out
    }

    /// Writes files under a directory (emptied first).
    static func write(_ files: [BridgeFile], to directory: URL) throws {
        try? FileManager.default.removeItem(at: directory)
        for file in files {
            let url = directory.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: url)
        }
    }
}

struct GoldenError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
