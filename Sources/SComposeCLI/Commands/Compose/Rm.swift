// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", _superCommandName: "scompose", abstract: "Removes stopped service containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Don't ask to confirm removal")
    var force = false

    @Flag(name: [.short, .long], help: "Stop the containers, if required, before removing")
    var stop = false

    @Flag(name: [.short, .long], help: "Remove any anonymous volumes attached to containers")
    var volumes = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, selected) = try ProjectContext.containers(global, services: services)
        if !stop, selected.contains(where: \.running) {
            // As Compose: running containers are left alone unless --stop.
            for c in selected where c.running { ProgressOutput.render(.resource(.container, c.record.name, "Running (use --stop)")) }
        }
        let removable = selected.filter { !$0.running || stop }
        if removable.isEmpty {
            Console.error("No stopped containers")
            return
        }
        try engine.stopReporting(removable, timeout: nil)
        for c in removable {
            try engine.remove(c)
            ProgressOutput.render(.resource(.container, c.record.name, "Removed"))
        }
        if volumes { engine.removeAnonymousVolumes(of: removable) }
    }
}
