// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more images", aliases: ["rmi", "remove"])

    @Flag(name: [.short, .long], help: "Force removal of the image")
    var force = false

    @Argument var images: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let store = try StateRoot.images()
        var failures: [String] = []
        for image in images {
            do {
                // Containers arrive with the runtime; until then no image is in use.
                for line in try store.remove(image, force: force, inUse: ImageUse.checker()) { Console.out(line + "\n") }
            } catch {
                failures.append("Error response from daemon: \(ErrorWording.message(error))")
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}
