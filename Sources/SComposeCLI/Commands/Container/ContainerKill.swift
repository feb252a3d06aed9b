// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct ContainerKill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers")

    @Option(name: [.short, .long], help: "Signal to send to the container")
    var signal: String = "KILL"

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let number = try Signals.number(signal)
        try ContainerContext.each(containers, engine) { c in
            guard c.running else { throw EngineError(.containerNotRunning(c.record.id)) }
            try engine.signal(c, number)
        }
    }
}
