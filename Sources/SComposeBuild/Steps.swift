// SPDX-License-Identifier: Apache-2.0
import CLinux
import CSpawn
import Crypto
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extension BuildRun {
    // MARK: - RUN

    func runStep(_ instruction: Instruction, _ state: inout StageState, title: String) throws {
        let argv: [String]
        switch instruction.arguments {
        case .exec(let words):
            guard !words.isEmpty else { throw fail(instruction, "RUN requires at least one argument") }
            argv = words
        case .shell(let text):
            guard !text.trimmingWhitespace().isEmpty else { throw fail(instruction, "RUN requires at least one argument") }
            argv = shell(state) + [Self.script(text, instruction.heredocs)]
        }
        // ARGs reach RUN as variables (ENV wins over an ARG of the same name).
        let argEnv = state.args.keys.sorted().filter { state.envValue($0) == nil }.map { "\($0)=\(state.args[$0] ?? "")" }
        let shownArgs = argEnv.filter { !predefinedArgs.contains(String($0.prefix { $0 != "=" })) }
        let history =
            "RUN " + (shownArgs.isEmpty ? "" : "|\(shownArgs.count) " + shownArgs.joined(separator: " ") + " ")
            + argv.joined(separator: " ") + " # buildkit"
        let mounts = try prepareMounts(instruction, state)
        var keyText = "RUN " + Self.jsonList(argv) + "\n" + argEnv.joined(separator: "\n") + "\nnetwork=\(request.network ?? "")"
        if !mounts.mounts.isEmpty { keyText += "\n" + mounts.keyText }
        var env = state.env + argEnv
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert(defaultPath, at: 0) }
        let snapshot = state
        try layerStep(&state, title: title, keyText: keyText, history: history) { space, number, started in
            try runContainer(argv: argv, env: env, mounts: mounts, state: snapshot, space: space, number: number, started: started)
        }
    }

    /// The shell text of a RUN with heredocs: a RUN that is only a heredoc runs its body as
    /// the script; otherwise the shell reads the heredocs itself.
    static func script(_ text: String, _ heredocs: [Heredoc]) -> String {
        guard !heredocs.isEmpty else { return text }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        if words.count == 1, words[0].hasPrefix("<<"), let only = heredocs.first {
            return only.body
        }
        var out = text
        for doc in heredocs {
            out += "\n" + doc.body
            if !doc.body.hasSuffix("\n") && !doc.body.isEmpty { out += "\n" }
            out += doc.name
        }
        return out
    }

    func runContainer(
        argv: [String], env: [String], mounts: PreparedMounts = PreparedMounts(), state: StageState, space: StepSpace, number: Int,
        started: Int64
    ) throws {
        var lowers = space.layers
        if lowers.isEmpty {
            // overlayfs needs a lower directory; a scratch stage has none.
            let empty = space.base + "/empty"
            try Files.makeDirectories(empty)
            lowers = [empty]
        }
        let rootDir = space.base + "/root"
        try Files.makeDirectories(rootDir)
        var config = ContainerConfig(
            layers: lowers, upperDir: space.upper, workDir: space.work, rootDir: rootDir, args: argv, env: env)
        config.workingDir = state.defaults.WorkingDir ?? "/"
        do {
            (config.uid, config.gid, config.additionalGids) = try ImageUsers.resolve(
                state.defaults.User ?? "", groupAdd: [], layers: lowers)
        } catch {
            throw BuildError("failed to solve: \(error)")
        }
        if !config.env.contains(where: { $0.hasPrefix("HOME=") }) { config.env.append(config.uid == 0 ? "HOME=/root" : "HOME=/") }
        config.hostname = "buildkitsandbox"
        let hostNetwork = request.network != "none"
        if hostNetwork { config.namespaces.remove(.net) }
        var hosts = hostNetwork ? ((try? Files.read("/etc/hosts")).map { String(decoding: $0, as: UTF8.self) } ?? "") : ""
        if hosts.isEmpty { hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" }
        if !hosts.hasSuffix("\n") { hosts += "\n" }
        hosts += "127.0.1.1\tbuildkitsandbox\n"
        for entry in request.extraHosts {
            let sep = entry.firstIndex(of: "=") ?? entry.firstIndex(of: ":")
            guard let sep else { throw BuildError("invalid extra host \(entry): expected name:address") }
            hosts += "\(entry[entry.index(after: sep)...])\t\(entry[..<sep])\n"
        }
        try Files.writeAtomically(space.base + "/hosts", Array(hosts.utf8))
        let resolv = (try? Files.read("/etc/resolv.conf")) ?? Array("nameserver 8.8.8.8\n".utf8)
        try Files.writeAtomically(space.base + "/resolv.conf", hostNetwork ? resolv : [])
        config.fileBinds = [
            .init(source: space.base + "/hosts", target: "/etc/hosts"),
            .init(source: space.base + "/resolv.conf", target: "/etc/resolv.conf"),
        ]
        config.shmSize = request.shmSize ?? 64 << 20
        let made = try materialize(mounts, in: space.base + "/mounts")
        defer { made.release() }
        config.mounts += made.mounts
        config.env += made.env
        let plan: InitPlan
        do {
            plan = try InitPlan.compile(config)
        } catch {
            throw BuildError("failed to solve: \(error)")
        }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(devNull) }
        var fds: [Int32] = [-1, -1]
        guard sc_pipe_cloexec(&fds) == 0 else { throw BuildError("pipe: \(SourceTree.errorText())") }
        let pid: pid_t
        do {
            pid = try Launcher.spawn(plan, stdio: .init(stdin: devNull, stdout: fds[1], stderr: fds[1]))
        } catch {
            close(fds[0])
            close(fds[1])
            throw BuildError("failed to solve: process \"\(argv.joined(separator: " "))\" could not start: \(error)")
        }
        close(fds[1])
        // Every process of the step dies with its pid namespace's init, so the pipe ends
        // when the step does.
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func emit(_ line: ArraySlice<UInt8>) {
            var text = String(decoding: line, as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            say("#\(number) \(seconds(since: started)) \(text)")
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: 10) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard code == 0 else {
            say("#\(number) ERROR: process \"\(argv.joined(separator: " "))\" did not complete successfully: exit code: \(code)")
            throw BuildError(
                "failed to solve: process \"\(argv.joined(separator: " "))\" did not complete successfully: exit code: \(code)",
                exitCode: code)
        }
        Self.removeMountTargets(mounts.targets, upper: space.upper, lowers: space.layers)
        Self.removeMountPoints(upper: space.upper, lowers: space.layers)
    }

    /// What the container's set-up made in the upper directory only to mount on (/proc,
    /// /etc/hosts… in an image without them) is not the step's work: it leaves the layer.
    static func removeMountPoints(upper: String, lowers: [String]) {
        for path in ["/etc/hosts", "/etc/resolv.conf", "/proc", "/sys", "/dev", "/etc"] {
            var st = stat()
            guard lstat(upper + path, &st) == 0 else { continue }
            if lowers.contains(where: { access($0 + path, F_OK) == 0 }) { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if Files.list(upper + path).isEmpty { rmdir(upper + path) }
            } else if (st.st_mode & S_IFMT) == S_IFREG && st.st_size == 0 {
                unlink(upper + path)
            }
        }
    }

    func seconds(since start: Int64) -> String {
        let millis = (Clock.nowNanoseconds() - start) / 1_000_000
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    // MARK: - COPY and ADD

    func copyStep(_ instruction: Instruction, _ state: inout StageState, title: String) throws {
        let keyword = instruction.keyword
        let expand = expander(lookup(state))
        var words: [String]
        switch instruction.arguments {
        case .exec(let list): words = try list.map { try expand.expand($0) }
        case .shell(let text): words = try expand.expandWords(text)
        }
        guard words.count >= 2, let rawDest = words.popLast() else {
            throw fail(instruction, "\(keyword) requires at least two arguments")
        }
        let sources = words
        let workdir = state.defaults.WorkingDir ?? "/"
        let destination = Self.join(workdir, rawDest)
        let destIsDirectory = rawDest.hasSuffix("/") || rawDest == "." || sources.count > 1
        let isAdd = keyword == "ADD"
        let currentLayers = try snapshots(state)

        // Owners and modes.
        var owners: TreeCopy.Owners = .fixed(uid: 0, gid: 0)
        if let chown = instruction.flags["chown"] {
            let spec = try expand.expand(chown)
            let lowers = currentLayers
            do {
                let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
                let (uid, gid, _) = try ImageUsers.resolve(spec, groupAdd: [], layers: lowers)
                // A user without a group takes the same number as its group, as Docker does.
                owners = .fixed(uid: uid, gid: parts.count == 2 ? gid : uid)
            } catch {
                throw fail(instruction, "unable to convert uid/gid chown string to host mapping: \(error)")
            }
        }
        var mode: mode_t?
        if let chmod = instruction.flags["chmod"] {
            guard let m = mode_t(chmod, radix: 8), m <= 0o7777 else { throw fail(instruction, "invalid chmod parameter: \(chmod)") }
            mode = m
        }

        // The tree the sources come from.
        var tree: SourceTree
        var treeKey: String
        if let fromFlag = instruction.flags["from"] {
            let from = try expander { self.globalArgs[$0] }.expand(fromFlag)
            // Files from another stage or image keep their owners unless --chown says otherwise.
            if instruction.flags["chown"] == nil { owners = .source }
            if let index = stageIndex(from, before: currentStage), let other = results[index] {
                tree = try mountTree(try snapshots(other), label: "stage \(from)")
                treeKey = "stage " + other.key.description
            } else {
                let record: ImageRecord
                do {
                    record = try builder.resolveImage(from, request.pull)
                } catch {
                    throw BuildError("failed to solve: \(from): \(error)")
                }
                tree = try mountTree(try store.snapshots(record), label: "image \(from)")
                treeKey = "image " + record.manifest.description
            }
        } else {
            guard let context else { throw BuildError("cannot open the build context \(request.context)") }
            tree = context
            treeKey = "context"
        }

        // What each source names, and the checksum of it all for the cache.
        enum Source {
            case tree(SourceTree.Match)
            case url(String)
            case heredoc(Heredoc)
        }
        var resolved: [Source] = []
        var hasher = SHA256()
        hasher.update(data: Array(treeKey.utf8))
        for source in sources {
            if source.hasPrefix("<<"), let doc = instruction.heredocs.first(where: { source.hasSuffix($0.name) }) {
                resolved.append(.heredoc(doc))
                hasher.update(data: Array("heredoc \(doc.name)\n\(doc.body)".utf8))
            } else if isAdd && (source.hasPrefix("http://") || source.hasPrefix("https://")) {
                resolved.append(.url(source))
                hasher.update(data: Array("url \(source)".utf8))
            } else {
                for match in try tree.resolve(source) {
                    resolved.append(.tree(match))
                    if treeKey == "context" {
                        try tree.checksum(match, into: &hasher)
                    } else {
                        hasher.update(data: Array("\u{0}\(match.path)".utf8))
                    }
                }
            }
        }
        if resolved.count > 1 && !destIsDirectory {
            throw fail(instruction, "When using \(keyword) with more than one source file, the destination must be a directory and end with a /")
        }
        // URLs are fetched before the cache is asked: their content is part of the key. Only
        // downloads and heredocs need scratch files.
        var downloads: [String: String] = [:]
        let needsFiles = resolved.contains { if case .tree = $0 { return false } else { return true } }
        let downloadDir = needsFiles ? try scratch() : ""
        defer { if needsFiles { Files.removeTree(downloadDir) } }
        for case .url(let url) in resolved {
            let file = downloadDir + "/" + Digest(of: Array(url.utf8)).hex
            hasher.update(data: Array(try download(url, to: file).description.utf8))
            downloads[url] = file
        }
        let flags = instruction.flags.keys.sorted().map { "--\($0)=\(instruction.flags[$0] ?? "")" }.joined(separator: " ")
        let keyText =
            "\(keyword) \(flags) \(sources.joined(separator: " ")) -> \(destination)\(destIsDirectory ? "/" : "")\n"
            + Digest(finalizing: hasher).description
        let history = instruction.original + " # buildkit"
        let copyOwners = owners
        try layerStep(&state, title: title, keyText: keyText, history: history) { space, _, _ in
            try withRoot(space) { root in
                let copier = Copier(destRoot: root, owners: copyOwners, mode: mode)
                for source in resolved {
                    switch source {
                    case .tree(let match):
                        try copy(match, from: tree, copier: copier, root: root, to: destination, intoDirectory: destIsDirectory, add: isAdd)
                    case .url(let url):
                        guard let file = downloads[url] else { continue }
                        let name = url.split(separator: "/").last.map(String.init) ?? "download"
                        try place(file: file, copier: copier, root: root, to: destination, defaultName: name, intoDirectory: destIsDirectory, mode: 0o600)
                    case .heredoc(let doc):
                        let file = downloadDir + "/heredoc-" + doc.name
                        try Files.writeAtomically(file, Array(doc.body.utf8))
                        try place(file: file, copier: copier, root: root, to: destination, defaultName: doc.name, intoDirectory: destIsDirectory, mode: 0o644)
                    }
                }
            }
        }
    }

    /// Another stage's or image's file system, read-only, on a detached mount.
    func mountTree(_ layers: [String], label: String) throws -> SourceTree {
        do {
            let fd = try Overlay(layers: layers).openDetached(under: builder.scratchRoot, flags: O_RDONLY)
            return SourceTree(rootFD: fd, ignore: nil, label: label)
        } catch {
            throw BuildError(error.message(assemble: "cannot assemble \(label)", open: "cannot open \(label)"))
        }
    }

    /// One matched source into the destination, as Docker places it: a directory's contents
    /// into the destination directory, a file into it or as it.
    func copy(
        _ match: SourceTree.Match, from tree: SourceTree, copier: Copier, root: Int32, to destination: String,
        intoDirectory: Bool, add: Bool
    ) throws {
        if match.isDirectory {
            let fd = tree.openDirectory(match.path)
            guard fd >= 0 else { throw BuildError("cannot read \(match.path): \(SourceTree.errorText())") }
            defer { close(fd) }
            try copier.copyContents(of: fd, relative: match.path, tree: tree, to: destination)
            return
        }
        let (dir, base) = SourceTree.split(match.path)
        if add && tree.ignore != nil, let path = archivePath(match) {
            // ADD of a local archive: its contents are extracted at the destination.
            let into = try copier.makeDirectories(destination)
            defer { close(into) }
            do {
                try LayerUnpacker().extract(archive: path, into: into, dir: destination)
            } catch {
                throw BuildError("failed to extract \(match.path): \(error)")
            }
            return
        }
        let (into, intoPath, name) = try target(
            copier: copier, root: root, destination: destination, defaultName: base, intoDirectory: intoDirectory)
        defer { close(into) }
        let parent = tree.openDirectory(dir)
        guard parent >= 0 else { throw BuildError("cannot read \(dir): \(SourceTree.errorText())") }
        defer { close(parent) }
        try copier.copy(base, in: parent, relative: match.path, tree: tree, to: into, at: intoPath, as: name)
    }

    /// The directory (open, and its path in the root) and name a file goes to.
    func target(
        copier: Copier, root: Int32, destination: String, defaultName: String, intoDirectory: Bool
    ) throws -> (Int32, String, String) {
        if intoDirectory {
            return (try copier.makeDirectories(destination), destination, defaultName)
        }
        let existing = sc_open_in_root(root, destination, O_RDONLY | O_DIRECTORY, 0)
        if existing >= 0 { return (existing, destination, defaultName) }
        let (dir, base) = SourceTree.split(destination)
        let parent = dir.isEmpty ? "/" : dir
        return (try copier.makeDirectories(parent), parent, base)
    }

    /// A file made by the build (a download, a heredoc) into the destination.
    func place(
        file: String, copier: Copier, root: Int32, to destination: String, defaultName: String, intoDirectory: Bool, mode: mode_t
    ) throws {
        let (into, _, name) = try target(
            copier: copier, root: root, destination: destination, defaultName: defaultName, intoDirectory: intoDirectory)
        defer { close(into) }
        let input = open(file, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BuildError("cannot read \(file)") }
        defer { close(input) }
        var st = stat()
        fstat(input, &st)
        try copier.writeFile(from: input, to: into, name: name, mode: mode, times: [st.st_mtim, st.st_mtim])
    }

    /// The context path of a match that is a tar archive (plain or compressed), else nil.
    func archivePath(_ match: SourceTree.Match) -> String? {
        let path = request.context + "/" + match.path
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 262)
        let n = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let h = Array(header[0..<n])
        let magics: [[UInt8]] = [[0x1f, 0x8b], [0x42, 0x5a, 0x68], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], [0x28, 0xb5, 0x2f, 0xfd]]
        if magics.contains(where: { h.starts(with: $0) }) { return path }
        if n >= 262, Array(h[257..<262]) == Array("ustar".utf8) { return path }
        return nil
    }

    /// Fetches `url` into `file`; returns the digest of what came, taken as it came.
    func download(_ url: String, to file: String) throws -> Digest {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BuildError("cannot create \(file): \(SourceTree.errorText())") }
        defer { close(fd) }
        // The transfer's callbacks run on this thread, one after the other.
        final class Sum: @unchecked Sendable { var hasher = SHA256() }
        let sum = Sum()
        let response: HTTPResponse
        do {
            response = try CurlTransport().send(HTTPRequest(url: url)) { (chunk: UnsafeRawBufferPointer) throws(OCIError) in
                sum.hasher.update(bufferPointer: chunk)
                do throws(FileError) {
                    try Files.writeAll(fd, Array(chunk), what: file)
                } catch {
                    throw .invalid(error.description)
                }
            }
        } catch {
            throw BuildError("failed to load \(url): \(error)")
        }
        guard (200..<300).contains(response.status) else {
            throw BuildError("failed to load \(url): invalid response status \(response.status)")
        }
        return Digest(finalizing: sum.hasher)
    }
}
