// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

/// Which images containers use: those are neither removed (without `-f`) nor pruned.
enum ImageUse {
    static func checker() -> (ImageRecord) -> Bool {
        let used = Set(ProjectContext.engine().containers(project: nil).map(\.record.imageID))
        return { used.contains($0.id.description) }
    }
}

struct ImagePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images")

    @Flag(name: [.short, .long], help: "Remove all unused images, not just dangling ones")
    var all = false

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    func run() throws {
        try ProjectContext.guardRoot()
        let store = try StateRoot.images()
        let (lines, reclaimed) = try store.prune(all: all, inUse: ImageUse.checker())
        if !lines.isEmpty {
            Console.out("Deleted Images:\n" + lines.map { $0 + "\n" }.joined() + "\n")
        }
        Console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
    }
}
