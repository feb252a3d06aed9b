// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct ImageLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Load an image from a tar archive (docker-archive or oci-archive) or STDIN")

    @Option(name: [.short, .long], help: "Read from tar archive file, instead of STDIN")
    var input: String?

    @Flag(name: [.short, .long], help: "Suppress the load output")
    var quiet = false

    func run() throws {
        try ProjectContext.guardRoot()
        let store = try StateRoot.images()
        var path = input ?? ""
        var temp: String?
        if input == nil || input == "-" {
            if isatty(0) != 0 {
                throw CLIError("requested load from stdin, but stdin is empty")
            }
            let t = store.root + "/images/stdin-\(getpid()).tar"
            try ImageImport.copyStandardInput(to: t)
            path = t
            temp = t
        }
        defer { if let temp { unlink(temp) } }
        guard access(path, R_OK) == 0 else { throw CLIError("open \(path): no such file or directory") }
        do {
            for image in try store.load(archive: path) {
                if let reference = image.reference {
                    Console.out("Loaded image: \(reference)\n")
                } else {
                    Console.out("Loaded image ID: \(image.id)\n")
                }
            }
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
    }
}
