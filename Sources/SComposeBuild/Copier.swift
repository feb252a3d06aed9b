// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Writes COPY and ADD sources into a stage's root file system. Destination directories are
/// opened inside the root (`openat2(RESOLVE_IN_ROOT)`), so a link in the image is followed as
/// the container would see it and never out to the host.
struct Copier {
    let destRoot: Int32
    /// Who owns what is written: root for the context, the source's owners for `--from`, or `--chown`.
    let owners: TreeCopy.Owners
    /// `--chmod` for files and directories copied.
    let mode: mode_t?

    /// The copy of a tree's entries: with the tree's `.dockerignore` and Docker's rules for
    /// COPY (times kept, the image's own directories left as they are).
    func treeCopy(from tree: SourceTree?) -> TreeCopy {
        let filter = tree.flatMap { tree -> ((String, Bool) -> TreeCopy.Choice)? in
            guard tree.ignore != nil else { return nil }
            return { relative, isDirectory in
                guard tree.excluded(relative, isDirectory: isDirectory) else { return .copy }
                // An excluded directory may still hold re-included files (`!dir/keep`).
                return isDirectory && tree.ignore.map({ !$0.canSkipDirectory(relative) }) == true ? .contentsOnly : .skip
            }
        }
        return TreeCopy(
            owners: owners, mode: mode, preserveTimes: true, root: destRoot, filter: filter, sourceLabel: tree?.label,
            destinationLabel: "image")
    }

    /// The owner of files the build makes itself (downloads, heredocs, directories).
    var ownerOfNew: (uid: UInt32, gid: UInt32) {
        if case .fixed(let uid, let gid) = owners { return (uid, gid) }
        return (0, 0)
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
                fchownat(current, part, ownerOfNew.uid, ownerOfNew.gid, AT_SYMLINK_NOFOLLOW)
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
        do {
            try treeCopy(from: tree).copyContents(of: source, relative: relative, into: into, at: destination)
        } catch {
            throw BuildError(error.description)
        }
    }

    /// Copies one entry (recursively) of `sourceDir` into the open directory `target`, which is
    /// `targetPath` in the root.
    func copy(
        _ name: String, in sourceDir: Int32, relative: String, tree: SourceTree, to target: Int32, at targetPath: String, as newName: String
    ) throws(BuildError) {
        do {
            try treeCopy(from: tree).copy(name, in: sourceDir, relative: relative, into: target, at: targetPath, as: newName)
        } catch {
            throw BuildError(error.description)
        }
    }

    /// A file the build made (a download, a heredoc) into `name` in `target`, with `--chmod` or `mode`.
    func writeFile(from input: Int32, to target: Int32, name: String, mode: mode_t, times: [timespec]) throws(BuildError) {
        do {
            try treeCopy(from: nil).writeFile(from: input, into: target, name: name, mode: self.mode ?? mode, owner: ownerOfNew, times: times)
        } catch {
            throw BuildError(error.description)
        }
    }
}
