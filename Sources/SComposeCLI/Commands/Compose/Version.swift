// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `scompose version`.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", _superCommandName: "scompose", abstract: "Show the scompose version information")

    @Option(name: [.short, .long], help: "Format the output. Values: [pretty | json]")
    var format: String = "pretty"

    @Flag(name: .long, help: "Shows only the version number")
    var short = false

    func run() throws {
        if short {
            Console.out(scomposeVersion + "\n")
        } else if format == "json" {
            Console.out("{\"version\":\"\(scomposeVersion)\"}\n")
        } else {
            Console.out("scompose version \(scomposeVersion)\n")
        }
    }
}
