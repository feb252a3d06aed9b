// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", _superCommandName: "scompose", abstract: "Pause services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.running && !c.paused {
            try engine.setPaused(c, true)
            ProgressOutput.render(.resource(.container, c.record.name, "Paused"))
        }
    }
}
