// SPDX-License-Identifier: Apache-2.0
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on a file: what, and the errno.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public var what: String
    public var errno: Int32

    public init(_ what: String, errno: Int32) {
        self.what = what
        self.errno = errno
    }

    public var description: String { "\(what): \(String(cString: strerror(errno)))" }
}

/// File operations shared by the image store, the runtime and the engine.
public enum Files {
    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(FileError) {
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST { throw FileError("mkdir \(current)", errno: errno) }
        }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("write \(what)", errno: errno)
            }
            offset += n
        }
    }

    /// Replaces a file atomically: a temporary file next to it, fsync, rename. Readers see the
    /// old content or the new, never a part.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(FileError) {
        let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("open \(temp)", errno: errno) }
        do {
            try writeAll(fd, bytes, what: temp)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            let err = errno
            unlink(temp)
            throw FileError("rename \(path)", errno: err)
        }
    }

    /// Removes a tree without following symlinks.
    public static func removeTree(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            unlink(path)
            return
        }
        removeContents(fd)
        close(fd)
        rmdir(path)
    }

    /// Empties the directory open as `dirfd`, without following symlinks.
    public static func removeContents(_ dirfd: Int32) {
        for name in names(dirfd) ?? [] {
            if unlinkat(dirfd, name, 0) == 0 { continue }
            let child = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child >= 0 {
                removeContents(child)
                close(child)
            }
            unlinkat(dirfd, name, AT_REMOVEDIR)
        }
    }

    /// A whole file, including /proc and /sys files that report size 0.
    public static func read(_ path: String) throws(FileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open \(path)", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        // Sized from the file when it says (not /proc or /sys, which report 0): small state
        // files cost one small read.
        var st = stat()
        let hint = fstat(fd, &st) == 0 && st.st_size > 0 ? Int(st.st_size) + 1 : 8192
        var buffer = [UInt8](repeating: 0, count: min(hint, 1 << 20))
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("read \(path)", errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
            // A regular file read to the size it had: no read for the end.
            if st.st_size > 0 && out.count == Int(st.st_size) { break }
        }
        return out
    }

    /// The names in the directory open as `dirfd` (in the directory's order, without `.` and
    /// `..`), or nil if it cannot be read. All of them even if `dirfd` was read before: the
    /// duplicate read here shares its position, so it is rewound.
    public static func names(_ dirfd: Int32) -> [String]? {
        let copy = dup(dirfd)
        guard copy >= 0 else { return nil }
        guard let dir = fdopendir(copy) else {
            close(copy)
            return nil
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// The target of the symlink `name` in the directory `dirfd`, or nil if it is not one.
    public static func readLink(_ dirfd: Int32, _ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(dirfd, name, &buffer, Int(PATH_MAX))
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a directory, without `.` and `..`.
    public static func list(_ path: String) -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return names(fd) ?? []
    }
}

extension Substring {
    /// Without leading and trailing spaces.
    public var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// Descriptors the kernel resolves for us: paths confined to a root, anonymous memory files.
extension Files {
    /// `O_PATH`: a descriptor that only names a file (for `*at` calls and `/proc/self/fd`).
    public static let pathOnly: Int32 = SC_O_PATH
    /// `AT_EMPTY_PATH`: an `*at` call acts on the descriptor itself.
    public static let atEmptyPath: Int32 = SC_AT_EMPTY_PATH

    /// Opens `path` as if `root` (a directory descriptor) were `/`: `..` and symbolic links
    /// never leave it (`openat2` with `RESOLVE_IN_ROOT`). -1 with errno set on failure.
    public static func openInRoot(_ root: Int32, _ path: String, _ flags: Int32, mode: UInt32 = 0) -> Int32 {
        sc_open_in_root(root, path, flags, mode)
    }

    /// An anonymous, close-on-exec memory file (`memfd_create`); -1 with errno set on failure.
    public static func memoryFile(_ name: String) -> Int32 {
        sc_memfd(name)
    }
}
