// SPDX-License-Identifier: Apache-2.0
import SComposeYAML

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

    /// Reads a compose file, which must be UTF-8 (as YAML is for Compose): a file that cannot
    /// be read is `.notFound`, bytes that are not UTF-8 are `.invalid`, named by position and
    /// byte offset. `origin` is where the file was named (an `include`), if anywhere.
    public static func readComposeFile(_ path: String, origin: Origin? = nil) throws(LoaderError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try readBytes(path)
        } catch {
            throw LoaderError(.notFound, error.description, origin: origin)
        }
        return try decodeUTF8(bytes, file: path)
    }

    /// `bytes` as text, or an error at the first byte that is not part of valid UTF-8.
    public static func decodeUTF8(_ bytes: [UInt8], file: String) throws(LoaderError) -> String {
        // The standard library's validation is the one pass a valid file costs; ours only
        // finds where an invalid one goes wrong.
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let offset = invalidUTF8Offset(bytes) ?? bytes.count
        var line = 1
        var lineStart = 0
        for (i, b) in bytes[..<offset].enumerated() where b == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        // Columns count characters, as libyaml's do: the bytes before this one on its line.
        let column = String(decoding: bytes[lineStart..<offset], as: UTF8.self).count + 1
        let hex = String(bytes[offset], radix: 16)
        throw LoaderError(
            .invalid, "invalid UTF-8 at byte offset \(offset) (0x\(hex.count == 1 ? "0" + hex : hex)): compose files must be UTF-8",
            origin: Origin(file: file, mark: YAMLMark(line: line, column: column)))
    }

    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence
    /// (overlong forms, surrogates and values past U+10FFFF included), or nil.
    static func invalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            // Length and the allowed range of the second byte (RFC 3629's table).
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: (length, low) = (3, 0xA0)
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: (length, high) = (3, 0x9F)
            case 0xF0: (length, low) = (4, 0x90)
            case 0xF1...0xF3: length = 4
            case 0xF4: (length, high) = (4, 0x8F)
            default: return i
            }
            guard i + 1 < n, bytes[i + 1] >= low, bytes[i + 1] <= high else { return i }
            for k in 2..<length {
                guard i + k < n, bytes[i + k] & 0xC0 == 0x80 else { return i }
            }
            i += length
        }
        return nil
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
