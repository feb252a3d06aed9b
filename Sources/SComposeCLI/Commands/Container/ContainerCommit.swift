// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOCI

struct ContainerCommit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Create a new image from a container's changes")

    @Option(name: [.short, .long], help: "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
    var author: String?

    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image")
    var change: [String] = []

    @Option(name: [.short, .long], help: "Commit message")
    var message: String?

    @Flag(name: [.short, .long], inversion: .prefixedNo, help: "Pause container during commit")
    var pause = true

    @Argument var container: String

    @Argument(help: "REPOSITORY[:TAG]")
    var reference: String?

    func run() throws {
        try ProjectContext.guardRoot()
        let ref: ImageReference?
        do {
            ref = try reference.map(ImageReference.init(parsing:))
        } catch {
            throw CLIError("invalid reference format: \(ErrorWording.message(error))")
        }
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        let record = try engine.commit(c, reference: ref, author: author, changes: change, message: message, pause: pause)
        Console.out(record.id.description + "\n")
    }
}
