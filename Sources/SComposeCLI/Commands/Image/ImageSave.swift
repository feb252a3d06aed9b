// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct ImageSave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", abstract: "Save one or more images to a tar archive (streamed to STDOUT by default)")

    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT")
    var output: String?

    @Option(name: .long, help: "Archive format: docker (what docker load reads) or oci")
    var format: String = ImageStore.ArchiveFormat.docker.rawValue

    @Argument var images: [String]

    func run() throws {
        let store = try StateRoot.images()
        guard let archiveFormat = ImageStore.ArchiveFormat(rawValue: format) else {
            throw CLIError("unsupported format \"\(format)\": use docker or oci")
        }
        if output == nil && isatty(1) != 0 {
            throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        let target = output ?? store.root + "/images/save-\(getpid()).tar"
        do {
            try store.save(images, to: target, format: archiveFormat)
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
        if output == nil {
            defer { unlink(target) }
            let fd = open(target, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CLIError("cannot read \(target)") }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                var done = 0
                while done < n {
                    let w = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress.map { $0 + done }, n - done) }
                    if w < 0 {
                        if errno == EINTR { continue }
                        if errno == EPIPE { Console.endOnBrokenPipe() }
                        throw CLIError("write: \(String(cString: strerror(errno)))")
                    }
                    done += w
                }
            }
        }
    }
}
