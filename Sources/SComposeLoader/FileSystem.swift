// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file-system reads the loader needs, kept behind one type so tests can see what it touches.
public enum FileSystem {
    /// Why a file could not be read.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var errno: Int32
        public var description: String {
            "open \(path): \(String(cString: strerror(errno)).lowercasedFirst())"
        }
    }

    /// Reads a whole file as UTF-8 (invalid bytes replaced).
    public static func read(_ path: String) throws(Failure) -> String {
        let bytes = try readBytes(path)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a whole file. Works for /proc files that report a zero size.
    public static func readBytes(_ path: String) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw Failure(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            throw Failure(path: path, errno: EISDIR)
        }
        return try readAll(fd: fd, path: path)
    }

    /// Reads a descriptor until end of file.
    public static func readAll(fd: Int32, path: String = "<stdin>") throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(path: path, errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// True when something exists at `path` (following symlinks).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// True when `path` is a regular file (following symlinks).
    public static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// True when `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The current directory.
    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The canonical path with symlinks resolved, or nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension String {
    fileprivate func lowercasedFirst() -> String {
        guard let first else { return self }
        return first.lowercased() + dropFirst()
    }
}

/// Slash-separated path arithmetic with Go's `path.Clean` semantics, which Compose output follows.
public enum Path {
    /// Go's `path.Clean`.
    public static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// Joins and cleans, like Go's `filepath.Join`.
    public static func join(_ parts: String...) -> String {
        join(parts)
    }

    /// Joins and cleans, like Go's `filepath.Join`.
    public static func join(_ parts: [String]) -> String {
        let nonEmpty = parts.filter { !$0.isEmpty }
        if nonEmpty.isEmpty { return "" }
        return clean(nonEmpty.joined(separator: "/"))
    }

    /// True for absolute paths.
    public static func isAbsolute(_ path: String) -> Bool { path.hasPrefix("/") }

    /// `path` made absolute against `base` (when relative) and cleaned.
    public static func absolute(_ path: String, base: String) -> String {
        isAbsolute(path) ? clean(path) : join(base, path)
    }

    /// Go's `filepath.Dir`.
    public static func dirname(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return clean(dir.isEmpty ? "/" : dir)
    }

    /// Go's `filepath.Base`.
    public static func basename(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        if p.isEmpty { return "." }
        if p == "/" { return "/" }
        if let slash = p.lastIndex(of: "/") { return String(p[p.index(after: slash)...]) }
        return String(p)
    }
}
