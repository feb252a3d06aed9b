// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct ImageImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import the contents from a tarball to create a filesystem image")

    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image")
    var change: [String] = []

    @Option(name: [.short, .long], help: "Set commit message for imported image")
    var message: String?

    @Option(name: .long, help: "Set platform of the image (os/arch[/variant]; the host's by default)")
    var platform: String?

    @Argument(help: "A tar file (plain, gzip or zstd) or - for standard input")
    var file: String

    @Argument(help: "The reference to give the image (e.g. myimage:1)")
    var reference: String?

    func run() throws {
        try ProjectContext.guardRoot()
        let store = try StateRoot.images()
        let ref: ImageReference?
        do {
            ref = try reference.map(ImageReference.init(parsing:))
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
        var source = file
        var path = file
        var temp: String?
        if file == "-" {
            source = "-"
            let t = store.root + "/images/import-\(getpid()).tar"
            try Self.copyStandardInput(to: t)
            path = t
            temp = t
        } else if access(file, R_OK) != 0 {
            throw CLIError("open \(file): no such file or directory")
        }
        defer { if let temp { unlink(temp) } }
        let platform = try platform.map(Pulling.parsePlatform) ?? .host
        do {
            let record = try store.importRootfs(
                file: path, reference: ref, changes: ImageChanges(change), message: message, source: source,
                platform: platform)
            Console.out(record.id.description + "\n")
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
    }

    /// Copies standard input to a file, byte for byte.
    static func copyStandardInput(to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot write \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + done }, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw CLIError("write \(path): \(String(cString: strerror(errno)))")
                }
                done += w
            }
        }
    }
}
