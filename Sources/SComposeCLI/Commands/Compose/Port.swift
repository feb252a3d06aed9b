// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

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
