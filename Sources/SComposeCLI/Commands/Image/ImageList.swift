// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only show image IDs")
    var quiet = false

    @Flag(name: .long, help: "Show digests")
    var digests = false

    @Flag(name: [.short, .long], help: "Show all images")
    var all = false

    @Option(name: .long, help: "Format output: table or json")
    var format: String = "table"

    func run() throws {
        let store = try StateRoot.images()
        let records = try store.list()
        let now = Int(time(nil))
        var rows: [[String: String]] = []
        for record in records {
            let names = record.names.compactMap { try? ImageReference(parsing: $0) }
            let created = Clock.parseRFC3339(record.created) ?? now
            let base: [String: String] = [
                "ID": record.id.short, "CreatedSince": Human.since(now - created), "CreatedAt": record.created,
                "Size": Human.size(record.size), "Digest": record.manifest.description,
            ]
            if names.isEmpty {
                rows.append(base.merging(["Repository": "<none>", "Tag": "<none>"]) { $1 })
            } else {
                for n in names {
                    rows.append(base.merging(["Repository": n.familiarRepository, "Tag": n.tag ?? "<none>"]) { $1 })
                }
            }
        }
        if quiet {
            var seen = Set<String>()
            for r in rows where seen.insert(r["ID"] ?? "").inserted { Console.out((r["ID"] ?? "") + "\n") }
            return
        }
        if format == "json" {
            for r in rows {
                let pairs: [(String, JSONValue)] = [
                    ("Containers", .string("N/A")), ("CreatedAt", .string(r["CreatedAt"] ?? "")),
                    ("CreatedSince", .string(r["CreatedSince"] ?? "")), ("Digest", .string(r["Digest"] ?? "")),
                    ("ID", .string(r["ID"] ?? "")), ("Repository", .string(r["Repository"] ?? "")),
                    ("SharedSize", .string("N/A")), ("Size", .string(r["Size"] ?? "")),
                    ("Tag", .string(r["Tag"] ?? "")), ("UniqueSize", .string("N/A")),
                    ("VirtualSize", .string(r["Size"] ?? "")),
                ]
                Console.out(JSONValue.object(pairs).compactText() + "\n")
            }
            return
        }
        guard format == "table" else { throw CLIError("unsupported format \"\(format)\"") }
        var columns = ["REPOSITORY", "TAG"]
        if digests { columns.append("DIGEST") }
        columns += ["IMAGE ID", "CREATED", "SIZE"]
        let keys = columns.map { ["REPOSITORY": "Repository", "TAG": "Tag", "DIGEST": "Digest", "IMAGE ID": "ID",
                                  "CREATED": "CreatedSince", "SIZE": "Size"][$0] ?? $0 }
        Console.out(Table.render(header: columns, rows: rows.map { r in keys.map { r[$0] ?? "" } }))
    }
}
