// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import FoundationEssentials
import SComposeLoader
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct ImageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more images")

    @Argument(help: "Images")
    var images: [String]

    func run() throws {
        let store = try StateRoot.images()
        var out: [JSONValue] = []
        var missing: [String] = []
        for name in images {
            guard let record = try store.find(name) else {
                missing.append(name)
                continue
            }
            out.append(try Self.inspect(record, store: store))
        }
        Console.out(JSONValue.array(out).text(indent: "    ", sortKeys: false) + "\n")
        if !missing.isEmpty {
            throw CLIError(missing.map { "Error: No such image: \($0)" }.joined(separator: "\n"))
        }
    }

    static func inspect(_ record: ImageRecord, store: ImageStore) throws -> JSONValue {
        let config = try store.config(record)
        let names = record.names.compactMap { try? ImageReference(parsing: $0) }
        let c = config.config ?? ImageConfig.ContainerDefaults()
        func list(_ v: [String]?) -> JSONValue { v.map { .array($0.map(JSONValue.string)) } ?? .null }
        func set(_ v: [String: ImageConfig.Empty]?) -> JSONValue {
            v.map { .object($0.keys.sorted().map { ($0, .object([])) }) } ?? .null
        }
        var labels: JSONValue = .null
        if let l = c.Labels {
            labels = .object(l.keys.sorted().map { key -> (String, JSONValue) in (key, .string(l[key] ?? "")) })
        }
        var fields: [(String, JSONValue)] = []
        fields.append(("Hostname", .string("")))
        fields.append(("Domainname", .string("")))
        fields.append(("User", .string(c.User ?? "")))
        fields.append(("AttachStdin", .bool(false)))
        fields.append(("AttachStdout", .bool(false)))
        fields.append(("AttachStderr", .bool(false)))
        fields.append(("ExposedPorts", set(c.ExposedPorts)))
        fields.append(("Tty", .bool(false)))
        fields.append(("OpenStdin", .bool(false)))
        fields.append(("StdinOnce", .bool(false)))
        fields.append(("Env", list(c.Env)))
        fields.append(("Cmd", list(c.Cmd)))
        if let h = c.Healthcheck {
            var health: [(String, JSONValue)] = [("Test", list(h.Test))]
            for (key, value) in [("Interval", h.Interval), ("Timeout", h.Timeout), ("StartPeriod", h.StartPeriod), ("StartInterval", h.StartInterval)] {
                if let value { health.append((key, .int(value))) }
            }
            if let retries = h.Retries { health.append(("Retries", .int(Int64(retries)))) }
            fields.append(("Healthcheck", .object(health)))
        }
        fields.append(("Image", .string("")))
        fields.append(("Volumes", set(c.Volumes)))
        fields.append(("WorkingDir", .string(c.WorkingDir ?? "")))
        fields.append(("Entrypoint", list(c.Entrypoint)))
        fields.append(("OnBuild", list(c.OnBuild)))
        fields.append(("Labels", labels))
        if let signal = c.StopSignal { fields.append(("StopSignal", .string(signal))) }
        let containerConfig = JSONValue.object(fields)
        let layers = JSONValue.array(config.rootfs.diff_ids.map { .string($0.description) })
        return .object([
            ("Id", .string(record.id.description)),
            ("RepoTags", .array(names.map { .string($0.familiar) })),
            // Only pulled images have registry digests.
            ("RepoDigests", .array([])),
            ("Parent", .string("")), ("Comment", .string(config.history?.last?.comment ?? "")),
            ("Created", .string(config.created ?? record.created)), ("DockerVersion", .string("")),
            ("Author", .string(config.author ?? "")), ("Config", containerConfig),
            ("Architecture", .string(config.architecture)), ("Os", .string(config.os)),
            ("Size", .int(record.size)),
            ("GraphDriver", .object([("Data", .null), ("Name", .string("overlay"))])),
            ("RootFS", .object([("Type", .string("layers")), ("Layers", layers)])),
            ("Metadata", .object([("LastTagTime", .string(""))])),
        ])
    }
}
