// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerPause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers")

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        try ContainerContext.each(containers, engine) { try engine.setPaused($0, true) }
    }
}
