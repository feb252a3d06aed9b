// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// `scompose bridge convert` through the built binary: no containers, no root.
@Suite struct BridgeCommandTests {
    static let example = ImageCommandTests.repo.appendingPathComponent("examples/app-postgres").path

    struct Result {
        var status: Int32
        var err: String
    }

    func scompose(_ args: [String], in directory: String = BridgeCommandTests.example) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // A fixed environment: WEB_PORT or DB_PASSWORD from the caller's must not change the output.
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Result(status: process.terminationStatus, err: text)
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-bridge-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func convertsTheExampleAndRerunsToTheSameFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        let first = try scompose(["bridge", "convert", "-o", out])
        #expect(first.status == 0, "\(first.err)")
        #expect(first.err.contains("WARN[0000] service db is built from a Dockerfile"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        for expected in ["kustomization.yaml", "CONVERSION.md", "statefulset-db.yaml", "deployment-web.yaml", "service-web-published.yaml"] {
            #expect(files.contains(expected))
        }
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) }
        // A re-run leaves a file that holds the same bytes alone (its old time stays), and
        // writes one that differs.
        let kept = out + "/statefulset-db.yaml"
        let old = Date(timeIntervalSince1970: 1_000_000_000)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: kept)
        try Data("changed by hand\n".utf8).write(to: URL(fileURLWithPath: out + "/deployment-web.yaml"))
        #expect(try scompose(["bridge", "convert", "--output", out]).status == 0)
        let after = try files.map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) }
        #expect(before == after)
        #expect(try FileManager.default.attributesOfItem(atPath: kept)[.modificationDate] as? Date == old)
        // The same bytes as the golden case of the example.
        let golden = ImageCommandTests.repo.appendingPathComponent("Tests/SComposeBridgeTests/Fixtures/bridge/example-app-postgres/expected/statefulset-db.yaml")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/statefulset-db.yaml")) == Data(contentsOf: golden))
    }

    @Test func helmFormatWritesAChart() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try scompose(["bridge", "convert", "--format", "helm", "-o", dir + "/chart", "--namespace", "shop"])
        #expect(result.status == 0, "\(result.err)")
        #expect(FileManager.default.fileExists(atPath: dir + "/chart/Chart.yaml"))
        #expect(FileManager.default.fileExists(atPath: dir + "/chart/templates/statefulset-db.yaml"))
        #expect(FileManager.default.fileExists(atPath: dir + "/chart/values.yaml"))
    }

    /// Global flags before the group go to its subcommand: `scompose -f FILE -p NAME bridge convert`.
    @Test func globalFlagsBeforeTheGroup() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try scompose(["-f", Self.example + "/compose.yaml", "-p", "other", "bridge", "convert", "-o", dir + "/out"], in: dir)
        #expect(result.status == 0, "\(result.err)")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/namespace-other.yaml"))
    }

    @Test func unknownFormatIsRefused() throws {
        let result = try scompose(["bridge", "convert", "--format", "yaml", "-o", NSTemporaryDirectory() + "never"])
        #expect(result.status == 1)
        #expect(result.err.contains("unsupported format \"yaml\": use kustomize or helm"))
    }

    @Test func outputThatIsAFileIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/out"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let result = try scompose(["bridge", "convert", "-o", file])
        #expect(result.status == 1)
        #expect(result.err.contains("exists and is not a directory"))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }

    @Test func badNamespaceIsRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try scompose(["bridge", "convert", "--namespace", "Bad_NS", "-o", dir + "/out"])
        #expect(result.status == 1)
        #expect(result.err.contains("--namespace \"Bad_NS\" is not a valid namespace"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    }
}
