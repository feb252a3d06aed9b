// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", _superCommandName: "scompose", abstract: "Restart service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.restart(containers, timeout: timeout) { c, started in
            ProgressOutput.render(.resource(.container, c.record.name, "\(started ? "Started" : "Restarting")"))
        }
    }
}
