// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerRestart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers")

    @Option(name: [.short, .long], help: "Seconds to wait before killing the container")
    var time: Int?

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        try ContainerContext.each(containers, engine) { try engine.restart([$0], timeout: time) }
    }
}
