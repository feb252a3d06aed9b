// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct VolumeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only display volume names")
    var quiet = false

    @Option(name: .long, help: "Format output: table or json")
    var format = "table"

    @Option(name: [.customShort("f"), .long], help: "Provide filter values (e.g. \"label=com.docker.compose.project=app\", \"dangling=true\", \"name=x\")")
    var filter: [String] = []

    func run() throws {
        let store = VolumeCommand.store()
        var volumes = store.list()
        for f in filter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError("bad format of filter (expected name=value)") }
            switch parts[0] {
            case "name": volumes = volumes.filter { $0.name.contains(parts[1]) }
            case "label":
                let kv = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
                volumes = volumes.filter { kv.count == 2 ? $0.labels[kv[0]] == kv[1] : $0.labels[kv[0]] != nil }
            case "dangling":
                let used = ProjectContext.engine().volumesInUse()
                volumes = volumes.filter { (parts[1] == "true" || parts[1] == "1") != used.contains($0.name) }
            case "driver": volumes = volumes.filter { $0.driver == parts[1] }
            default: throw CLIError("invalid filter '\(parts[0])'")
            }
        }
        if quiet {
            for v in volumes { Console.out(v.name + "\n") }
            return
        }
        switch format {
        case "json":
            for v in volumes {
                let labels = v.labels.keys.sorted().map { "\($0)=\(v.labels[$0] ?? "")" }.joined(separator: ",")
                let row: [(String, JSONValue)] = [
                    ("Driver", .string(v.driver)), ("Labels", .string(labels)), ("Links", .string("N/A")),
                    ("Mountpoint", .string(store.dataPath(v.name))), ("Name", .string(v.name)), ("Scope", .string("local")),
                    ("Size", .string("N/A")),
                ]
                Console.out(JSONValue.object(row).compactText() + "\n")
            }
        case "table":
            Console.out(Table.render(header: ["DRIVER", "VOLUME NAME"], rows: volumes.map { [$0.driver, $0.name] }, minWidth: 10))
        default:
            throw CLIError("unsupported format \"\(format)\"")
        }
    }
}
