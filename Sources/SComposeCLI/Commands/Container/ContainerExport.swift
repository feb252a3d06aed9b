// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct ContainerExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export a container's filesystem as a tar archive")

    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT")
    var output: String?

    @Argument var container: String

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError("open \(output): \(String(cString: strerror(errno)))") }
        } else if isatty(1) == 1 {
            throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        defer { if fd != 1 { close(fd) } }
        try engine.export(c, to: fd)
    }
}
