// SPDX-License-Identifier: Apache-2.0
import SComposeBuild
import SComposeLoader
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// `watch`: files under the `develop.watch` paths are watched with inotify; changes are
/// batched for a short quiet period, then each rule acts: `sync` copies the changed files
/// into the service's running containers (and removes deleted ones), `sync+restart` and
/// `restart` restart them, `sync+exec` runs a command in them, `rebuild` builds the image
/// and recreates the service.
/// What `watch` tells as it goes.
public enum WatchEvent: Sendable {
    /// One of Compose's lines (`Watch enabled`, `Syncing service "web" after 2 changes were detected`).
    case line(String)
    /// The images of `services` were rebuilt.
    case built(services: [String])
    /// Acting on a batch of changes failed; watching goes on.
    case failed(EngineError)
}

public struct Watcher: Sendable {
    public let engine: Engine
    public let loaded: LoadedProject
    /// Told what happens: Compose's lines, and the errors watching carries on past.
    public var report: @Sendable (WatchEvent) -> Void
    /// How long a burst of changes must be quiet before acting (milliseconds).
    public var quietPeriod: Int32 = 300

    struct Rule {
        var service: String
        var rule: WatchRule
        var ignore: DockerIgnore
        var include: DockerIgnore?
        /// The build context's `.dockerignore`, and the rule's path within the context.
        var context: (ignore: DockerIgnore, prefix: String)?
    }

    let rules: [Rule]

    /// Checks the services' rules; an error names what cannot be watched.
    public init(engine: Engine, loaded: LoadedProject, services: [String], report: @escaping @Sendable (WatchEvent) -> Void) throws {
        self.engine = engine
        self.loaded = loaded
        self.report = report
        var rules: [Rule] = []
        let names = services.isEmpty ? loaded.project.serviceNames : services
        for name in names {
            guard let service = loaded.project.services[name] else { throw EngineError(.noSuchService(name)) }
            for rule in service.watch {
                if service.volumes.contains(where: { $0.type == .bind && $0.source.map { rule.path.hasPrefix($0) } == true }) {
                    // The container sees those files already.
                    report(.line("WARN path '\(rule.path)' also declared by a bind mount volume, this path won't be monitored!"))
                    continue
                }
                guard ["sync", "rebuild", "restart", "sync+restart", "sync+exec"].contains(rule.action) else {
                    throw EngineError(.unsupported("service \"\(name)\": watch action \"\(rule.action)\" is not supported"))
                }
                if rule.action == "rebuild", service.build == nil {
                    throw EngineError(.invalidProject("service \(name) doesn't have a build section, can't apply 'rebuild' on watch"))
                }
                if rule.action.hasPrefix("sync"), rule.target == nil {
                    throw EngineError(.invalidProject("service \"\(name)\": watch rule for \(rule.path) needs a target to sync to"))
                }
                // The rule's own ignores and what editors and Git write beside the files; then
                // the build context's .dockerignore, matched from the context as a build reads it.
                let ignored = rule.ignore + [".git/", "*.swp", "*.swx", "*~", ".#*", "4913"]
                var context: (ignore: DockerIgnore, prefix: String)?
                if let dir = service.build?.context, rule.path == dir || rule.path.hasPrefix(dir + "/"),
                    let text = try? Files.read(dir + "/.dockerignore")
                {
                    context = (DockerIgnore(String(decoding: text, as: UTF8.self)), String(rule.path.dropFirst(dir.count + 1)))
                }
                rules.append(
                    Rule(
                        service: name, rule: rule, ignore: DockerIgnore(ignored.joined(separator: "\n")),
                        include: rule.include.isEmpty ? nil : DockerIgnore(rule.include.joined(separator: "\n")), context: context))
            }
        }
        guard !rules.isEmpty else {
            throw EngineError(.invalidProject("none of the selected services is configured for watch, consider setting a 'develop' section"))
        }
        self.rules = rules
    }

    /// The rule a changed path falls under, and the path relative to the rule's.
    func rule(for path: String, isDirectory: Bool) -> (Rule, String)? {
        for r in rules {
            let base = r.rule.path
            guard path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/") else { continue }
            let relative = path == base ? "" : String(path.dropFirst(base.count).drop { $0 == "/" })
            if !relative.isEmpty {
                if r.ignore.excludes(relative, isDirectory: isDirectory) { continue }
                if let (ignore, prefix) = r.context,
                    ignore.excludes(prefix.isEmpty ? relative : prefix + "/" + relative, isDirectory: isDirectory)
                {
                    continue
                }
                if let include = r.include, !isDirectory, !include.excludes(relative) { continue }
            }
            return (r, relative)
        }
        return nil
    }

    /// Watches until an error (the caller stops it with a signal). `initial_sync` rules copy
    /// their whole path first.
    public func run() throws {
        let inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else { throw EngineError(.during("inotify"), errno: errno) }
        defer { close(inotify) }
        var directories: [Int32: String] = [:]
        var limitReported = false
        func add(_ dir: String) {
            let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF)
            let wd = inotify_add_watch(inotify, dir, mask | UInt32(IN_ONLYDIR))
            guard wd >= 0 else {
                // Silently missing changes is what users of watch complain about most: say so once.
                if errno == ENOSPC && !limitReported {
                    limitReported = true
                    let limit = (try? Files.read("/proc/sys/fs/inotify/max_user_watches"))
                        .flatMap { String(decoding: $0, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init) } ?? "?"
                    report(.line(
                        "WARN the inotify watch limit (fs.inotify.max_user_watches = \(limit)) is reached: changes under \(dir) and "
                            + "what follows are not seen; raise it, e.g. `sysctl fs.inotify.max_user_watches=524288`"))
                }
                return
            }
            directories[wd] = dir
            for name in Files.list(dir) {
                var st = stat()
                let path = dir + "/" + name
                if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, rule(for: path, isDirectory: true) != nil { add(path) }
            }
        }
        for r in rules {
            var st = stat()
            let watched = stat(r.rule.path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR ? Engine.split(r.rule.path).dir : r.rule.path
            add(watched)
        }
        for r in rules where r.rule.initialSync && r.rule.action.hasPrefix("sync") {
            try act([r.service: [(r, "")]])
        }
        report(.line("Watch enabled"))
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pending: [String: Bool] = [:]
        while true {
            var pfd = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, pending.isEmpty ? -1 : quietPeriod)
            if ready < 0 {
                if errno == EINTR { continue }
                throw EngineError(.during("watch"), errno: errno)
            }
            if ready == 0 {
                // Quiet: act on the batch, service by service.
                var batches: [String: [(Rule, String)]] = [:]
                for (path, isDirectory) in pending.sorted(by: { $0.key < $1.key }) {
                    guard let (r, relative) = rule(for: path, isDirectory: isDirectory) else { continue }
                    batches[r.service, default: []].append((r, relative))
                }
                pending = [:]
                if !batches.isEmpty {
                    do {
                        try act(batches)
                    } catch {
                        report(.failed(EngineError(passing: error)))
                    }
                }
                continue
            }
            let n = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if n <= 0 { continue }
            var offset = 0
            while offset + 16 <= n {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let nameBytes = buffer[(offset + 16)..<min(n, offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                guard let dir = directories[wd] else { continue }
                if mask & UInt32(IN_DELETE_SELF) != 0 {
                    directories[wd] = nil
                    continue
                }
                let path = nameBytes.isEmpty ? dir : dir + "/" + String(decoding: nameBytes, as: UTF8.self)
                let isDirectory = mask & UInt32(IN_ISDIR) != 0
                if isDirectory, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0, rule(for: path, isDirectory: true) != nil { add(path) }
                if rule(for: path, isDirectory: isDirectory) != nil { pending[path] = isDirectory }
            }
        }
    }

    /// One batch of changes, by service.
    func act(_ batches: [String: [(Rule, String)]]) throws {
        var rebuild: [String] = []
        for (service, changes) in batches.sorted(by: { $0.key < $1.key }) {
            let actions = Set(changes.map(\.0.rule.action))
            if actions.contains("rebuild") {
                rebuild.append(service)
                continue
            }
            let containers = engine.containers(project: loaded.project.name).filter { $0.record.service == service && $0.running }
            let synced = changes.filter { $0.0.rule.action.hasPrefix("sync") }
            if !synced.isEmpty {
                report(.line("Syncing service \"\(service)\" after \(synced.count) changes were detected"))
                for c in containers {
                    for (r, relative) in synced {
                        guard let target = r.rule.target else { continue }
                        let host = relative.isEmpty ? r.rule.path : r.rule.path + "/" + relative
                        try engine.sync(c, hostPath: host, containerPath: relative.isEmpty ? target : target + "/" + relative)
                    }
                }
            }
            if actions.contains("sync+restart") || actions.contains("restart") {
                report(.line("Restarting service \"\(service)\" after changes were detected"))
                try engine.restart(containers, timeout: nil)
            }
            for (r, _) in changes where r.rule.action == "sync+exec" {
                guard let hook = r.rule.exec else { continue }
                for c in containers {
                    _ = try engine.exec(
                        in: c, command: hook.command, user: hook.user, workingDir: hook.workingDir,
                        env: hook.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value ?? "")" }, privileged: hook.privileged)
                }
                break
            }
        }
        if !rebuild.isEmpty {
            report(.line("Rebuilding service(s) [\(rebuild.map { "\"\($0)\"" }.joined(separator: " "))] after changes were detected..."))
            var options = ReconcileOptions()
            options.targets = rebuild
            options.noDeps = true
            options.build = .always
            try engine.up(loaded, options: options)
            report(.line("service(s) [\(rebuild.map { "\"\($0)\"" }.joined(separator: " "))] successfully built"))
            report(.built(services: rebuild))
        }
    }
}

extension Engine {
    /// One changed host path into a container: a file or link copied over (its directories
    /// made), a directory's whole content, or, when the host path is gone, the container's
    /// copy removed. Paths are resolved inside the container's root.
    func sync(_ c: ContainerStatus, hostPath: String, containerPath: String) throws {
        var st = stat()
        let exists = lstat(hostPath, &st) == 0
        try withContainerRoot(c) { rootFD in
            let (dir, base) = Self.split(containerPath)
            // `mkdir -p` of the directory, one component at a time inside the root.
            var built = ""
            for part in dir.split(separator: "/") {
                let parent = Files.openInRoot(rootFD, built.isEmpty ? "/" : built, O_RDONLY | O_DIRECTORY)
                guard parent >= 0 else { throw EngineError(.failed(operation: "sync into \(dir) of \(c.record.name)"), errno: errno) }
                if mkdirat(parent, String(part), 0o755) != 0 && errno != EEXIST {
                    let err = errno
                    close(parent)
                    throw EngineError(.failed(operation: "create \(built)/\(part) in \(c.record.name)"), errno: err)
                }
                close(parent)
                built += "/" + part
            }
            let into = Files.openInRoot(rootFD, dir, O_RDONLY | O_DIRECTORY)
            guard into >= 0 else { throw EngineError(.failed(operation: "sync into \(dir) of \(c.record.name)"), errno: errno) }
            defer { close(into) }
            guard exists else {
                // Gone on the host: gone in the container.
                let victim = openat(into, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if victim >= 0 {
                    Files.removeContents(victim)
                    close(victim)
                    unlinkat(into, base, AT_REMOVEDIR)
                } else {
                    unlinkat(into, base, 0)
                }
                return
            }
            let (hostDir, hostBase) = Self.split(hostPath)
            let from = open(hostDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard from >= 0 else { throw EngineError(.failed(operation: "read \(hostPath)"), errno: errno) }
            defer { close(from) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if mkdirat(into, base, st.st_mode & 0o7777) != 0 && errno != EEXIST {
                    throw EngineError(.failed(operation: "create \(containerPath) in \(c.record.name)"), errno: errno)
                }
                let src = open(hostPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                let dst = openat(into, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                defer {
                    if src >= 0 { close(src) }
                    if dst >= 0 { close(dst) }
                }
                guard src >= 0, dst >= 0 else { throw EngineError(.failed(operation: "sync \(hostPath) to \(containerPath)"), errno: errno) }
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(false).copyContents(of: src, into: dst)
                }
            } else {
                // Replaced whole: a directory there before is removed first.
                let old = openat(into, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if old >= 0 {
                    Files.removeContents(old)
                    close(old)
                    unlinkat(into, base, AT_REMOVEDIR)
                }
                try Self.copying { () throws(TreeCopyError) in
                    try Self.cpCopy(false).copy(hostBase, in: from, into: into, as: base)
                }
            }
        }
    }
}
