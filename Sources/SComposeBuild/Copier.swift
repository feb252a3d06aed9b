// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Writes COPY and ADD sources into a stage's root file system. Destination directories are
/// opened inside the root (`openat2(RESOLVE_IN_ROOT)`), so a link in the image is followed as
/// the container would see it and never out to the host.
struct Copier {
    /// Who owns what is written.
    enum Owners {
        /// root (COPY from the context).
        case root
        /// The source's owners (COPY --from).
        case preserve
        /// `--chown`.
        case fixed(uid: UInt32, gid: UInt32)
    }

    let destRoot: Int32
    let owners: Owners
    /// `--chmod` for files and directories copied.
    let mode: mode_t?

    func owner(of st: stat) -> (UInt32, UInt32) {
        switch owners {
        case .root: return (0, 0)
        case .preserve: return (st.st_uid, st.st_gid)
        case .fixed(let uid, let gid): return (uid, gid)
        }
    }

    /// `mkdir -p` inside the root; directories made here get the copy's owner.
    @discardableResult
    func makeDirectories(_ path: String) throws(BuildError) -> Int32 {
        let parts = path.split(separator: "/").map(String.init)
        var current = dup(destRoot)
        guard current >= 0 else { throw BuildError("cannot open the root: \(SourceTree.errorText())") }
        var sofar = ""
        for part in parts {
            sofar += "/" + part
            var next = sc_open_in_root(destRoot, sofar, O_RDONLY | O_DIRECTORY, 0)
            if next < 0 && errno == ENOENT {
                if mkdirat(current, part, 0o755) != 0 && errno != EEXIST {
                    close(current)
                    throw BuildError("mkdir \(sofar): \(SourceTree.errorText())")
                }
                let (uid, gid) = owner(of: stat())
                fchownat(current, part, uid, gid, AT_SYMLINK_NOFOLLOW)
                next = sc_open_in_root(destRoot, sofar, O_RDONLY | O_DIRECTORY, 0)
            }
            close(current)
            guard next >= 0 else { throw BuildError("cannot make directory \(sofar): \(SourceTree.errorText())") }
            current = next
        }
        return current
    }

    /// Copies the contents of the source directory `source` into `destination`.
    func copyContents(of source: Int32, relative: String, tree: SourceTree, to destination: String) throws(BuildError) {
        let into = try makeDirectories(destination)
        defer { close(into) }
        for name in SourceTree.names(source) {
            try copy(name, in: source, relative: relative.isEmpty ? name : relative + "/" + name, tree: tree, to: into, as: name)
        }
    }

    /// Copies one entry (recursively) of `sourceDir` into the open directory `target`.
    func copy(
        _ name: String, in sourceDir: Int32, relative: String, tree: SourceTree, to target: Int32, as newName: String
    ) throws(BuildError) {
        var st = stat()
        guard fstatat(sourceDir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw BuildError("cannot read \(relative) in the \(tree.label): \(SourceTree.errorText())")
        }
        let kind = st.st_mode & S_IFMT
        let excluded = tree.excluded(relative, isDirectory: kind == S_IFDIR)
        if excluded && (kind != S_IFDIR || tree.ignore.map({ $0.canSkipDirectory(relative) }) ?? true) { return }
        let (uid, gid) = owner(of: st)
        let perm = mode ?? (st.st_mode & 0o7777)
        var times = [st.st_atim, st.st_mtim]
        switch kind {
        case S_IFDIR:
            var existing = stat()
            let exists = fstatat(target, newName, &existing, 0) == 0 && (existing.st_mode & S_IFMT) == S_IFDIR
            if !exists {
                unlinkat(target, newName, 0)
                guard mkdirat(target, newName, 0o700) == 0 || errno == EEXIST else {
                    throw BuildError("mkdir \(newName): \(SourceTree.errorText())")
                }
            }
            let from = openat(sourceDir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let to = openat(target, newName, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer {
                if from >= 0 { close(from) }
                if to >= 0 { close(to) }
            }
            guard from >= 0, to >= 0 else { throw BuildError("cannot copy \(relative): \(SourceTree.errorText())") }
            for child in SourceTree.names(from) {
                try copy(child, in: from, relative: relative + "/" + child, tree: tree, to: to, as: child)
            }
            if !exists && !excluded {
                fchown(to, uid, gid)
                fchmod(to, perm)
                futimens(to, &times)
            }
        case S_IFREG:
            let input = openat(sourceDir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { throw BuildError("cannot read \(relative): \(SourceTree.errorText())") }
            defer { close(input) }
            try writeFile(from: input, to: target, name: newName, uid: uid, gid: gid, mode: perm, times: &times)
        case S_IFLNK:
            let link = SourceTree.readLink(sourceDir, name)
            unlinkat(target, newName, 0)
            guard symlinkat(link, target, newName) == 0 else { throw BuildError("symlink \(newName): \(SourceTree.errorText())") }
            fchownat(target, newName, uid, gid, AT_SYMLINK_NOFOLLOW)
            utimensat(target, newName, &times, AT_SYMLINK_NOFOLLOW)
        case S_IFIFO, S_IFCHR, S_IFBLK:
            unlinkat(target, newName, 0)
            if mknodat(target, newName, st.st_mode, st.st_rdev) == 0 {
                fchownat(target, newName, uid, gid, AT_SYMLINK_NOFOLLOW)
            }
        default:
            return
        }
    }

    /// A file's content into `name` (replacing a file or link there).
    func writeFile(
        from input: Int32, to target: Int32, name: String, uid: UInt32, gid: UInt32, mode: mode_t, times: inout [timespec]
    ) throws(BuildError) {
        var existing = stat()
        if fstatat(target, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            if (existing.st_mode & S_IFMT) == S_IFDIR {
                throw BuildError("cannot copy to \(name): it is a directory in the image")
            }
            unlinkat(target, name, 0)
        }
        let output = openat(target, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw BuildError("cannot create \(name): \(SourceTree.errorText())") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BuildError("read \(name): \(SourceTree.errorText())") }
            if n == 0 { break }
            do {
                try Files.writeAll(output, Array(buffer[0..<n]), what: name)
            } catch {
                throw BuildError(error.description)
            }
        }
        // chown clears set-id bits: the mode goes on after it.
        fchown(output, uid, gid)
        fchmod(output, mode)
        futimens(output, &times)
    }
}
