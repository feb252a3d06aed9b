// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Copies directory trees from descriptor to descriptor: COPY and ADD and bind sources of
/// builds, `cp`, `watch`'s syncs and volume seeds. Either tree may be hostile (an image, a
/// container someone else runs), so nothing is followed out of it: in the source, directories
/// and files are opened with `O_NOFOLLOW` and links are copied as links; in the destination,
/// a link where a directory goes is followed only inside `root` (as the container sees it),
/// and replaced by the directory when there is no root; files are made with `O_EXCL | O_NOFOLLOW`
/// after whatever was there is unlinked.
public struct TreeCopy {
    /// Who owns the copies.
    public enum Owners: Sendable {
        /// Whoever makes them (us), as `cp` without `--archive`.
        case unchanged
        /// The source's owners.
        case source
        /// These numbers (`COPY --chown`, or root for the build context).
        case fixed(uid: UInt32, gid: UInt32)
    }

    /// What `filter` makes of an entry.
    public enum Choice: Sendable {
        /// Copied with its content.
        case copy
        /// Left out with its content.
        case skip
        /// A directory left out but walked for what it holds that is not (`.dockerignore`'s
        /// `!dir/keep`): made if missing, without the source's owner, mode or times.
        case contentsOnly
    }

    /// Who owns the copies.
    public var owners: Owners
    /// One mode for every file and directory copied (`--chmod`), instead of the source's.
    public var mode: mode_t?
    /// Access and modification times as the source's (else the copy's own).
    public var preserveTimes: Bool
    /// Whether a directory already in the destination takes the source's owner and mode, as a
    /// tar extraction does (`cp`); COPY leaves an image's directories as they are.
    public var updateExistingDirectories: Bool
    /// The destination's root, inside which links in the destination are followed; nil: not followed.
    public var root: Int32?
    /// Decides for each entry by its path relative to the source's top and whether it is a directory.
    public var filter: ((_ relative: String, _ isDirectory: Bool) -> Choice)?
    /// What messages call the source ("build context", "stage builder").
    public var sourceLabel: String?
    /// What messages call the destination ("image").
    public var destinationLabel: String?

    /// By default: our owner, the source's modes, fresh times, directories already there kept
    /// as they are, no link in the destination followed, and everything copied.
    public init(
        owners: Owners = .unchanged, mode: mode_t? = nil, preserveTimes: Bool = false, updateExistingDirectories: Bool = false,
        root: Int32? = nil, filter: ((_ relative: String, _ isDirectory: Bool) -> Choice)? = nil, sourceLabel: String? = nil,
        destinationLabel: String? = nil
    ) {
        self.owners = owners
        self.mode = mode
        self.preserveTimes = preserveTimes
        self.updateExistingDirectories = updateExistingDirectories
        self.root = root
        self.filter = filter
        self.sourceLabel = sourceLabel
        self.destinationLabel = destinationLabel
    }

    /// The owner a copy of something `st` describes gets; nil: leave it as made.
    public func owner(of st: stat) -> (uid: UInt32, gid: UInt32)? {
        switch owners {
        case .unchanged: return nil
        case .source: return (st.st_uid, st.st_gid)
        case .fixed(let uid, let gid): return (uid, gid)
        }
    }

    /// Copies what the directory `source` holds into the directory `target`. `relative` is the
    /// source's path for `filter` and messages; `targetPath` the target's path inside `root`.
    public func copyContents(of source: Int32, relative: String = "", into target: Int32, at targetPath: String = "/") throws(TreeCopyError) {
        guard let names = Files.names(source) else { throw TreeCopyError("cannot read \(shown(relative))", errno: errno) }
        for name in names.sorted() {
            try copy(name, in: source, relative: Self.join(relative, name), into: target, at: targetPath, as: name)
        }
    }

    /// Copies the entry `name` of the directory `sourceDir` (a whole tree for a directory) into
    /// the directory `target` as `newName`.
    public func copy(
        _ name: String, in sourceDir: Int32, relative: String? = nil, into target: Int32, at targetPath: String = "/", as newName: String? = nil
    ) throws(TreeCopyError) {
        let relative = relative ?? name
        let newName = newName ?? name
        var st = stat()
        guard fstatat(sourceDir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }  // gone since the directory was listed
            throw TreeCopyError("cannot read \(shown(relative))", errno: errno)
        }
        let kind = st.st_mode & S_IFMT
        let choice = filter?(relative, kind == S_IFDIR) ?? .copy
        if case .skip = choice { return }
        if case .contentsOnly = choice, kind != S_IFDIR { return }
        let owner = owner(of: st)
        let perm = mode ?? (st.st_mode & 0o7777)
        let times = preserveTimes ? [st.st_atim, st.st_mtim] : nil
        switch kind {
        case S_IFDIR:
            let path = Self.join(targetPath, newName)
            var to = openDirectory(newName, in: target, path: path)
            let existed = to >= 0
            if !existed {
                unlinkat(target, newName, 0)  // a file or link in the way
                guard mkdirat(target, newName, 0o700) == 0 || errno == EEXIST else { throw TreeCopyError("mkdir \(newName)", errno: errno) }
                to = openat(target, newName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard to >= 0 else { throw TreeCopyError("cannot copy \(relative)", errno: errno) }
            defer { close(to) }
            let from = openat(sourceDir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard from >= 0 else { throw TreeCopyError("cannot copy \(relative)", errno: errno) }
            defer { close(from) }
            try copyContents(of: from, relative: relative, into: to, at: path)
            if case .copy = choice, !existed || updateExistingDirectories {
                // chown clears set-id bits: the mode goes on after it.
                if let owner { fchown(to, owner.uid, owner.gid) }
                fchmod(to, perm)
                if var times { futimens(to, &times) }
            }
        case S_IFREG:
            let input = openat(sourceDir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { throw TreeCopyError("cannot read \(relative)", errno: errno) }
            defer { close(input) }
            try writeFile(from: input, into: target, name: newName, mode: perm, owner: owner, times: times)
        case S_IFLNK:
            guard let link = Files.readLink(sourceDir, name) else { throw TreeCopyError("cannot read \(shown(relative))", errno: errno) }
            unlinkat(target, newName, 0)
            guard symlinkat(link, target, newName) == 0 else { throw TreeCopyError("symlink \(newName)", errno: errno) }
            if let owner { fchownat(target, newName, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
            if var times { utimensat(target, newName, &times, AT_SYMLINK_NOFOLLOW) }
        case S_IFIFO, S_IFCHR, S_IFBLK:
            unlinkat(target, newName, 0)
            // Devices may be refused (in a user namespace): the rest of the tree still goes.
            if mknodat(target, newName, st.st_mode, st.st_rdev) == 0, let owner {
                fchownat(target, newName, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW)
            }
        default:
            return  // sockets: nothing to copy
        }
    }

    /// The content of the open file `input` into `name` in `target`, replacing a file or link
    /// there (never writing through it), with `mode`, and `owner` and `times` when given.
    public func writeFile(
        from input: Int32, into target: Int32, name: String, mode: mode_t, owner: (uid: UInt32, gid: UInt32)? = nil,
        times: [timespec]? = nil
    ) throws(TreeCopyError) {
        var existing = stat()
        if fstatat(target, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            if (existing.st_mode & S_IFMT) == S_IFDIR {
                throw TreeCopyError("cannot copy to \(name): it is a directory" + (destinationLabel.map { " in the " + $0 } ?? ""))
            }
            unlinkat(target, name, 0)
        }
        let output = openat(target, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw TreeCopyError("cannot create \(name)", errno: errno) }
        defer { close(output) }
        // Sized to the file: one read for a small one, without zeroing a large buffer per file.
        var st = stat()
        let size = fstat(input, &st) == 0 ? Int(st.st_size) : 0
        var buffer = [UInt8](repeating: 0, count: min(max(size + 1, 4096), 1 << 20))
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw TreeCopyError("read \(name)", errno: errno) }
            if n == 0 { break }
            do {
                try Files.writeAll(output, Array(buffer[0..<n]), what: name)
            } catch {
                throw TreeCopyError(error.description)
            }
        }
        // chown clears set-id bits: the mode goes on after it.
        if let owner { fchown(output, owner.uid, owner.gid) }
        fchmod(output, mode)
        if var times { futimens(output, &times) }
    }

    /// A directory of the destination if one is there: inside `root` following links as the
    /// container would, else only a real directory. -1 if none.
    private func openDirectory(_ name: String, in target: Int32, path: String) -> Int32 {
        if let root { return sc_open_in_root(root, path, O_RDONLY | O_DIRECTORY, 0) }
        return openat(target, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    }

    private func shown(_ relative: String) -> String {
        (relative.isEmpty ? "." : relative) + (sourceLabel.map { " in the " + $0 } ?? "")
    }

    static func join(_ base: String, _ name: String) -> String {
        base.isEmpty ? name : base.hasSuffix("/") ? base + name : base + "/" + name
    }
}

/// Why a tree copy stopped: what failed and the system's words for it.
public struct TreeCopyError: Error, Sendable, CustomStringConvertible {
    public var description: String

    /// A failure in `description`'s words.
    public init(_ description: String) { self.description = description }

    /// `what` failed with `errno`.
    public init(_ what: String, errno: Int32) {
        self.init(what + ": " + String(cString: strerror(errno)))
    }
}
