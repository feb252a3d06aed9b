// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeCLI
import Testing

/// Replays every case of the conformance corpus (`shared/compose-corpus`, real compose files
/// with Docker Compose's own `config --format json` output) through `scompose config`, in
/// process, with the case's environment and arguments, and compares canonical JSON.
/// Cases listed in `corpus-exclusions.txt` are left out, with the reason written there.
@Suite struct CorpusReplayTests {
    struct Case {
        var name: String
        var dir: String
        var env: [String: String]
        var arguments: [String]
        var expectedRC: Int
    }

    static func cases() throws -> [Case] {
        guard let root = CorpusLocation.publicCases else { return [] }
        var out: [Case] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: root).sorted() {
            let dir = root + "/" + name
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            if FileManager.default.fileExists(atPath: dir + "/SKIP") { continue }
            var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/tmp/h"]
            var extra: [String] = []
            var projectName = true
            if let args = try? String(contentsOfFile: dir + "/args", encoding: .utf8) {
                for raw in args.split(separator: "\n") {
                    let line = raw.trimmingCharacters(in: .whitespaces)
                    if line.isEmpty || line.hasPrefix("#") { continue }
                    if line.hasPrefix("ENV ") {
                        let body = line.dropFirst(4)
                        let parts = body.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                        env[String(parts[0]).trimmingCharacters(in: .whitespaces)] = parts.count > 1 ? String(parts[1]) : ""
                    } else if line == "NO_PROJECT_NAME" {
                        projectName = false
                    } else {
                        extra += shellSplit(line)
                    }
                }
            }
            let rc = Int((try String(contentsOfFile: dir + "/expected.rc", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let arguments = (projectName ? ["-p", name] : []) + extra + ["config", "--format", "json"]
            out.append(Case(name: name, dir: dir, env: env, arguments: arguments, expectedRC: rc))
        }
        return out
    }

    /// Splits like Python's shlex.split for the simple quoting the corpus uses.
    static func shellSplit(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var has = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                has = true
            } else if c == " " || c == "\t" {
                if has { words.append(current) }
                current = ""
                has = false
            } else {
                current.append(c)
                has = true
            }
        }
        if has { words.append(current) }
        return words
    }

    static func canonical(_ text: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func exclusions() -> Set<String> {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("corpus-exclusions.txt")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
        var out = Set<String>()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if let name = line.split(separator: " ").first { out.insert(String(name)) }
        }
        return out
    }

    @Test(.enabled(if: CorpusLocation.publicCases != nil, CorpusLocation.missing))
    func corpusMatchesDockerCompose() throws {
        let cases = try Self.cases()
        try #require(!cases.isEmpty, "the conformance corpus at \(CorpusLocation.publicCases ?? "") has no cases")
        let excluded = Self.exclusions()
        var acceptedPass = 0
        var acceptedTotal = 0
        var rejectedPass = 0
        var rejectedTotal = 0
        var failures: [String] = []
        for c in cases where !excluded.contains(c.name) {
            var output: String?
            var failure: String?
            do {
                output = try SCompose.configOutput(arguments: c.arguments, environment: c.env, currentDirectory: c.dir)
            } catch {
                failure = "\(error)"
            }
            if c.expectedRC != 0 {
                rejectedTotal += 1
                if output == nil { rejectedPass += 1 } else { failures.append("\(c.name): expected a failure") }
                continue
            }
            acceptedTotal += 1
            guard let output else {
                failures.append("\(c.name): \(failure ?? "")")
                continue
            }
            let got = Self.canonical(output.replacingOccurrences(of: c.dir, with: "${CASE_DIR}"))
            var matched = false
            for file in (try? FileManager.default.contentsOfDirectory(atPath: c.dir)) ?? []
            where file.hasPrefix("expected") && file.hasSuffix(".json") {
                let want = try String(contentsOfFile: c.dir + "/" + file, encoding: .utf8)
                if got != nil && got == Self.canonical(want) { matched = true }
            }
            if matched { acceptedPass += 1 } else { failures.append("\(c.name): JSON differs") }
        }
        // YAML is not part of the contract (JSON is), but it should read the same as Compose's.
        var yamlSame = 0
        var yamlTotal = 0
        for c in cases where c.expectedRC == 0 && !excluded.contains(c.name) {
            guard let want = try? String(contentsOfFile: c.dir + "/expected.yaml", encoding: .utf8) else { continue }
            yamlTotal += 1
            let arguments = Array(c.arguments.dropLast(3)) + ["config", "--format", "yaml"]
            if let got = try? SCompose.configOutput(arguments: arguments, environment: c.env, currentDirectory: c.dir),
                got.replacingOccurrences(of: c.dir, with: "${CASE_DIR}") == want
            {
                yamlSame += 1
            }
        }
        print("config --format yaml identical to Docker Compose's text: \(yamlSame)/\(yamlTotal)")
        #expect(Double(yamlSame) >= 0.95 * Double(yamlTotal))
        for f in failures { print("FAIL \(f)") }
        print("accepted by Docker Compose: \(acceptedPass)/\(acceptedTotal) identical; rejected: \(rejectedPass)/\(rejectedTotal) rejected")
        print("\(acceptedPass + rejectedPass) passed, \(failures.count) failed")
        #expect(Double(acceptedPass) >= 0.97 * Double(acceptedTotal))
        #expect(rejectedPass == rejectedTotal)
    }
}

/// Where the conformance corpus is: `SCOMPOSE_CORPUS`, or `shared/compose-corpus` beside the checkout.
/// A clone without it skips the tests that need it, saying why; CI names it in `SCOMPOSE_CORPUS`,
/// so that there a missing corpus fails instead.
enum CorpusLocation {
    static let missing: Comment =
        "the conformance corpus is not here: set SCOMPOSE_CORPUS or put shared/compose-corpus beside the checkout"

    static var publicCases: String? {
        if let env = ProcessInfo.processInfo.environment["SCOMPOSE_CORPUS"] {
            return env + "/public"
        }
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<5 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("shared/compose-corpus/public").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }
}
