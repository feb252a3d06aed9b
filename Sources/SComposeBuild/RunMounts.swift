// SPDX-License-Identifier: Apache-2.0
import CLinux
import Crypto
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// One `RUN --mount=…`, in BuildKit's syntax: comma-separated `key=value` fields (and bare
/// flags such as `ro`), `type=bind` when no type is given.
struct RunMount: Equatable {
    enum Kind: String { case bind, cache, tmpfs, secret, ssh }

    var kind: Kind = .bind
    var target: String?
    var source: String?
    var from: String?
    var id: String?
    /// Binds are read-only unless `rw`; caches are writable unless `ro`.
    var readOnly: Bool?
    var sharing = "shared"
    var mode: mode_t?
    var uid: uid_t?
    var gid: gid_t?
    var required = false
    /// tmpfs size, as the kernel reads it (`64m`).
    var size: String?
    /// A secret given as an environment variable of this name.
    var env: String?

    /// Parses one `--mount` value (already substituted).
    static func parse(_ text: String) throws(BuildError) -> RunMount {
        var mount = RunMount()
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0].lowercased().trimmingWhitespace()
            let value = parts.count == 2 ? parts[1] : nil
            func flag() throws(BuildError) -> Bool {
                switch value?.lowercased() {
                case nil, "true", "1": return true
                case "false", "0": return false
                default: throw BuildError("invalid value for \(key): \(value ?? "")")
                }
            }
            func number(_ radix: Int = 10) throws(BuildError) -> UInt32 {
                guard let value, let n = UInt32(value, radix: radix) else { throw BuildError("invalid value for \(key): \(value ?? "")") }
                return n
            }
            func text() throws(BuildError) -> String {
                guard let value, !value.isEmpty else { throw BuildError("invalid field '\(field)' must be a key=value pair") }
                return value
            }
            switch key {
            case "type":
                guard let kind = Kind(rawValue: try text().lowercased()) else {
                    throw BuildError("unsupported mount type \"\(value ?? "")\" (bind, cache, tmpfs, secret, ssh)")
                }
                mount.kind = kind
            case "target", "dst", "destination": mount.target = try text()
            case "source", "src": mount.source = try text()
            case "from": mount.from = try text()
            case "id": mount.id = try text()
            case "ro", "readonly": mount.readOnly = try flag()
            case "rw", "readwrite": mount.readOnly = !(try flag())
            case "sharing":
                let sharing = try text().lowercased()
                guard ["shared", "private", "locked"].contains(sharing) else { throw BuildError("unsupported sharing value \"\(sharing)\"") }
                mount.sharing = sharing
            case "mode": mount.mode = mode_t(try number(8))
            case "uid": mount.uid = try number()
            case "gid": mount.gid = try number()
            case "required": mount.required = try flag()
            case "env": mount.env = try text()
            case "size":
                let size = try text().lowercased()
                let digits = size.prefix { $0.isNumber }
                let unit = String(size.dropFirst(digits.count).filter { $0 != "b" })
                guard !digits.isEmpty, ["", "k", "m", "g"].contains(unit) else { throw BuildError("invalid value for size: \(size)") }
                mount.size = digits + unit
            default:
                throw BuildError("unexpected key '\(key)' in '\(field)'")
            }
        }
        if mount.target == nil, [.bind, .cache, .tmpfs].contains(mount.kind) {
            throw BuildError("mount \(mount.kind.rawValue): target is required")
        }
        if let target = mount.target, !target.hasPrefix("/") { mount.target = "/" + target }
        if mount.kind == .cache, mount.from != nil || mount.source != nil {
            throw BuildError("mount cache: from and source (seeding a cache from a stage) are not supported")
        }
        return mount
    }

    /// Where it is mounted, as the `index`-th mount of its RUN: its target, else BuildKit's
    /// place for secrets and agents; nil for a secret given only as a variable.
    func mountPoint(index: Int) -> String? {
        if let target { return target }
        switch kind {
        case .secret: return env == nil ? id.map { "/run/secrets/" + $0 } : nil
        case .ssh: return "/run/buildkit/ssh_agent.\(index)"
        default: return nil
        }
    }

    /// The mount as the cache key sees it (secrets by id only: their values never enter a key).
    var keyText: String {
        var fields = ["type=\(kind.rawValue)"]
        for (name, value) in [("target", target), ("source", source), ("from", from), ("id", id), ("env", env), ("size", size)] {
            if let value { fields.append("\(name)=\(value)") }
        }
        if let readOnly { fields.append("ro=\(readOnly)") }
        if let mode { fields.append("mode=\(String(mode, radix: 8))") }
        if let uid { fields.append("uid=\(uid)") }
        if let gid { fields.append("gid=\(gid)") }
        return fields.joined(separator: ",")
    }
}

/// A RUN step's mounts, prepared: what the cache key needs before the step runs, and what
/// makes the mounts when it does.
struct PreparedMounts {
    var mounts: [RunMount] = []
    /// A bind's files, and how they reach the step.
    var bindSources: [Int: (tree: SourceTree, match: SourceTree.Match, owners: TreeCopy.Owners)] = [:]
    var keyText = ""

    /// Targets the runtime may have made in the step's root only to mount on.
    var targets: [String] {
        mounts.enumerated().compactMap { $1.mountPoint(index: $0) }
    }
}

/// What a RUN step gets from its mounts: the runtime's mounts, environment variables
/// (`SSH_AUTH_SOCK`, secrets with `env=`), and locks held until the step ends.
struct MaterializedMounts {
    var mounts: [ContainerConfig.Mount] = []
    var env: [String] = []
    var locks: [Int32] = []

    func release() {
        for fd in locks { close(fd) }
    }
}

extension BuildRun {
    /// `--mount` flags of a RUN: parsed, with the files binds read checksummed for the key.
    func prepareMounts(_ instruction: Instruction, _ state: StageState) throws -> PreparedMounts {
        var prepared = PreparedMounts()
        guard let flag = instruction.flags["mount"] else { return prepared }
        let expand = expander(lookup(state))
        var hasher = SHA256()
        for text in flag.split(separator: "\n").map(String.init) {
            var mount: RunMount
            do {
                mount = try RunMount.parse(try expand.expand(text))
            } catch let error as BuildError {
                throw fail(instruction, "--mount=\(text): \(error.description)")
            }
            if mount.kind == .secret || mount.kind == .ssh, mount.id == nil {
                mount.id = mount.kind == .ssh ? "default" : mount.target.map { String($0.split(separator: "/").last ?? "") }
            }
            if mount.kind == .secret, mount.id?.isEmpty ?? true {
                throw fail(instruction, "--mount=\(text): a secret needs an id (or a target)")
            }
            hasher.update(data: Array((mount.keyText + "\n").utf8))
            if mount.kind == .bind {
                let (tree, treeKey, owners) = try bindTree(mount.from, instruction)
                let source = mount.source ?? "."
                guard let match = try tree.resolve(source).first else {
                    throw fail(instruction, "--mount=\(text): \(source) not found in \(tree.label)")
                }
                if treeKey == "context" {
                    try tree.checksum(match, into: &hasher)
                } else {
                    hasher.update(data: Array("\(treeKey)\n".utf8))
                }
                prepared.bindSources[prepared.mounts.count] = (tree, match, owners)
            }
            prepared.mounts.append(mount)
        }
        prepared.keyText = "mounts " + Digest(finalizing: hasher).description
        return prepared
    }

    /// The tree a bind mount reads: the context, another stage, or an image.
    private func bindTree(_ from: String?, _ instruction: Instruction) throws -> (SourceTree, String, TreeCopy.Owners) {
        guard let fromText = from else {
            guard let context else { throw BuildError("cannot open the build context \(request.context)") }
            return (context, "context", .fixed(uid: 0, gid: 0))
        }
        let from = try expander { self.globalArgs[$0] }.expand(fromText)
        if let index = stageIndex(from, before: currentStage), let other = results[index] {
            return (try mountTree(try snapshots(other), label: "stage \(from)"), "stage " + other.key.description, .source)
        }
        let record: ImageRecord
        do {
            record = try builder.resolveImage(from, request.pull)
        } catch {
            throw BuildError("failed to solve: \(from): \(error)")
        }
        return (try mountTree(try store.snapshots(record), label: "image \(from)"), "image " + record.manifest.description, .source)
    }

    /// Makes the mounts of a running step, with scratch files under `dir` (removed with the step).
    func materialize(_ prepared: PreparedMounts, in dir: String) throws -> MaterializedMounts {
        var out = MaterializedMounts()
        guard !prepared.mounts.isEmpty else { return out }
        do {
            try Files.makeDirectories(dir)
            for (i, mount) in prepared.mounts.enumerated() {
                switch mount.kind {
                case .bind:
                    guard let target = mount.target, let (tree, match, owners) = prepared.bindSources[i] else { continue }
                    // A copy: writes of an `rw` bind are thrown away with it, as BuildKit's are,
                    // and files the context ignores are not there.
                    let copyDir = dir + "/bind-\(i)"
                    try Files.makeDirectories(copyDir)
                    let fd = open(copyDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                    guard fd >= 0 else { throw BuildError("cannot open \(copyDir): \(SourceTree.errorText())") }
                    defer { close(fd) }
                    let copier = Copier(destRoot: fd, owners: owners, mode: nil)
                    try copy(match, from: tree, copier: copier, root: fd, to: "/", intoDirectory: true, add: false)
                    let name = match.path.split(separator: "/").last.map(String.init) ?? ""
                    let source = match.isDirectory ? copyDir : copyDir + "/" + name
                    out.mounts.append(
                        ContainerConfig.Mount(kind: .bind, source: source, target: target, readOnly: mount.readOnly ?? true, isFile: !match.isDirectory))
                case .cache:
                    guard let target = mount.target else { continue }
                    let id = mount.id ?? target
                    let path = builder.stateRoot + "/buildmounts/" + Digest(of: Array(id.utf8)).hex
                    if access(path, F_OK) != 0 {
                        try Files.makeDirectories(builder.stateRoot + "/buildmounts")
                        let fresh = path + ".new-\(getpid())"
                        try Files.makeDirectories(fresh)
                        chmod(fresh, mount.mode ?? 0o755)
                        chown(fresh, mount.uid ?? 0, mount.gid ?? 0)
                        if rename(fresh, path) != 0 { Files.removeTree(fresh) }
                    }
                    if mount.sharing != "shared" {
                        // `locked` and `private`: one step at a time uses the cache.
                        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                        if fd >= 0 {
                            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
                            out.locks.append(fd)
                        }
                    }
                    out.mounts.append(ContainerConfig.Mount(kind: .bind, source: path, target: target, readOnly: mount.readOnly ?? false))
                case .tmpfs:
                    guard let target = mount.target else { continue }
                    var m = ContainerConfig.Mount(kind: .tmpfs, source: "tmpfs", target: target)
                    m.data = mount.size.map { "size=" + $0 }
                    out.mounts.append(m)
                case .secret:
                    let id = mount.id ?? ""
                    guard let value = request.secrets[id] else {
                        if mount.required { throw BuildError("failed to solve: secret \(id) not found") }
                        continue
                    }
                    if let variable = mount.env {
                        out.env.append("\(variable)=\(String(decoding: value, as: UTF8.self))")
                    }
                    guard let target = mount.mountPoint(index: i) else { continue }
                    let file = dir + "/secret-\(i)"
                    try Files.writeAtomically(file, value)
                    chown(file, mount.uid ?? 0, mount.gid ?? 0)
                    chmod(file, mount.mode ?? 0o400)
                    out.mounts.append(
                        ContainerConfig.Mount(kind: .bind, source: file, target: target, readOnly: true, isFile: true))
                case .ssh:
                    let id = mount.id ?? "default"
                    guard let socket = request.ssh[id] else {
                        if mount.required { throw BuildError("failed to solve: no SSH key \"\(id)\" forwarded from the client") }
                        continue
                    }
                    guard let target = mount.mountPoint(index: i) else { continue }
                    out.mounts.append(ContainerConfig.Mount(kind: .bind, source: socket, target: target, readOnly: false, isFile: true))
                    if !out.env.contains(where: { $0.hasPrefix("SSH_AUTH_SOCK=") }) { out.env.append("SSH_AUTH_SOCK=" + target) }
                }
            }
        } catch {
            out.release()
            throw error
        }
        return out
    }

    /// What the runtime made in the upper directory only to mount on leaves the layer, as
    /// BuildKit's mount points do.
    static func removeMountTargets(_ targets: [String], upper: String, lowers: [String]) {
        // Deepest first: a directory goes once what it held is gone.
        for stub in MountStubs.find(targets, upper: upper, lowers: lowers) {
            if rmdir(upper + stub) != 0 { unlink(upper + stub) }
        }
    }
}
