// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Force the removal of a running container (uses SIGKILL)")
    var force = false

    @Flag(name: [.short, .long], help: "Remove anonymous volumes associated with the container")
    var volumes = false

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        try ContainerContext.each(containers, engine) { c in
            if c.running || c.restarting {
                guard force else { throw EngineError(.containerRunning(c.record.name)) }
                var killed = c
                // As Docker's `rm -f`: SIGKILL, no grace period.
                killed.record.stopSignal = 9
                try engine.stop(killed, timeout: 0)
            }
            try engine.remove(c)
            if volumes { engine.removeAnonymousVolumes(of: [c]) }
        }
    }
}
