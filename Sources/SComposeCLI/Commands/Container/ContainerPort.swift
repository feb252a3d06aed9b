// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerPort: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", abstract: "List port mappings or a specific mapping for the container")

    @Argument var container: String

    @Argument(help: "PRIVATE_PORT[/PROTO]")
    var privatePort: String?

    func run() throws {
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        var wanted: (port: UInt16, proto: String)?
        if let privatePort {
            let parts = privatePort.split(separator: "/").map(String.init)
            guard let port = parts.first.flatMap({ UInt16($0) }) else { throw CLIError("Error: invalid port (\(privatePort))") }
            wanted = (port, parts.count > 1 ? parts[1] : "tcp")
        }
        // `80/tcp -> 0.0.0.0:8080` lines, or the addresses alone for one port, as Docker.
        var lines: [String] = []
        for (url, p) in Ps.publishers(c) {
            let address = (url.contains(":") ? "[\(url)]" : url) + ":\(p.hostPort)"
            if let wanted {
                if p.containerPort == wanted.port && p.proto == wanted.proto { lines.append(address) }
            } else {
                lines.append("\(p.containerPort)/\(p.proto) -> \(address)")
            }
        }
        if let wanted, lines.isEmpty {
            throw CLIError("Error: No public port '\(wanted.port)/\(wanted.proto)' published for \(container)")
        }
        Console.out(lines.map { $0 + "\n" }.joined())
    }
}
