// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", _superCommandName: "scompose", abstract: "Stop services")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.stopReporting(containers.filter { $0.running || $0.restarting || $0.shimPid != nil }, timeout: timeout)
    }
}
