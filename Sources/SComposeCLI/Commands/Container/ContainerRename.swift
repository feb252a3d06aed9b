// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerRename: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container")

    @Argument var container: String
    @Argument var newName: String

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        try engine.renameContainer(try engine.container(reference: container), to: newName)
    }
}
