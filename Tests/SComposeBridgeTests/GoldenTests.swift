// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeBridge
import SComposeYAML
import Testing

@Suite struct BridgeGoldenTests {
    /// Each case's output, byte for byte.
    @Test(arguments: Golden.cases) func convertsAsExpected(_ name: String) throws {
        let result = try Golden.convert(name)
        let expectedDirectory = Golden.fixtures.appendingPathComponent(name + "/expected")
        if Golden.updating {
            try Golden.write(result.files, to: expectedDirectory)
            return
        }
        let expected = Golden.read(expectedDirectory)
        #expect(!expected.isEmpty, "no expected output for \(name): run with SCOMPOSE_UPDATE_GOLDEN=1")
        let actual = Dictionary(uniqueKeysWithValues: result.files.map { ($0.path, $0.text) })
        #expect(actual.keys.sorted() == expected.keys.sorted(), "\(name): the files differ")
        for path in actual.keys.sorted() where expected[path] != nil {
            #expect(actual[path] == expected[path], "\(name)/\(path) differs from the golden file")
        }
    }

    /// Converting again gives the same bytes (no dictionary order leaks into the output).
    @Test(arguments: Golden.cases) func isStable(_ name: String) throws {
        let first = try Golden.convert(name)
        for _ in 0..<3 {
            let again = try Golden.convert(name)
            #expect(again.files == first.files)
            #expect(again.warnings == first.warnings)
        }
    }

    @Test func coversTheExamplesAndTwentyMappings() throws {
        let examples = try FileManager.default.contentsOfDirectory(atPath: Golden.repository.appendingPathComponent("examples").path)
        for example in examples.sorted() {
            #expect(Golden.cases.contains("example-" + example), "examples/\(example) has no golden case")
        }
        #expect(Golden.cases.filter { !$0.hasPrefix("example-") }.count >= 20)
    }

    /// The chart's templates, rendered with its values, are the manifests' objects.
    @Test(arguments: Golden.cases) func helmChartRendersToTheManifests(_ name: String) throws {
        let manifests = try Golden.convert(name, format: .kustomize).files
        let chart = try Golden.convert(name, format: .helm).files
        let values = try #require(chart.first { $0.path == "values.yaml" })
        #expect(chart.contains { $0.path == "Chart.yaml" })
        let render = try HelmRender(valuesYAML: values.text)
        let parser = YAMLParser()
        var rendered: [String: String] = [:]
        for file in chart where file.path.hasPrefix("templates/") {
            let text = try render.render(file.text)
            let nodes = try parser.parse(text)
            rendered[String(file.path.dropFirst("templates/".count))] = nodes.map(canonical).joined()
        }
        var expected: [String: String] = [:]
        for file in manifests where file.path.hasSuffix(".yaml") && file.path != "kustomization.yaml" {
            expected[file.path] = try parser.parse(file.text).map(canonical).joined()
        }
        #expect(rendered.keys.sorted() == expected.keys.sorted())
        for key in expected.keys.sorted() {
            #expect(rendered[key] == expected[key], "\(name): templates/\(key) renders to another object")
        }
    }

    /// Every object of every case against Kubernetes' own models (the official Python client):
    /// unknown fields, missing required ones and wrong types are errors.
    @Test func manifestsMatchTheKubernetesSchema() throws {
        if ProcessInfo.processInfo.environment["SCOMPOSE_SKIP_K8S_SCHEMA"] == "1" {
            print("skipped: SCOMPOSE_SKIP_K8S_SCHEMA=1 (the manifests are not checked against Kubernetes' schema)")
            return
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-bridge-schema-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        var directories: [String] = []
        for name in Golden.cases {
            let directory = root.appendingPathComponent(name)
            try Golden.write(try Golden.convert(name, format: .kustomize).files, to: directory)
            directories.append(directory.path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Golden.checker.path] + directories
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            Issue.record("python3 could not be started (\(error)); install it and `pip install kubernetes`, or set SCOMPOSE_SKIP_K8S_SCHEMA=1")
            return
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the Kubernetes schema check failed:\n\(output)")
        #expect(output.contains("objects valid"), "unexpected checker output:\n\(output)")
    }
}
