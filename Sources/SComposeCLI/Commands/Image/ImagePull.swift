// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct ImagePull: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download an image from a registry")

    @Option(name: .long, help: "Set platform if server is multi-platform capable (os/arch[/variant])")
    var platform: String?

    @Flag(name: [.short, .long], help: "Suppress verbose output")
    var quiet = false

    @Argument(help: "NAME[:TAG|@DIGEST]")
    var name: String

    func run() throws {
        try ProjectContext.guardRoot()
        _ = try Pulling.pull(name, platform: platform, quiet: quiet)
    }
}
