// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct VolumeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Force the removal of one or more volumes")
    var force = false

    @Argument var names: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let store = VolumeCommand.store()
        let used = ProjectContext.engine().volumesInUse()
        var failed: String?
        for name in names {
            guard store.get(name) != nil else {
                if !force { failed = "Error response from daemon: get \(name): no such volume" }
                continue
            }
            if used.contains(name) {
                failed = "Error response from daemon: remove \(name): volume is in use"
                continue
            }
            do {
                try store.remove(name)
                Console.out(name + "\n")
            } catch {
                failed = ErrorWording.message(error)
            }
        }
        if let failed { throw CLIError(failed) }
    }
}
