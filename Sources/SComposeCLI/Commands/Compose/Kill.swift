// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", _superCommandName: "scompose", abstract: "Force stop service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "SIGNAL to send to the container")
    var signal: String = "SIGKILL"

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let number = try Signals.number(signal)
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.running {
            try engine.signal(c, number)
            ProgressOutput.render(.resource(.container, c.record.name, "Killed"))
        }
    }
}
