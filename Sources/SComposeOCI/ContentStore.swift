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

    /// A blob being written.
    public struct Writer {
        let store: ContentStore
        let temp: String
        let fd: Int32
        var hasher = SHA256()
        var done = false

        init(store: ContentStore) throws(OCIError) {
            self.store = store
            var template = Array((store.root + "/ingest/blob-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { sc_mkostemp($0.baseAddress, O_CLOEXEC) }
            guard fd >= 0 else { throw .io("create \(store.root)/ingest", errno) }
            self.fd = fd
            temp = String(cString: template)
        }

        mutating func write(_ bytes: some Collection<UInt8>) throws(OCIError) {
            let chunk = Array(bytes)
            hasher.update(data: chunk)
            try FS.writeAll(fd, chunk, what: temp)
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
