// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", _superCommandName: "scompose", abstract: "List images used by the created containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Format the output. Values: [table | json]")
    var format: String = "table"

    @Flag(name: [.short, .long], help: "Only display IDs")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        let (_, containers) = try ProjectContext.containers(global, services: services)
        let store = try ImageStore(root: StateRoot.path)
        let now = Int(time(nil))
        var rows: [[String]] = []
        var json: [JSONValue] = []
        var ids: [String] = []
        for c in containers.sorted(by: { $0.record.name < $1.record.name }) {
            let reference = try? ImageReference(parsing: c.record.image)
            let image = try store.find(c.record.imageID)
            let config = try image.map { try store.config($0) }
            let platform = config.map { "\($0.os)/\($0.architecture)" + ($0.variant.map { "/" + $0 } ?? "") } ?? ""
            let id = c.record.imageID.hasPrefix("sha256:") ? String(c.record.imageID.dropFirst(7)) : c.record.imageID
            let created = config?.created ?? image?.created
            ids.append(c.record.imageID)
            let repository: String = reference?.familiarRepository ?? "<none>"
            let tag: String = reference?.tag ?? "<none>"
            let size: String = Human.size(image?.size ?? 0)
            var age = "N/A"
            if let seconds = created.flatMap(Clock.parseRFC3339) { age = Human.since(now - seconds) }
            rows.append([c.record.name, repository, tag, platform, String(id.prefix(12)), size, age])
            json.append(
                .object([
                    ("ID", .string(c.record.imageID)), ("ContainerName", .string(c.record.name)),
                    ("Repository", .string(reference?.familiarRepository ?? "")), ("Tag", .string(reference?.tag ?? "")),
                    ("Platform", .string(platform)), ("Size", .int(image?.size ?? 0)), ("Created", .string(created ?? "")),
                ]))
        }
        if quiet {
            for id in ids { Console.out(id + "\n") }
            return
        }
        switch format {
        case "json": Console.out(JSONValue.array(json).compactText() + "\n")
        case "table":
            Console.out(
                Table.render(header: ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"], rows: rows))
        default: throw CLIError("unsupported format \"\(format)\"")
        }
    }
}
