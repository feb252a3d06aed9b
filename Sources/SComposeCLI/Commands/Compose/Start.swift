// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", _superCommandName: "scompose", abstract: "Start services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.start(containers) { c, started in
            ProgressOutput.render(.resource(.container, c.record.name, "\(started ? "Started" : "Starting")"))
        }
    }
}
