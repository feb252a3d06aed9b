// SPDX-License-Identifier: Apache-2.0
import CArchive
import CDynamic
import CLinux
import Crypto
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Turns an overlayfs upper directory (what one build step changed) into an OCI layer: an
/// uncompressed tar in which overlay whiteouts (0/0 character devices) become `.wh.<name>`
/// entries and opaque directories (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry.
///
/// Entries are written in name order, so the same tree always gives the same digest (the
/// build cache and image IDs rely on it). Nothing is followed: links are stored as links.
public struct LayerWriter: Sendable {
    public init() {}

    /// The stored layer: its blob digest is also its diff ID (it is not compressed).
    public struct Result: Sendable {
        public var digest: Digest
        public var size: Int64
    }

    /// Writes the layer of `directory` into `store`, without the entries `skip` names
    /// (relative paths, no leading `/`).
    public func write(directory: String, into store: ContentStore, skip: Set<String> = []) throws(OCIError) -> Result {
        let (fd, temp) = try store.scratchFile("layer")
        defer {
            close(fd)
            unlink(temp)
        }
        try write(directory: directory, to: fd, skip: skip)
        let digest = try store.adopt(file: temp, fd: fd)
        return Result(digest: digest, size: store.size(digest) ?? 0)
    }

    /// Writes the tar of `directory` to `fd` (a file or a pipe).
    public func write(directory: String, to fd: Int32, skip: Set<String> = []) throws(OCIError) {
        guard let archive = archive_write_new() else { throw .invalid("cannot create an archive writer") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax_restricted(archive)
        guard archive_write_open_fd(archive, fd) == ARCHIVE_OK else { throw Self.failure(archive, directory) }
        var state = WalkState(archive: archive, skip: skip)
        try add(directory: directory, relative: "", state: &state)
        guard archive_write_close(archive) == ARCHIVE_OK else { throw Self.failure(archive, directory) }
    }

    struct WalkState {
        let archive: OpaquePointer
        var skip: Set<String> = []
        /// First path of each (device, inode) with several links, for hard-link entries.
        var links: [String: String] = [:]
    }

    static func failure(_ archive: OpaquePointer, _ path: String) -> OCIError {
        .invalid("writing the layer of \(path): " + (archive_error_string(archive).map { String(cString: $0) } ?? "error"))
    }

    private func add(directory: String, relative: String, state: inout WalkState) throws(OCIError) {
        for name in Files.list(directory).sorted() {
            let path = directory + "/" + name
            let entryName = relative + name
            if state.skip.contains(entryName) { continue }
            var st = stat()
            guard lstat(path, &st) == 0 else { throw .io("stat \(path)", errno) }
            let kind = st.st_mode & S_IFMT
            if kind == S_IFCHR && st.st_rdev == 0 {
                try whiteout(relative + ".wh." + name, state: state)
                continue
            }
            let xattrs = try Self.xattrs(path)
            if xattrs.keys.contains(where: { ["redirect", "metacopy"].contains($0.dropFirst(Self.overlayPrefix($0).count)) && Self.isOverlayPrivate($0) }) {
                throw .invalid("\(path) uses overlayfs redirects or metacopy, which a layer cannot hold")
            }
            guard let entry = archive_entry_new() else { throw .invalid("cannot create an archive entry") }
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, kind == S_IFDIR ? entryName + "/" : entryName)
            archive_entry_set_mode(entry, st.st_mode)
            archive_entry_set_uid(entry, Int64(st.st_uid))
            archive_entry_set_gid(entry, Int64(st.st_gid))
            archive_entry_set_mtime(entry, st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
            for (key, value) in xattrs.sorted(by: { $0.key < $1.key }) where !Self.isOverlayPrivate(key) {
                value.withUnsafeBytes { _ = archive_entry_xattr_add_entry(entry, key, $0.baseAddress, $0.count) }
            }
            var copyData = false
            switch kind {
            case S_IFREG:
                let key = "\(st.st_dev):\(st.st_ino)"
                if st.st_nlink > 1, let first = state.links[key] {
                    archive_entry_set_hardlink(entry, first)
                    archive_entry_set_size(entry, 0)
                } else {
                    if st.st_nlink > 1 { state.links[key] = entryName }
                    archive_entry_set_size(entry, Int64(st.st_size))
                    copyData = st.st_size > 0
                }
            case S_IFLNK:
                archive_entry_set_symlink(entry, try Self.readLink(path))
            case S_IFCHR, S_IFBLK:
                archive_entry_set_rdevmajor(entry, dev_t(sc_major(st.st_rdev)))
                archive_entry_set_rdevminor(entry, dev_t(sc_minor(st.st_rdev)))
            case S_IFDIR, S_IFIFO:
                break
            default:
                continue  // sockets have no place in a layer
            }
            guard archive_write_header(state.archive, entry) == ARCHIVE_OK else { throw Self.failure(state.archive, path) }
            if copyData { try copy(path, state: state) }
            if kind == S_IFDIR {
                // user.overlay.opaque: an upper directory written in a user namespace (rootless).
                if xattrs["trusted.overlay.opaque"] == [UInt8(ascii: "y")] || xattrs["user.overlay.opaque"] == [UInt8(ascii: "y")] {
                    try whiteout(entryName + "/.wh..wh..opq", state: state)
                }
                try add(directory: path, relative: entryName + "/", state: &state)
            }
        }
    }

    private func whiteout(_ name: String, state: WalkState) throws(OCIError) {
        guard let entry = archive_entry_new() else { throw .invalid("cannot create an archive entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, 0o100000)
        archive_entry_set_perm(entry, 0)
        archive_entry_set_size(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        guard archive_write_header(state.archive, entry) == ARCHIVE_OK else { throw Self.failure(state.archive, name) }
    }

    private func copy(_ path: String, state: WalkState) throws(OCIError) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(path)", errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw .io("read \(path)", errno) }
            if n == 0 { return }
            let written = buffer.withUnsafeBytes { archive_write_data(state.archive, $0.baseAddress, n) }
            guard written == n else { throw Self.failure(state.archive, path) }
        }
    }

    /// overlayfs's own attributes describe the upper directory, not the files.
    static func isOverlayPrivate(_ key: String) -> Bool {
        key.hasPrefix("trusted.overlay.") || key.hasPrefix("user.overlay.")
    }

    /// The overlay prefix `key` starts with ("" for none).
    static func overlayPrefix(_ key: String) -> String {
        ["trusted.overlay.", "user.overlay."].first { key.hasPrefix($0) } ?? ""
    }

    static func readLink(_ path: String) throws(OCIError) -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { throw .io("readlink \(path)", errno) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The extended attributes of a file (not followed).
    static func xattrs(_ path: String) throws(OCIError) -> [String: [UInt8]] {
        let size = sc_llistxattr(path, nil, 0)
        guard size > 0 else { return [:] }
        var names = [CChar](repeating: 0, count: size)
        let n = sc_llistxattr(path, &names, size)
        guard n > 0 else { return [:] }
        var out: [String: [UInt8]] = [:]
        var start = 0
        for i in 0..<n where names[i] == 0 {
            let name = String(decoding: names[start..<i].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = i + 1
            let length = sc_lgetxattr(path, name, nil, 0)
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: length)
            let got = value.withUnsafeMutableBytes { sc_lgetxattr(path, name, $0.baseAddress, $0.count) }
            if got >= 0 { out[name] = Array(value[0..<got]) }
        }
        return out
    }
}

extension ContentStore {
    /// Takes a finished file of the ingest directory (`fd` open on it) as a blob: hashed, made
    /// durable and renamed into place, not copied.
    func adopt(file: String, fd: Int32) throws(OCIError) -> Digest {
        var hasher = SHA256()
        try FS.forEachChunk(fd, what: file) { hasher.update(data: $0) }
        let digest = Digest(finalizing: hasher)
        if has(digest) { return digest }
        guard fsync(fd) == 0 else { throw .io("fsync \(file)", errno) }
        guard link(file, path(digest)) == 0 || errno == EEXIST else { throw .io("store \(file)", errno) }
        FS.syncDirectory(root + "/blobs/sha256")
        return digest
    }
}
