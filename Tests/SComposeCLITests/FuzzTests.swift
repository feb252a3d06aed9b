// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

import SComposeLoader

/// Mutates the conformance corpus's compose files (bytes and structure) and loads each mutant:
/// the loader must return a model or an error, never crash or hang. The long run (10 minutes
/// and more, in separate processes with time and memory limits) is `scripts/fuzz-loader.py`;
/// this is the short in-process version CI runs. `SCOMPOSE_FUZZ_ITERATIONS` sets its length.
@Suite struct FuzzTests {
    static let tokens: [String] = [
        "", "~", "null", "[]", "{}", "-1", "1e309", "${", "${A:-${B}}", "$$", "${X:?boom}", "!reset ", "!override ",
        "&a ", "*a", "<<: *a", "'", "\"", "\t", ":", "- ", "? ", "|", ">", "---", "#", "65536:80", "../..", "\u{0}",
        "services:", "image: x", "ports: [\"1-3:1-2\"]", "volumes: [\":::\"]", "extends: x", "include: [x]",
    ]

    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ text: String, _ rng: inout Generator) -> String {
        var lines = text.components(separatedBy: "\n")
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let i = Int.random(in: 0..<max(lines.count, 1), using: &rng)
            if lines.isEmpty { lines = [""] }
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: lines.insert(lines[i], at: i)
            case 1: lines.remove(at: i)
            case 2: lines[i] = String(repeating: " ", count: Int.random(in: 0...6, using: &rng)) + lines[i].trimmingCharacters(in: .whitespaces)
            case 3: lines[i] += tokens.randomElement(using: &rng) ?? ""
            case 4:
                var bytes = Array(lines[i].utf8)
                if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                lines[i] = String(decoding: bytes, as: UTF8.self)
            default:
                let j = Int.random(in: 0..<lines.count, using: &rng)
                lines.swapAt(i, j)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The files to mutate: the conformance corpus's, or where a clone has none beside it, the
    /// project's examples (fewer shapes, but the same guarantees).
    static func sources() throws -> [String] {
        var paths: [String] = []
        if let corpus = CorpusLocation.publicCases {
            paths = try FileManager.default.contentsOfDirectory(atPath: corpus).sorted().map { corpus + "/" + $0 + "/compose.yaml" }
        } else {
            print("FuzzTests: \(CorpusLocation.missing); mutating the examples' compose files instead")
            let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("examples").path
            for example in try FileManager.default.contentsOfDirectory(atPath: examples).sorted() {
                for file in (try? FileManager.default.contentsOfDirectory(atPath: examples + "/" + example)) ?? []
                where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                    paths.append(examples + "/" + example + "/" + file)
                }
            }
        }
        return paths.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    }

    @Test func mutatedCorpusNeverCrashes() throws {
        let sources = try Self.sources()
        try #require(!sources.isEmpty, "no compose files to mutate")
        let iterations = Int(ProcessInfo.processInfo.environment["SCOMPOSE_FUZZ_ITERATIONS"] ?? "") ?? 3000
        var rng = Generator(state: 20_261_126)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var accepted = 0
        var rejected = 0
        for _ in 0..<iterations {
            guard let source = sources.randomElement(using: &rng) else { break }
            let mutant = Self.mutate(source, &rng)
            let started = ContinuousClock.now
            var options = ProjectOptions(environment: ["HOME": "/tmp/h"], currentDirectory: dir)
            options.configFiles = ["-"]
            options.projectName = "fuzz"
            options.readStandardInput = { Array(mutant.utf8) }
            do {
                let loaded = try Loader.load(options)
                _ = Render.text(try Render.project(loaded.model), format: .yaml, escapeDollars: true)
                accepted += 1
            } catch {
                rejected += 1
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(5), "slow input:\n\(mutant)")
        }
        #expect(accepted + rejected == iterations)
    }
}
