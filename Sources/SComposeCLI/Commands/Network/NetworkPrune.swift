// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

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
        // As Docker's: the default network stays.
        for n in store.list() where !n.isDefaultBridge && engine.liveEndpoints(n.name).isEmpty {
            try engine.removeNetwork(n)
            removed.append(n.name)
        }
        if !removed.isEmpty { Console.out("Deleted Networks:\n" + removed.map { $0 + "\n" }.joined()) }
    }
}
