// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `cp` between the host and a container. Paths in the container are resolved inside its root
/// (`openat2(RESOLVE_IN_ROOT)`), so a symlink in the container never leads a copy onto the host.
extension Engine {
    /// The container's root: a running one's through /proc (its mounts included), a stopped
    /// one's as its overlay assembled on a mount that is detached at once.
    func withContainerRoot<T>(_ c: ContainerStatus, _ body: (Int32) throws -> T) throws -> T {
        if c.running, let pid = c.pid {
            let fd = open("/proc/\(pid)/root", Files.pathOnly | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw EngineError(.failed(operation: "open the root of \(c.record.name)"), errno: errno) }
            defer { close(fd) }
            return try body(fd)
        }
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            throw EngineError(.failed(operation: "read the spec of \(c.record.name)"))
        }
        let overlay = Overlay(layers: spec.container.layers, upper: spec.container.upperDir, work: spec.container.workDir)
        let fd = try openDetached(overlay, flags: Files.pathOnly, of: c)
        defer { close(fd) }
        return try body(fd)
    }

    /// A container's file system on a mount that only the returned descriptor keeps
    /// (`Overlay.openDetached`), its mount point under the state root's scratch directory.
    func openDetached(_ overlay: Overlay, flags: Int32, of c: ContainerStatus) throws(EngineError) -> Int32 {
        do {
            return try overlay.openDetached(under: root + "/tmp", flags: flags)
        } catch {
            let operation = error.step == .assemble ? "mount the file system of \(c.record.name)" : "open the file system of \(c.record.name)"
            var failure = EngineError(.failed(operation: operation))
            failure.cause = error.reason
            throw failure
        }
    }

    /// A tree copy's failure in the engine's words (the CLI maps those to exit codes).
    static func copying(_ body: () throws(TreeCopyError) -> Void) throws(EngineError) {
        do {
            try body()
        } catch {
            throw EngineError(passing: error)
        }
    }

    /// How `cp` copies: owners kept with `--archive`, and directories already there take the
    /// source's mode, as a tar extraction does.
    static func cpCopy(_ archive: Bool) -> TreeCopy {
        TreeCopy(owners: archive ? .source : .unchanged, updateExistingDirectories: true)
    }

    static func split(_ path: String) -> (dir: String, base: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return (".", p) }
        let dir = String(p[..<slash])
        return (dir.isEmpty ? "/" : dir, String(p[p.index(after: slash)...]))
    }

    /// `cp SERVICE:PATH DEST`.
    public func copyOut(_ c: ContainerStatus, path: String, to destination: String, archive: Bool, followLink: Bool) throws {
        try withContainerRoot(c) { rootFD in
            let (dir, base) = Self.split(path.hasPrefix("/") ? path : "/" + path)
            let parent = Files.openInRoot(rootFD, dir, O_RDONLY | O_DIRECTORY)
            guard parent >= 0 else { throw EngineError(.fileNotInContainer(path: path, container: c.record.name)) }
            defer { close(parent) }
            var sourceDir = parent
            var sourceName = base
            var resolved: Int32 = -1
            defer { if resolved >= 0 { close(resolved) } }
            if base == "/" || base.isEmpty {
                sourceName = "."
            } else if followLink {
                // Follow the link, still inside the root.
                resolved = Files.openInRoot(rootFD, path, Files.pathOnly)
                if resolved >= 0 {
                    sourceDir = resolved
                    sourceName = ""
                }
            }
            var st = stat()
            let statFlags = sourceName.isEmpty ? Files.atEmptyPath | AT_SYMLINK_NOFOLLOW : AT_SYMLINK_NOFOLLOW
            guard fstatat(sourceDir, sourceName, &st, statFlags) == 0 else {
                throw EngineError(.fileNotInContainer(path: path, container: c.record.name))
            }
            var target = destination
            var dst = stat()
            let destIsDir = stat(destination, &dst) == 0 && (dst.st_mode & S_IFMT) == S_IFDIR
            let name = base == "/" || base.isEmpty ? "." : base
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if destIsDir && !path.hasSuffix("/.") { target = destination + "/" + name }
                try Files.makeDirectories(target)
                let from = openat(sourceDir, sourceName.isEmpty ? "." : sourceName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                let to = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                defer {
                    if from >= 0 { close(from) }
                    if to >= 0 { close(to) }
                }
                guard from >= 0, to >= 0 else { throw EngineError(.failed(operation: "copy \(path)"), errno: errno) }
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(archive).copyContents(of: from, into: to)
                }
                fchmod(to, st.st_mode & 0o7777)
            } else {
                if destIsDir { target = destination + "/" + name }
                let (hostDir, hostBase) = Self.split(target)
                let to = open(hostDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard to >= 0 else { throw EngineError(.failed(operation: "copy to \(destination)"), errno: errno) }
                defer { close(to) }
                if sourceName.isEmpty {
                    // A followed link: copy what it names, through /proc/self/fd.
                    let entry = "/proc/self/fd/\(sourceDir)"
                    let from = open(entry, O_RDONLY | O_CLOEXEC)
                    guard from >= 0 else { throw EngineError(.failed(operation: "copy \(path)"), errno: errno) }
                    defer { close(from) }
                    try Self.copying { () throws(TreeCopyError) in
                        try Self.cpCopy(archive).writeFile(from: from, into: to, name: hostBase, mode: st.st_mode & 0o7777)
                    }
                } else {
                    try Self.copying { () throws(TreeCopyError) in
                        try Self.cpCopy(archive).copy(sourceName, in: sourceDir, into: to, as: hostBase)
                    }
                }
            }
        }
    }

    /// `cp SRC SERVICE:PATH`.
    public func copyIn(_ c: ContainerStatus, from source: String, path: String, archive: Bool, followLink: Bool) throws {
        var st = stat()
        let statResult = followLink ? stat(source, &st) : lstat(source, &st)
        guard statResult == 0 else { throw EngineError(.hostPathMissing(source)) }
        let (hostDir, hostBase) = Self.split(source)
        let from = open(hostDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard from >= 0 else { throw EngineError(.failed(operation: "read \(source)"), errno: errno) }
        defer { close(from) }
        try withContainerRoot(c) { rootFD in
            let absolute = path.hasPrefix("/") ? path : "/" + path
            let existing = Files.openInRoot(rootFD, absolute, O_RDONLY | O_DIRECTORY)
            let into: Int32
            let name: String
            if existing >= 0 {
                // An existing directory: the source goes inside it (its contents for `dir/.`).
                into = existing
                name = source.hasSuffix("/.") ? "." : hostBase
            } else {
                if absolute.hasSuffix("/") && (st.st_mode & S_IFMT) != S_IFDIR {
                    throw EngineError(.copyDestinationMissing(path))
                }
                let (dir, base) = Self.split(absolute)
                into = Files.openInRoot(rootFD, dir, O_RDONLY | O_DIRECTORY)
                guard into >= 0 else {
                    throw EngineError(.fileNotInContainer(path: dir, container: c.record.name))
                }
                name = base
            }
            defer { close(into) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let src = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard src >= 0 else { throw EngineError(.failed(operation: "read \(source)"), errno: errno) }
                defer { close(src) }
                if name != "." {
                    if mkdirat(into, name, st.st_mode & 0o7777) != 0 && errno != EEXIST {
                        throw EngineError(.failed(operation: "create \(path)"), errno: errno)
                    }
                }
                let dst = openat(into, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard dst >= 0 else { throw EngineError(.failed(operation: "copy into \(path)"), errno: errno) }
                defer { close(dst) }
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(archive).copyContents(of: src, into: dst)
                }
                fchmod(dst, st.st_mode & 0o7777)
                if archive { fchown(dst, st.st_uid, st.st_gid) }
            } else if followLink && (st.st_mode & S_IFMT) == S_IFREG {
                let src = open(source, O_RDONLY | O_CLOEXEC)
                guard src >= 0 else { throw EngineError(.failed(operation: "read \(source)"), errno: errno) }
                defer { close(src) }
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(archive).writeFile(from: src, into: into, name: name, mode: st.st_mode & 0o7777)
                }
            } else {
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(archive).copy(hostBase, in: from, into: into, as: name)
                }
            }
        }
    }
}
