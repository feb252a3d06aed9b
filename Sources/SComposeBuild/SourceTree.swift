// SPDX-License-Identifier: Apache-2.0
import CLinux
import Crypto
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// A tree that COPY and ADD read from: the build context (with its `.dockerignore`) or the
/// root file system of another stage or image. Everything goes through descriptors: a
/// symlink in the tree is copied as a link, never followed out of it.
final class SourceTree {
    let rootFD: Int32
    let ignore: DockerIgnore?
    /// What error messages call the tree ("build context", "stage builder").
    let label: String

    init(rootFD: Int32, ignore: DockerIgnore?, label: String) {
        self.rootFD = rootFD
        self.ignore = ignore
        self.label = label
    }

    deinit { close(rootFD) }

    /// A path of the tree that a source pattern selected.
    struct Match {
        /// Relative to the tree's root, "/"-separated, "" for the root itself.
        var path: String
        var isDirectory: Bool
    }

    /// `..` may not climb out of the tree; leading `/` and `./` mean the tree's root.
    static func clean(_ path: String) throws(BuildError) -> [String] {
        var parts: [String] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { throw BuildError("forbidden path outside the build context: \(path)") }
                parts.removeLast()
            default: parts.append(String(part))
            }
        }
        return parts
    }

    static func hasGlob(_ s: String) -> Bool { s.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    func excluded(_ path: String, isDirectory: Bool) -> Bool {
        guard let ignore, !path.isEmpty else { return false }
        return ignore.excludes(path, isDirectory: isDirectory)
    }

    /// The paths a source names, in name order; none is an error as in Docker.
    func resolve(_ pattern: String) throws(BuildError) -> [Match] {
        let parts = try Self.clean(pattern)
        // The literal directories before the first wildcard are resolved inside the root
        // (following links there, as Docker does); the rest is matched entry by entry.
        var literal: [String] = []
        for part in parts {
            if Self.hasGlob(part) { break }
            literal.append(part)
        }
        var matches: [Match] = []
        if literal.count == parts.count {
            let path = parts.joined(separator: "/")
            var st = stat()
            if path.isEmpty {
                matches.append(Match(path: "", isDirectory: true))
            } else if fstatat(rootFD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 || resolvedStat(path, &st) {
                let isDir = (st.st_mode & S_IFMT) == S_IFDIR
                if !excluded(path, isDirectory: isDir) { matches.append(Match(path: path, isDirectory: isDir)) }
            }
        } else {
            walk(prefix: literal.joined(separator: "/"), rest: Array(parts[literal.count...]), into: &matches)
        }
        guard !matches.isEmpty else {
            throw BuildError("failed to compute cache key: \"/\(parts.joined(separator: "/"))\": not found")
        }
        return matches.sorted { $0.path < $1.path }
    }

    /// A path whose directories are links inside the tree (`/lib` → `usr/lib`).
    private func resolvedStat(_ path: String, _ st: inout stat) -> Bool {
        let fd = sc_open_in_root(rootFD, path, SC_O_PATH, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return fstat(fd, &st) == 0
    }

    private func walk(prefix: String, rest: [String], into matches: inout [Match]) {
        guard let component = rest.first else { return }
        for name in list(prefix) where fnmatch(component, name, 0) == 0 {
            let path = prefix.isEmpty ? name : prefix + "/" + name
            var st = stat()
            guard fstatat(rootFD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if excluded(path, isDirectory: isDir) { continue }
            if rest.count == 1 {
                matches.append(Match(path: path, isDirectory: isDir))
            } else if isDir {
                walk(prefix: path, rest: Array(rest.dropFirst()), into: &matches)
            }
        }
    }

    /// The names in a directory of the tree, sorted ("" is the root).
    func list(_ path: String) -> [String] {
        let fd = openDirectory(path)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return Self.names(fd)
    }

    /// Opens a directory of the tree (inside the root).
    func openDirectory(_ path: String) -> Int32 {
        path.isEmpty ? dup(rootFD) : sc_open_in_root(rootFD, path, O_RDONLY | O_DIRECTORY, 0)
    }

    // MARK: - Checksums for the cache

    /// Hashes what a match holds: names, types, modes, link targets and contents (not times,
    /// as Docker's cache ignores them), skipping what `.dockerignore` leaves out.
    func checksum(_ match: Match, into hasher: inout SHA256) throws(BuildError) {
        hasher.update(data: Array("\u{0}\(match.path)\u{0}".utf8))
        if match.isDirectory {
            let fd = openDirectory(match.path)
            guard fd >= 0 else { throw BuildError("cannot read \(match.path) in the \(label): \(Self.errorText())") }
            defer { close(fd) }
            try checksumDirectory(fd, relative: match.path, into: &hasher)
        } else {
            let (dir, base) = Self.split(match.path)
            let fd = openDirectory(dir)
            guard fd >= 0 else { throw BuildError("cannot read \(dir) in the \(label): \(Self.errorText())") }
            defer { close(fd) }
            try checksumEntry(base, in: fd, relative: match.path, into: &hasher)
        }
    }

    private func checksumDirectory(_ fd: Int32, relative: String, into hasher: inout SHA256) throws(BuildError) {
        for name in Self.names(fd) {
            let path = relative.isEmpty ? name : relative + "/" + name
            try checksumEntry(name, in: fd, relative: path, into: &hasher)
        }
    }

    private func checksumEntry(_ name: String, in dir: Int32, relative: String, into hasher: inout SHA256) throws(BuildError) {
        var st = stat()
        guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        let kind = st.st_mode & S_IFMT
        if excluded(relative, isDirectory: kind == S_IFDIR) {
            // An excluded directory may still hold re-included files (`!dir/keep`).
            guard kind == S_IFDIR, let ignore, !ignore.canSkipDirectory(relative) else { return }
        } else {
            hasher.update(data: Array("\(relative)\u{0}\(st.st_mode)\u{0}".utf8))
        }
        switch kind {
        case S_IFREG:
            if excluded(relative, isDirectory: false) { return }
            let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw BuildError("cannot read \(relative) in the \(label): \(Self.errorText())") }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 18)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                hasher.update(data: buffer[0..<n])
            }
        case S_IFLNK:
            hasher.update(data: Array(Self.readLink(dir, name).utf8))
        case S_IFDIR:
            let fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            try checksumDirectory(fd, relative: relative, into: &hasher)
        default:
            return
        }
    }

    // MARK: - Helpers

    static func names(_ fd: Int32) -> [String] { (Files.names(fd) ?? []).sorted() }

    static func split(_ path: String) -> (dir: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    static func readLink(_ dir: Int32, _ name: String) -> String { Files.readLink(dir, name) ?? "" }

    static func errorText() -> String { String(cString: strerror(errno)) }
}
