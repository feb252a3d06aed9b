// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

/// Writes `-o` output files.
enum FileOutput {
    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        Console.write(fd, text)
    }
}

#if canImport(Glibc)
import Glibc
#endif
