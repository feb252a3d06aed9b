// SPDX-License-Identifier: Apache-2.0
import CArchive
import CLinux
import Crypto
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Unpacks image layers (tar, gzip or zstd) into a directory for overlayfs. Layer content is
/// hostile input: every entry is created relative to the snapshot directory through
/// descriptors opened without following symlinks, so nothing can be written outside it
/// (`..`, absolute paths, symlinks and hard links planted by earlier entries, whiteouts aimed
/// outside). Whiteouts become overlayfs whiteouts (0/0 character devices) and opaque
/// directories get `trusted.overlay.opaque=y` (`user.overlay.opaque=y` in a user namespace).
public struct LayerUnpacker: Sendable {
    /// The most bytes one layer may unpack to.
    public var maxBytes: Int64
    /// The most entries one layer may have.
    public var maxEntries: Int
    /// Whether to apply owners (needs root; tests as non-root turn it off).
    public var preserveOwnership: Bool

    public init(maxBytes: Int64 = 64 << 30, maxEntries: Int = 5_000_000, preserveOwnership: Bool = getuid() == 0) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
        self.preserveOwnership = preserveOwnership
    }

    /// What unpacking a layer found.
    public struct Result: Sendable {
        /// SHA-256 of the uncompressed tar stream.
        public var diffID: Digest
        /// Bytes of file content written.
        public var size: Int64
    }

    /// The SHA-256 of the uncompressed stream of a (possibly compressed) tar file.
    public static func diffID(of path: String) throws(OCIError) -> Digest {
        var hasher = SHA256()
        try decompressed(path) { hasher.update(bufferPointer: $0) }
        return Digest(finalizing: hasher)
    }

    /// Feeds the uncompressed bytes of a plain, gzip or zstd file to `body`, block by block.
    static func decompressed(_ path: String, _ body: (UnsafeRawBufferPointer) throws(OCIError) -> Void) throws(OCIError) {
        guard let a = archive_read_new() else { throw .invalid("cannot create an archive reader") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_raw(a)
        var entry: OpaquePointer?
        guard archive_read_open_filename(a, path, 1 << 20) == ARCHIVE_OK,
            archive_read_next_header(a, &entry) == ARCHIVE_OK
        else {
            throw .invalid("cannot read \(path): \(errorString(a))")
        }
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let r = archive_read_data_block(a, &buffer, &size, &offset)
            if r == ARCHIVE_EOF { return }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                throw .invalid("corrupt data in \(path): \(errorString(a))")
            }
            if let buffer, size > 0 { try body(UnsafeRawBufferPointer(start: buffer, count: size)) }
        }
    }

    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }

    /// Unpacks `layer` into a new directory `destination` (which must not exist). On any
    /// error nothing is left at `destination`.
    @discardableResult
    public func unpack(layer: String, into destination: String) throws(OCIError) -> Int64 {
        let temp = destination + ".partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        FS.removeTree(temp)
        guard mkdir(temp, 0o755) == 0 else { throw .io("mkdir \(temp)", errno) }
        do throws(OCIError) {
            let size = try extract(layer, temp)
            if rename(temp, destination) != 0 {
                // Another process unpacked the same layer first: theirs is as good as ours.
                guard errno == EEXIST || errno == ENOTEMPTY else { throw OCIError.io("rename \(destination)", errno) }
                FS.removeTree(temp)
            }
            return size
        } catch {
            FS.removeTree(temp)
            throw error
        }
    }

    private func extract(_ layer: String, _ dir: String) throws(OCIError) -> Int64 {
        let root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw .io("open \(dir)", errno) }
        defer { close(root) }
        return try extract(archive: layer, into: root, dir: dir)
    }

    /// Extracts an archive (tar, compressed or not) into an existing directory, merging with
    /// what is there (`ADD`'s local archives); the same confinement as layers.
    @discardableResult
    public func extract(archive layer: String, into root: Int32, dir: String) throws(OCIError) -> Int64 {
        guard let a = archive_read_new() else { throw .invalid("cannot create an archive reader") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_gnutar(a)
        guard archive_read_open_filename(a, layer, 1 << 20) == ARCHIVE_OK else {
            throw .invalid("cannot read layer \(layer): \(Self.errorString(a))")
        }
        var total: Int64 = 0
        var count = 0
        var directoryTimes: [(parts: [String], atime: timespec, mtime: timespec)] = []
        var entry: OpaquePointer?
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
                throw .invalid("corrupt layer: \(Self.errorString(a))")
            }
            count += 1
            if count > maxEntries { throw .invalid("layer has more than \(maxEntries) entries") }
            guard let rawPath = archive_entry_pathname(entry).map({ String(cString: $0) }) else {
                throw .invalid("layer entry without a name")
            }
            let parts = try Self.clean(rawPath)
            if parts.isEmpty { continue }
            let size = archive_entry_size(entry)
            if size < 0 || size > maxBytes - total { throw .invalid("layer entry \(rawPath) is too large (\(size) bytes)") }
            let name = parts[parts.count - 1]
            let parent = try openParent(root, parts.dropLast())
            defer { close(parent) }

            if name.hasPrefix(".wh.") {
                if name == ".wh..wh..opq" {
                    let value: [UInt8] = [UInt8(ascii: "y")]
                    // In a user namespace, overlayfs (mounted with `userxattr`) reads user.overlay.*.
                    let key = UserNamespace.overlayXattrPrefix() + "opaque"
                    let r = value.withUnsafeBytes { sc_fsetxattr(parent, key, $0.baseAddress, 1, 0) }
                    if r != 0 { throw .io("set opaque on \(rawPath)", errno) }
                } else {
                    let target = String(name.dropFirst(4))
                    try Self.validName(target, rawPath)
                    removeExisting(parent, target)
                    guard mknodat(parent, target, S_IFCHR | 0o000, sc_makedev(0, 0)) == 0 else {
                        throw .io("whiteout \(rawPath)", errno)
                    }
                }
                continue
            }

            let mode = archive_entry_mode(entry)
            let perm = mode & 0o7777
            if let hardlink = archive_entry_hardlink(entry).map({ String(cString: $0) }) {
                let targetParts = try Self.clean(hardlink)
                guard !targetParts.isEmpty else { throw .invalid("hard link \(rawPath) to the layer root") }
                let targetParent = try openParent(root, targetParts.dropLast())
                defer { close(targetParent) }
                removeExisting(parent, name)
                // linkat without AT_SYMLINK_FOLLOW links the entry itself, never what a symlink points at.
                guard linkat(targetParent, targetParts[targetParts.count - 1], parent, name, 0) == 0 else {
                    throw .io("hard link \(rawPath) -> \(hardlink)", errno)
                }
                continue
            }
            switch mode & S_IFMT {
            case S_IFDIR:
                var st = stat()
                if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                    if st.st_mode & S_IFMT != S_IFDIR {
                        removeExisting(parent, name)
                        guard mkdirat(parent, name, 0o700) == 0 else { throw .io("mkdir \(rawPath)", errno) }
                    }
                } else {
                    guard mkdirat(parent, name, 0o700) == 0 else { throw .io("mkdir \(rawPath)", errno) }
                }
                try applyMetadata(entry, parent, name, perm, isLink: false, path: rawPath)
                directoryTimes.append(
                    (parts, archive_entry_atime_timespec(entry), archive_entry_mtime_timespec(entry)))
            case S_IFREG:
                removeExisting(parent, name)
                let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw .io("create \(rawPath)", errno) }
                do throws(OCIError) {
                    total += try copyData(a, to: fd, declared: size, path: rawPath, budget: maxBytes - total)
                } catch {
                    close(fd)
                    throw error
                }
                try applyXattrs(entry, fd: fd)
                close(fd)
                try applyMetadata(entry, parent, name, perm, isLink: false, path: rawPath)
            case S_IFLNK:
                let target = archive_entry_symlink(entry).map { String(cString: $0) } ?? ""
                removeExisting(parent, name)
                guard symlinkat(target, parent, name) == 0 else { throw .io("symlink \(rawPath)", errno) }
                try applyMetadata(entry, parent, name, perm, isLink: true, path: rawPath)
            case S_IFCHR, S_IFBLK, S_IFIFO:
                removeExisting(parent, name)
                let dev = sc_makedev(UInt32(archive_entry_rdevmajor(entry)), UInt32(archive_entry_rdevminor(entry)))
                guard mknodat(parent, name, (mode & S_IFMT) | 0o600, dev) == 0 else {
                    // In a user namespace (rootless) the kernel makes FIFOs and whiteouts but no
                    // device node: a layer's are left out, as Docker and podman do there (a
                    // container's /dev is its own, with the host's nodes bound in).
                    if errno == EPERM, mode & S_IFMT != S_IFIFO, UserNamespace.isNested { continue }
                    throw .io("mknod \(rawPath)", errno)
                }
                try applyMetadata(entry, parent, name, perm, isLink: false, path: rawPath)
            default:
                continue
            }
        }
        // Directory times last: creating their children changed them.
        for (parts, atime, mtime) in directoryTimes.reversed() {
            guard let parent = try? openParent(root, parts.dropLast()) else { continue }
            var times = [atime, mtime]
            utimensat(parent, parts[parts.count - 1], &times, AT_SYMLINK_NOFOLLOW)
            close(parent)
        }
        return total
    }

    /// Path components of an entry name: leading `/` and `./` dropped (as Docker does), `..`
    /// rejected.
    static func clean(_ raw: String) throws(OCIError) -> [String] {
        var parts: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw .invalid("layer entry \(raw) points outside the layer") }
            parts.append(String(part))
        }
        return parts
    }

    static func validName(_ name: String, _ raw: String) throws(OCIError) {
        if name.isEmpty || name == "." || name == ".." || name.contains("/") {
            throw .invalid("layer entry \(raw) is not a valid whiteout")
        }
    }

    /// Opens (creating as needed) the directory `parts` below `root`, one component at a time,
    /// refusing symlinks, so a planted link can never redirect a write.
    func openParent(_ root: Int32, _ parts: ArraySlice<String>) throws(OCIError) -> Int32 {
        var fd = dup(root)
        guard fd >= 0 else { throw .io("dup", errno) }
        for part in parts {
            var next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                if mkdirat(fd, part, 0o755) != 0 && errno != EEXIST {
                    let err = errno
                    close(fd)
                    throw .io("mkdir \(part)", err)
                }
                next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let err = errno
            close(fd)
            guard next >= 0 else {
                if err == ELOOP || err == ENOTDIR {
                    throw .invalid("layer writes through \(parts.joined(separator: "/")), which is not a directory")
                }
                throw .io("open \(parts.joined(separator: "/"))", err)
            }
            fd = next
        }
        return fd
    }

    /// Removes whatever is at `name` (a directory replaced by a non-directory goes whole),
    /// never following symlinks.
    func removeExisting(_ parent: Int32, _ name: String) {
        if unlinkat(parent, name, 0) == 0 || errno == ENOENT { return }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        FS.removeContents(fd)
        close(fd)
        unlinkat(parent, name, AT_REMOVEDIR)
    }

    func copyData(_ a: OpaquePointer, to fd: Int32, declared: Int64, path: String, budget: Int64) throws(OCIError)
        -> Int64
    {
        var written: Int64 = 0
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: Int64 = 0
        while true {
            let r = archive_read_data_block(a, &buffer, &size, &offset)
            if r == ARCHIVE_EOF { break }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                throw .invalid("corrupt layer at \(path): \(Self.errorString(a))")
            }
            guard offset >= 0, offset + Int64(size) <= budget, offset + Int64(size) <= max(declared, 0) else {
                throw .invalid("layer entry \(path) is larger than declared")
            }
            guard let buffer else { continue }
            var done = 0
            while done < size {
                let n = pwrite(fd, buffer + done, size - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw .io("write \(path)", errno)
                }
                done += n
            }
            written = max(written, offset + Int64(size))
        }
        if written < declared { ftruncate(fd, off_t(declared)) }
        return declared
    }

    func applyXattrs(_ entry: OpaquePointer, fd: Int32) throws(OCIError) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            let key = String(cString: name)
            // Overlay's own attributes inside a layer would confuse the mount (user.overlay.*
            // is overlay's own in a user namespace).
            if key.hasPrefix("trusted.overlay.") || key.hasPrefix("user.overlay.") { continue }
            sc_fsetxattr(fd, name, value, size, 0)
        }
    }

    func applyMetadata(
        _ entry: OpaquePointer, _ parent: Int32, _ name: String, _ perm: mode_t, isLink: Bool, path: String
    ) throws(OCIError) {
        if preserveOwnership {
            let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
            let gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
            if fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
                throw .io("chown \(path)", errno)
            }
        }
        if !isLink {
            // After chown, which clears set-id bits.
            if fchmodat(parent, name, perm, 0) != 0 { throw .io("chmod \(path)", errno) }
        }
        var times = [archive_entry_atime_timespec(entry), archive_entry_mtime_timespec(entry)]
        utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW)
    }
}

/// Small libarchive helpers that read timestamps as `timespec`.
func archive_entry_atime_timespec(_ e: OpaquePointer) -> timespec {
    timespec(tv_sec: time_t(archive_entry_atime(e)), tv_nsec: Int(archive_entry_atime_nsec(e)))
}

func archive_entry_mtime_timespec(_ e: OpaquePointer) -> timespec {
    timespec(tv_sec: time_t(archive_entry_mtime(e)), tv_nsec: Int(archive_entry_mtime_nsec(e)))
}
