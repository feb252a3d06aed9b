// SPDX-License-Identifier: Apache-2.0
import CLinux
import Crypto
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Errors of the image store.
public enum OCIError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Content did not hash to the digest it was announced with.
    case digestMismatch(expected: Digest, actual: Digest)
    /// A system call failed.
    case io(String, Int32)
    /// Malformed or hostile input (archive, manifest, reference…).
    case invalid(String)
    /// A blob, image or reference is absent.
    case notFound(String)
    /// The operation would break something in use.
    case conflict(String)
    /// A transfer broke off (worth another try).
    case network(String)
    /// A registry's name does not resolve, or nothing listens there (not retried).
    case unreachable(String)
    /// A registry answered with an error status (401, 403, 404, 429, 5xx…) and this message.
    case registry(status: Int, String)

    public var description: String {
        switch self {
        case .digestMismatch(let e, let a): return "digest mismatch: expected \(e), got \(a)"
        case .io(let what, let err): return "\(what): \(String(cString: strerror(err)))"
        case .invalid(let what): return what
        case .notFound(let what): return what
        case .conflict(let what): return what
        case .network(let what): return what
        case .unreachable(let what): return what
        case .registry(let status, let what): return what.isEmpty ? "registry answered \(status)" : what
        }
    }
}

/// Content-addressed blobs under `content/blobs/sha256/<hex>`. Every ingest is written to a
/// temporary file, hashed while written, synced, verified, then renamed into place, so a blob
/// is either absent or complete and correct.
public struct ContentStore: Sendable {
    /// `$SCOMPOSE_ROOT/content`.
    public let root: String

    /// Creates the store's directories.
    public init(root: String) throws(OCIError) {
        self.root = root
        try FS.mkdirs(root + "/blobs/sha256")
        try FS.mkdirs(root + "/ingest")
    }

    /// Where a blob lives.
    public func path(_ digest: Digest) -> String { root + "/blobs/sha256/" + digest.hex }

    /// Whether a blob is present.
    public func has(_ digest: Digest) -> Bool { access(path(digest), F_OK) == 0 }

    /// A blob's size.
    public func size(_ digest: Digest) -> Int64? {
        var st = stat()
        guard stat(path(digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Reads a whole blob.
    public func read(_ digest: Digest) throws(OCIError) -> [UInt8] {
        guard has(digest) else { throw .notFound("blob \(digest) not found") }
        return try FS.read(path(digest))
    }

    /// Stores bytes; with `expected`, fails (storing nothing) unless they hash to it.
    @discardableResult
    public func ingest(_ bytes: [UInt8], expected: Digest? = nil) throws(OCIError) -> Digest {
        var writer = try Writer(store: self)
        do throws(OCIError) {
            try writer.write(bytes)
            return try writer.commit(expected: expected)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Stores a file's content, streamed.
    @discardableResult
    public func ingest(file: String, expected: Digest? = nil) throws(OCIError) -> Digest {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(file)", errno) }
        defer { close(fd) }
        return try ingest(fd: fd, expected: expected)
    }

    /// Stores what a descriptor yields until end of file, streamed.
    @discardableResult
    public func ingest(fd: Int32, expected: Digest? = nil, limit: Int64 = .max) throws(OCIError) -> Digest {
        var writer = try Writer(store: self)
        do throws(OCIError) {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var total: Int64 = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw OCIError.io("read", errno)
                }
                if n == 0 { break }
                total += Int64(n)
                if total > limit { throw OCIError.invalid("content larger than \(limit) bytes") }
                try writer.write(buffer[0..<n])
            }
            return try writer.commit(expected: expected)
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Removes a blob.
    public func delete(_ digest: Digest) {
        unlink(path(digest))
    }

    /// Every stored blob.
    public func list() -> [Digest] {
        FS.list(root + "/blobs/sha256").compactMap { Digest("sha256:" + $0) }
    }

    /// A new file in `ingest/` (`<prefix>-XXXXXX`), locked while its descriptor is open so
    /// that a sweep of the directory can tell files in use from files a dead process left.
    func scratchFile(_ prefix: String) throws(OCIError) -> (fd: Int32, path: String) {
        var template = Array((root + "/ingest/\(prefix)-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { sc_mkostemp($0.baseAddress, O_CLOEXEC) }
        guard fd >= 0 else { throw .io("create \(root)/ingest", errno) }
        flock(fd, LOCK_EX | LOCK_NB)
        return (fd, String(cString: template))
    }

    /// Where the bytes of an interrupted transfer of `digest` wait for the next pull.
    func partialPath(_ digest: Digest) -> String { root + "/ingest/partial-" + digest.hex }

    /// Removes what dead processes left in `ingest/`: scratch files at once (after a minute's
    /// grace for ones being created), interrupted transfers once they are `partialAge` seconds
    /// old. Files a live process holds are locked and left alone.
    public func sweepIngest(partialAge: Int = 7 * 86400) {
        let now = time(nil)
        for name in FS.list(root + "/ingest") {
            let path = root + "/ingest/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            let age = now - st.st_mtim.tv_sec
            guard age > (name.hasPrefix("partial-") ? partialAge : 60) else { continue }
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
            close(fd)
        }
    }

    /// A blob being written.
    public struct Writer {
        let store: ContentStore
        let temp: String
        let fd: Int32
        var hasher = SHA256()
        var done = false
        /// Bytes already there when the writer took over an interrupted transfer.
        public private(set) var resumedFrom: Int64 = 0

        init(store: ContentStore) throws(OCIError) {
            self.store = store
            (fd, temp) = try store.scratchFile("blob")
        }

        /// A writer for the blob `digest` that keeps its bytes when the transfer breaks
        /// (`suspend`), so a later pull, in this process or another, continues where it
        /// stopped. Nil when another process is receiving the same blob now.
        init?(store: ContentStore, resuming digest: Digest, size: Int64) throws(OCIError) {
            self.store = store
            temp = store.partialPath(digest)
            var opened: Int32 = -1
            // The file may be swept (unlinked) between our open and our lock: then again.
            for _ in 0..<3 {
                let fd = open(temp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard fd >= 0 else { throw .io("open \(temp)", errno) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                    close(fd)
                    return nil
                }
                var held = stat()
                var named = stat()
                if fstat(fd, &held) == 0, stat(temp, &named) == 0, held.st_ino == named.st_ino {
                    opened = fd
                    break
                }
                close(fd)
            }
            guard opened >= 0 else { return nil }
            fd = opened
            var held = stat()
            fstat(fd, &held)
            if Int64(held.st_size) > size { ftruncate(fd, 0) }
            var hasher = SHA256()
            let readBack: Int64
            do throws(OCIError) {
                var total: Int64 = 0
                try FS.forEachChunk(fd, what: temp) { chunk in
                    hasher.update(data: chunk)
                    total += Int64(chunk.count)
                }
                readBack = total
            } catch {
                close(fd)
                unlink(temp)
                throw error
            }
            self.hasher = hasher
            resumedFrom = readBack
            lseek(fd, off_t(readBack), SEEK_SET)
        }

        mutating func write(_ bytes: some Collection<UInt8>) throws(OCIError) {
            let chunk = Array(bytes)
            hasher.update(data: chunk)
            try FS.writeAll(fd, chunk, what: temp)
        }

        /// Forgets what was written, to receive the blob again from its start.
        mutating func reset() throws(OCIError) {
            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw .io("truncate \(temp)", errno) }
            hasher = SHA256()
            resumedFrom = 0
        }

        mutating func commit(expected: Digest?) throws(OCIError) -> Digest {
            let digest = Digest(finalizing: hasher)
            if let expected, expected != digest {
                throw .digestMismatch(expected: expected, actual: digest)
            }
            guard fsync(fd) == 0 else { throw .io("fsync \(temp)", errno) }
            close(fd)
            done = true
            guard rename(temp, store.path(digest)) == 0 else {
                let err = errno
                unlink(temp)
                throw .io("rename \(temp)", err)
            }
            FS.syncDirectory(store.root + "/blobs/sha256")
            return digest
        }

        mutating func abort() {
            if !done {
                close(fd)
                done = true
            }
            unlink(temp)
        }

        /// Closes the writer but keeps its bytes for a later resume (an interrupted transfer's).
        mutating func suspend() {
            guard !done else { return }
            var st = stat()
            if fstat(fd, &st) == 0, st.st_size == 0 { unlink(temp) }
            close(fd)
            done = true
        }
    }
}

/// File-system helpers for the store: `SComposeOS.Files` with the store's error type.
enum FS {
    /// Every chunk of an open file, read from its start (`pread`: the offset is left alone).
    static func forEachChunk(_ fd: Int32, what: String, _ body: (ArraySlice<UInt8>) throws(OCIError) -> Void) throws(OCIError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw .io("read \(what)", errno) }
            if n == 0 { return }
            try body(buffer[0..<n])
            offset += off_t(n)
        }
    }

    static func mkdirs(_ path: String) throws(OCIError) {
        do { try Files.makeDirectories(path) } catch { throw .io(error.what, error.errno) }
    }

    static func read(_ path: String) throws(OCIError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(path)", errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("read \(path)", errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(OCIError) {
        do { try Files.writeAll(fd, bytes, what: what) } catch { throw .io(error.what, error.errno) }
    }

    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(OCIError) {
        do { try Files.writeAtomically(path, bytes) } catch { throw .io(error.what, error.errno) }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static func list(_ path: String) -> [String] { Files.list(path) }

    static func removeTree(_ path: String) { Files.removeTree(path) }

    static func removeContents(_ dirfd: Int32) { Files.removeContents(dirfd) }
}
