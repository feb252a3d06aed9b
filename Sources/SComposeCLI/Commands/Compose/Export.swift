// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", _superCommandName: "scompose", abstract: "Export a service container's filesystem as a tar archive")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "index of the container if service has multiple replicas.")
    var index: Int?

    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT")
    var output: String?

    @Argument var service: String

    func run() throws {
        try ProjectContext.guardRoot()
        let c = try ProjectContext.container(global, service: service, index: index)
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError("open \(output): \(String(cString: strerror(errno)))") }
        } else if isatty(1) == 1 {
            throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        defer { if fd != 1 { close(fd) } }
        try ProjectContext.engine().export(c, to: fd)
    }
}
