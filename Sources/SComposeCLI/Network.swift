// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeNetwork

#if canImport(Glibc)
import Glibc
#endif

/// `scompose port SERVICE PRIVATE_PORT`.
struct Port: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", _superCommandName: "scompose", abstract: "Print the public port for a port binding")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "tcp or udp")
    var `protocol` = "tcp"

    @Option(name: .long, help: "Index of the container if service has multiple replicas")
    var index: Int = 1

    @Argument var service: String
    @Argument var privatePort: UInt16

    func run() throws {
        let (_, containers) = try ProjectContext.containers(global, services: [service])
        guard let c = containers.first(where: { $0.record.number == index }) else {
            throw CLIError("service \"\(service)\" has no container #\(index)")
        }
        guard let p = c.record.ports?.first(where: { $0.containerPort == privatePort && $0.proto == `protocol` }) else {
            throw CLIError("no port \(privatePort)/\(`protocol`) for container \(c.record.name): port is not published")
        }
        Console.out("\(p.hostIP ?? "0.0.0.0"):\(p.hostPort)\n")
    }
}

/// `scompose network …`: scompose's bridge networks.
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", _superCommandName: "scompose", abstract: "Manage networks",
        subcommands: [NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self])

    static func store() -> NetworkStore { NetworkStore(stateRoot: StateRoot.path) }
}

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

struct NetworkInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more networks")

    @Argument var names: [String]

    func run() throws {
        let store = NetworkCommand.store()
        var out: [JSONValue] = []
        var missing: String?
        for name in names {
            guard let n = store.get(name) ?? store.list().first(where: { $0.id.hasPrefix(name) }) else {
                missing = name
                continue
            }
            let containers = store.endpoints(n.name).sorted { $0.containerName < $1.containerName }.map { e in
                (e.containerID, JSONValue.object([
                    ("Name", .string(e.containerName)), ("MacAddress", .string(e.mac ?? "")),
                    ("IPv4Address", .string("\(e.address)/\(n.subnet.prefix)")),
                    ("IPv6Address", .string(e.address6.map { "\($0)/\(n.subnet6?.prefix ?? 64)" } ?? "")),
                ]))
            }
            var ipam: [(String, JSONValue)] = [("Subnet", .string(n.subnet.description)), ("Gateway", .string(n.gateway.description))]
            if let r = n.ipRange { ipam.append(("IPRange", .string(r.description))) }
            var pools: [JSONValue] = [.object(ipam)]
            if let subnet6 = n.subnet6 {
                var ipam6: [(String, JSONValue)] = [("Subnet", .string(subnet6.description)), ("Gateway", .string(n.gateway6?.description ?? ""))]
                if let r = n.ipRange6 { ipam6.append(("IPRange", .string(r.description))) }
                pools.append(.object(ipam6))
            }
            out.append(
                .object([
                    ("Name", .string(n.name)), ("Id", .string(n.id)), ("Created", .string(n.created)), ("Scope", .string("local")),
                    ("Driver", .string(n.driver)), ("EnableIPv6", .bool(n.subnet6 != nil)),
                    ("IPAM", .object([("Driver", .string("default")), ("Options", .null), ("Config", .array(pools))])),
                    ("Internal", .bool(n.isInternal)), ("Attachable", .bool(false)),
                    ("Containers", .object(containers)),
                    ("Options", .object([("com.docker.network.bridge.name", .string(n.bridge))] + n.options.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                    ("Labels", .object(n.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                ]))
        }
        Console.out(JSONValue.array(out).text(indent: "    ", sortKeys: false) + "\n")
        if let missing { throw CLIError("Error response from daemon: network \(missing) not found") }
    }
}

struct NetworkRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more networks", aliases: ["remove"])

    @Argument var names: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let store = NetworkCommand.store()
        let engine = ProjectContext.engine()
        var failure: String?
        engine.removeStaleStaging()
        for name in names {
            guard let n = store.get(name) ?? store.list().first(where: { $0.id.hasPrefix(name) }) else {
                failure = "Error response from daemon: network \(name) not found"
                continue
            }
            let users = engine.liveEndpoints(n.name)
            if !users.isEmpty {
                failure = "Error response from daemon: error while removing network: network \(n.name) id \(n.id) has active endpoints"
                continue
            }
            try engine.removeNetwork(n)
            Console.out(name + "\n")
        }
        if let failure { throw CLIError(failure) }
    }
}

struct NetworkPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks")

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    func run() throws {
        try ProjectContext.guardRoot()
        let store = NetworkCommand.store()
        let engine = ProjectContext.engine()
        var removed: [String] = []
        engine.removeStaleStaging()
        for n in store.list() where engine.liveEndpoints(n.name).isEmpty {
            try engine.removeNetwork(n)
            removed.append(n.name)
        }
        if !removed.isEmpty { Console.out("Deleted Networks:\n" + removed.map { $0 + "\n" }.joined()) }
    }
}
