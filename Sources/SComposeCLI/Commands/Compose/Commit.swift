// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct Commit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", _superCommandName: "scompose", abstract: "Create a new image from a service container's changes")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
    var author: String?

    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image")
    var change: [String] = []

    @Option(name: .long, help: "index of the container if service has multiple replicas.")
    var index: Int?

    @Option(name: [.short, .long], help: "Commit message")
    var message: String?

    // Long only: `-p` inside a verb names the project (as before it).
    @Option(name: .long, help: "Pause container during commit (true or false)")
    var pause = true

    @Argument var service: String

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
        let c = try ProjectContext.container(global, service: service, index: index)
        // Compose's progress lines, on standard error; nothing on standard output.
        Console.error(" \(c.record.name) Committing")
        let record = try ProjectContext.engine().commit(
            c, reference: ref, author: author, changes: change, message: message, pause: pause)
        Console.error(" \(c.record.name) Committed as \(record.id)")
    }
}
