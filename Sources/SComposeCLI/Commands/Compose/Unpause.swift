// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Unpause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", _superCommandName: "scompose", abstract: "Unpause services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.paused {
            try engine.setPaused(c, false)
            ProgressOutput.render(.resource(.container, c.record.name, "Unpaused"))
        }
    }
}
