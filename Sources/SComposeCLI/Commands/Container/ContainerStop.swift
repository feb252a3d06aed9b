// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeRuntime

struct ContainerStop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers")

    @Option(name: [.short, .long], help: "Seconds to wait before killing the container")
    var time: Int?

    @Option(name: [.short, .long], help: "Signal to send to the container")
    var signal: String?

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let number = try signal.map { try Signals.number($0) }
        try ContainerContext.each(containers, engine) { c in
            var c = c
            if let number { c.record.stopSignal = number }
            try engine.stop(c, timeout: time)
        }
    }
}
