// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeNetwork

struct NetworkCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network")

    @Option(name: [.short, .long], help: "Driver to manage the Network")
    var driver: String = "bridge"

    @Option(name: .long, help: "Subnet in CIDR format that represents a network segment")
    var subnet: [String] = []

    @Option(name: .long, help: "IPv4 or IPv6 Gateway for the master subnet")
    var gateway: [String] = []

    @Option(name: .customLong("ip-range"), help: "Allocate container ip from a sub-range")
    var ipRange: [String] = []

    @Flag(name: .long, help: "Restrict external access to the network")
    var `internal` = false

    @Flag(name: .long, help: "Enable or disable IPv6 networking")
    var ipv6 = false

    @Option(name: .long, help: "Set metadata on a network")
    var label: [String] = []

    @Option(name: [.short, .customLong("opt")], help: "Set driver specific options")
    var opt: [String] = []

    @Argument var name: String

    func run() throws {
        try ProjectContext.guardRoot()
        guard driver == "bridge" else { throw CLIError("Error response from daemon: plugin \"\(driver)\" not found") }
        func pairs(_ entries: [String]) -> [String: String] {
            var out: [String: String] = [:]
            for e in entries {
                let kv = e.split(separator: "=", maxSplits: 1).map(String.init)
                out[kv[0]] = kv.count == 2 ? kv[1] : ""
            }
            return out
        }
        let pools = subnet.enumerated().map { i, s in
            AddressPool(subnet: s, gateway: i < gateway.count ? gateway[i] : nil, ipRange: i < ipRange.count ? ipRange[i] : nil)
        }
        let id = try ContainerContext.engine().createNetwork(
            name, labels: pairs(label), options: pairs(opt), pools: pools, isInternal: `internal`, ipv6: ipv6)
        Console.out(id + "\n")
    }
}
