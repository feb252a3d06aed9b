// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct NetworkList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only display network IDs")
    var quiet = false

    @Option(name: .long, help: "Format output: table or json")
    var format = "table"

    func run() throws {
        let networks = NetworkCommand.store().list()
        if quiet {
            for n in networks { Console.out(String(n.id.prefix(12)) + "\n") }
            return
        }
        switch format {
        case "json":
            for n in networks {
                let row: [(String, JSONValue)] = [
                    ("CreatedAt", .string(n.created)), ("Driver", .string(n.driver)), ("ID", .string(String(n.id.prefix(12)))),
                    ("Internal", .string(n.isInternal ? "true" : "false")), ("IPv6", .string(n.subnet6 != nil ? "true" : "false")),
                    ("Labels", .string(n.labels.keys.sorted().map { "\($0)=\(n.labels[$0] ?? "")" }.joined(separator: ","))),
                    ("Name", .string(n.name)), ("Scope", .string("local")),
                ]
                Console.out(JSONValue.object(row).compactText() + "\n")
            }
        case "table":
            Console.out(
                Table.render(
                    header: ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                    rows: networks.map { [String($0.id.prefix(12)), $0.name, $0.driver, "local"] }))
        default:
            throw CLIError("unsupported format \"\(format)\"")
        }
    }
}
