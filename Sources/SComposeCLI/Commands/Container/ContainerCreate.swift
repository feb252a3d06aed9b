// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader

struct ContainerCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a new container")

    @OptionGroup var options: ContainerRunArguments

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        do {
            let flags = try options.flags(detach: true)
            // Made to wait for a client when it will be started attached (`start -a`), as
            // Docker's created containers keep their output until one attaches.
            let c = try engine.createContainer(
                flags, environment: Console.environment(), workingDirectory: FileSystem.currentDirectory())
            Console.out(c.record.id + "\n")
        } catch {
            throw ContainerContext.runFailure(error)
        }
    }
}
