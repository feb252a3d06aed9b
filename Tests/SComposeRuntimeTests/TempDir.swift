// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory, removed with its content when the value goes.
final class TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-rtt-\(UUID().uuidString)").path
        try Files.makeDirectories(path)
    }

    deinit { Files.removeTree(path) }

    /// Writes `content` to `relative`, making its directories.
    func file(_ relative: String, _ content: String, mode: mode_t = 0o644) throws {
        let full = path + "/" + relative
        if let slash = full.lastIndex(of: "/") { try Files.makeDirectories(String(full[..<slash])) }
        try Files.writeAtomically(full, Array(content.utf8))
        chmod(full, mode)
    }

    /// The content of `name` in the directory `dirfd`.
    func read(_ dirfd: Int32, _ name: String) throws -> String {
        let fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open \(name)", errno: errno) }
        defer { close(fd) }
        return String(decoding: try Files.read("/proc/self/fd/\(fd)"), as: UTF8.self)
    }

    /// Opens the directory `relative` for reading (-1 if it cannot).
    func open(_ relative: String = "") -> Int32 {
        Glibc.open(relative.isEmpty ? path : path + "/" + relative, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
}
