// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeNetwork

#if canImport(Glibc)
import Glibc
#endif

/// `scompose network …`: scompose's bridge networks.
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", _superCommandName: "scompose", abstract: "Manage networks",
        subcommands: [NetworkCreate.self, NetworkList.self, NetworkInspect.self, NetworkRemove.self, NetworkPrune.self])

    static func store() -> NetworkStore { NetworkStore(stateRoot: StateRoot.path) }
}
