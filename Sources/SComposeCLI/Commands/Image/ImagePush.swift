// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct ImagePush: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Upload an image to a registry")

    @Option(name: .long, help: "Push only this platform's image of a multi-platform name (os/arch[/variant])")
    var platform: String?

    @Flag(name: [.short, .long], help: "Suppress verbose output")
    var quiet = false

    @Argument(help: "NAME[:TAG]")
    var name: String

    func run() throws {
        try ProjectContext.guardRoot()
        try Pulling.push(name, platform: platform, quiet: quiet)
    }
}
