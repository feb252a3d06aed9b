// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

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
            if n.isDefaultBridge {
                failure = ErrorWording.message(EngineError(.predefinedNetwork(n.name)))
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
