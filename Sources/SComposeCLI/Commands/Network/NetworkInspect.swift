// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

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
