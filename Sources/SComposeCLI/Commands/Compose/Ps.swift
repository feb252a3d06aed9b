// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Dispatch
import FoundationEssentials
import SComposeEngine
import SComposeLoader
import SComposeNetwork
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", _superCommandName: "scompose", abstract: "List containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Show all stopped containers")
    var all = false

    @Flag(name: [.short, .long], help: "Only display IDs")
    var quiet = false

    @Flag(name: .long, help: "Display services")
    var services = false

    @Option(name: .long, help: "Format the output: table or json")
    var format: String = "table"

    @Option(name: .long, help: "Filter services by status: paused, restarting, removing, running, dead, created, exited")
    var status: [String] = []

    @Argument var selectedServices: [String] = []

    func run() throws {
        let name = try ProjectContext.name(global)
        let known = ["paused", "restarting", "removing", "running", "dead", "created", "exited"]
        for s in status where !known.contains(s) { throw CLIError("invalid filter 'status=\(s)'") }
        let containers = ProjectContext.engine().containers(project: name).filter {
            (all || !status.isEmpty || [.running, .paused, .restarting].contains($0.state))
                && (status.isEmpty || status.contains($0.state.rawValue))
                && (selectedServices.isEmpty || selectedServices.contains($0.record.service))
        }
        for c in containers {
            if let file = c.damaged {
                Console.warn("container \(c.record.name): its \(file) cannot be read; shown from what remains (`up` replaces it, `down` removes it)")
            }
        }
        if quiet {
            for c in containers { Console.out(c.record.id + "\n") }
            return
        }
        if services {
            var seen = Set<String>()
            for c in containers where seen.insert(c.record.service).inserted { Console.out(c.record.service + "\n") }
            return
        }
        let now = Int(time(nil))
        func describe(_ c: ContainerStatus) -> (String, String) { (c.state.rawValue, StatusText.of(c, now: now)) }
        if format != "table" {
            let rows = containers.map { c -> JSONValue in
                let (state, text) = describe(c)
                let created = Clock.parseRFC3339(c.record.created) ?? now
                return JSONValue.object([
                    ("Command", .string(Self.command(c.record.command, truncate: false))),
                    ("CreatedAt", .string(c.record.created)), ("ExitCode", .int(Int64(c.exit?.exitCode ?? c.lastExitCode ?? 0))),
                    ("Health", .string(c.health?.rawValue ?? "")), ("ID", .string(c.record.id)), ("Image", .string(c.record.image)),
                    ("Labels", .string(c.record.labels.keys.sorted().map { "\($0)=\(c.record.labels[$0] ?? "")" }.joined(separator: ","))),
                    ("Name", .string(c.record.name)), ("Names", .string(c.record.name)), ("Project", .string(c.record.project)),
                    ("Publishers", .array(Self.publishers(c).map { url, p in
                        JSONValue.object([
                            ("URL", .string(url)), ("TargetPort", .int(Int64(p.containerPort))),
                            ("PublishedPort", .int(Int64(p.hostPort))), ("Protocol", .string(p.proto)),
                        ])
                    })),
                    ("Ports", .string(Self.ports(c))), ("RunningFor", .string(Human.since(now - created))),
                    ("Service", .string(c.record.service)), ("State", .string(state)), ("Status", .string(text)),
                ])
            }
            if format == "json" {
                for row in rows { Console.out(row.compactText() + "\n") }
            } else {
                Console.out(try GoTemplate.render(format, rows: rows))
            }
            return
        }
        let rows = containers.map { c -> [String] in
            let created = Clock.parseRFC3339(c.record.created) ?? now
            return [
                c.record.name, c.record.image, Self.command(c.record.command, truncate: true), c.record.service,
                Human.since(now - created), describe(c).1, Self.ports(c),
            ]
        }
        Console.out(Table.render(header: ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows: rows))
    }

    /// Each published port with the address it answers on: `0.0.0.0`, and `::` after it when
    /// the container's ports answer on IPv6 too.
    static func publishers(_ c: ContainerStatus) -> [(String, PortBinding)] {
        (c.record.ports ?? []).flatMap { p in
            [(p.hostIP ?? "0.0.0.0", p)] + (c.record.portsOnIPv6 == true && p.hostIP == nil ? [("::", p)] : [])
        }
    }

    /// `127.0.0.1:18081->80/tcp, 0.0.0.0:32768->80/tcp, [::]:32768->80/tcp`.
    static func ports(_ c: ContainerStatus) -> String {
        publishers(c).map { url, p in "\(url.contains(":") ? "[\(url)]" : url):\(p.hostPort)->\(p.containerPort)/\(p.proto)" }
            .joined(separator: ", ")
    }

    /// `"sh -c 'while tr…"` as docker shows commands (truncated to 20 characters).
    static func command(_ args: [String], truncate: Bool) -> String {
        let text = args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        if truncate && text.count > 20 { return "\"" + text.prefix(20) + "…\"" }
        return "\"" + text + "\""
    }
}
