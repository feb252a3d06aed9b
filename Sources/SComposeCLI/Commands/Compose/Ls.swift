// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// `scompose ls`: the projects that have containers, as `docker compose ls`.
struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", _superCommandName: "scompose", abstract: "List running compose projects")

    @Flag(name: [.short, .long], help: "Show all stopped Compose projects")
    var all = false

    @Flag(name: [.short, .long], help: "Only display project names")
    var quiet = false

    @Option(name: .long, help: "Format the output. Values: [table | json]")
    var format = "table"

    @Option(name: .long, help: "Filter output based on conditions provided (name=...)")
    var filter: [String] = []

    func run() throws {
        // Without -a, only running containers count (Docker lists those by default).
        let containers = ProjectContext.engine().containers(project: nil).filter { all || $0.state == .running }
        var projects: [String: [ContainerStatus]] = [:]
        // Containers of no project (`container run`) are not a project.
        for c in containers where c.record.project != Engine.noProject { projects[c.record.project, default: []].append(c) }
        var names = projects.keys.sorted()
        for f in filter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "name" else { throw CLIError("invalid filter '\(f)'") }
            names = names.filter { $0.contains(parts[1]) }
        }
        if quiet {
            for n in names { Console.out(n + "\n") }
            return
        }
        var rows: [[String]] = []
        for name in names {
            let cs = projects[name] ?? []
            var counts: [String: Int] = [:]
            for c in cs { counts[c.state.rawValue, default: 0] += 1 }
            let status = counts.keys.sorted().map { "\($0)(\(counts[$0] ?? 0))" }.joined(separator: ", ")
            var files: [String] = []
            for c in cs {
                for f in (c.record.labels[ComposeLabel.configFiles] ?? "").split(separator: ",").map(String.init)
                where !files.contains(f) {
                    files.append(f)
                }
            }
            rows.append([name, status, files.joined(separator: ",")])
        }
        switch format {
        case "json":
            let items = rows.map { r in JSONValue.object([("Name", .string(r[0])), ("Status", .string(r[1])), ("ConfigFiles", .string(r[2]))]) }
            Console.out(JSONValue.array(items).compactText() + "\n")
        case "table":
            Console.out(Table.render(header: ["NAME", "STATUS", "CONFIG FILES"], rows: rows))
        default:
            throw CLIError("unsupported format \"\(format)\"")
        }
    }
}
