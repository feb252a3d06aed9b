// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials
import SComposeLoader
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// What Compose knows about a container, kept as `container.json` in its directory.
public struct ContainerRecord: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var project: String
    public var service: String
    public var number: Int
    public var image: String
    public var imageID: String
    public var command: [String]
    public var created: String
    public var configHash: String
    public var labels: [String: String]
}

/// A container as `ps` shows it.
public struct ContainerStatus: Sendable {
    public var record: ContainerRecord
    public var running: Bool
    public var pid: Int32?
    /// The supervising shim, while it runs.
    public var shimPid: Int32?
    public var startedAt: String?
    public var exit: ExitRecord?
}

/// Errors of the engine, with Compose's wording.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The exit status the CLI returns for it.
    public var exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// The first cut of the engine: project containers created, started, listed, stopped and
/// removed from local state files, each supervised by its own `scompose-shim`. Containers get
/// their own network namespace with loopback only until networks arrive.
public struct Engine {
    public let root: String
    public let shimPath: String
    public var progress: (String) -> Void

    public init(root: String, shimPath: String, progress: @escaping (String) -> Void) {
        self.root = root
        self.shimPath = shimPath
        self.progress = progress
    }

    var containersDir: String { root + "/containers" }

    // MARK: - Observed state

    /// The containers of a project (all projects with nil).
    public func containers(project: String?) -> [ContainerStatus] {
        var out: [ContainerStatus] = []
        let ids = Files.list(containersDir).filter { $0.count == 64 }
        for id in ids {
            let files = ContainerFiles(dir: containersDir + "/" + id)
            guard let record = StateFile.read(ContainerRecord.self, from: files.dir + "/container.json") else { continue }
            if let project, record.project != project { continue }
            let state = StateFile.read(RunningState.self, from: files.state)
            let exit = StateFile.read(ExitRecord.self, from: files.exit)
            let running = exit == nil && state.map { ProcessCheck.isAlive($0.pid, startTicks: $0.startTicks) } == true
            let shimAlive = state.map { kill($0.shimPid, 0) == 0 } ?? false
            out.append(
                ContainerStatus(
                    record: record, running: running, pid: state?.pid, shimPid: shimAlive ? state?.shimPid : nil,
                    startedAt: state?.startedAt, exit: exit))
        }
        return out.sorted { ($0.record.service, $0.record.number) < ($1.record.service, $1.record.number) }
    }

    // MARK: - up

    /// Creates and starts every service's containers (dependencies first); a running container
    /// whose configuration did not change is left alone, one that changed is recreated.
    public func up(_ loaded: LoadedProject, services selected: [String]) throws {
        let project = loaded.project
        let store = try ImageStore(root: root)
        try mkdirs(containersDir)
        let existing = containers(project: project.name)
        for name in try order(project, selected: selected) {
            guard let service = project.services[name] else { continue }
            let hash = configHash(loaded.rendered, service: name)
            for number in 1...max(1, service.replicas) {
                let containerName = service.containerName ?? "\(project.name)-\(name)-\(number)"
                if let current = existing.first(where: { $0.record.name == containerName }) {
                    if current.record.configHash == hash && current.running {
                        progress("Container \(containerName)  Running")
                        continue
                    }
                    progress("Container \(containerName)  Recreate")
                    try stop(current, timeout: service.stopGracePeriod.map { Int($0 / 1_000_000_000) } ?? 10)
                    try remove(current)
                    progress("Container \(containerName)  Recreated")
                } else {
                    progress("Container \(containerName)  Creating")
                }
                let files = try create(
                    project: project, service: service, number: number, name: containerName, hash: hash, store: store)
                progress("Container \(containerName)  Created")
                progress("Container \(containerName)  Starting")
                try start(files)
                progress("Container \(containerName)  Started")
            }
        }
    }

    /// Services in dependency order (dependencies first), limited to `selected` and what they need.
    func order(_ project: ComposeProject, selected: [String]) throws -> [String] {
        var result: [String] = []
        var state: [String: Int] = [:]
        func visit(_ name: String) throws {
            if state[name] == 2 { return }
            if state[name] == 1 { throw EngineError("dependency cycle through service \"\(name)\"") }
            state[name] = 1
            for dep in project.services[name]?.dependsOn.keys.sorted() ?? [] where project.services[dep] != nil {
                try visit(dep)
            }
            state[name] = 2
            result.append(name)
        }
        for name in selected.isEmpty ? project.serviceNames : selected {
            guard project.services[name] != nil else { throw EngineError("no such service: \(name)") }
            try visit(name)
        }
        return result
    }

    /// SHA-256 of the service's printed configuration without the keys that do not change the container.
    func configHash(_ rendered: JSONValue, service: String) -> String {
        guard case .object(let pairs)? = rendered["services"]?[service] else { return "" }
        let ignored: Set<String> = ["build", "pull_policy", "scale", "depends_on", "profiles"]
        let kept = JSONValue.object(pairs.filter { !ignored.contains($0.0) }.sorted { $0.0 < $1.0 })
        return Digest(of: Array(kept.compactText().utf8)).hex
    }

    func create(
        project: ComposeProject, service: ServiceConfig, number: Int, name: String, hash: String, store: ImageStore
    ) throws -> ContainerFiles {
        guard let imageName = service.image else {
            throw EngineError("service \"\(service.name)\" has no image (building images is not supported yet)")
        }
        guard let image = try store.find(imageName) else {
            throw EngineError(
                "Error response from daemon: No such image: \(imageName) (load it with `scompose image load` or `image import`)")
        }
        // Say what this first cut does not do yet, rather than let it pass unnoticed.
        var missing: [String] = []
        if !service.ports.isEmpty { missing.append("ports are not published") }
        if !service.volumes.isEmpty || !service.tmpfs.isEmpty { missing.append("volumes, bind mounts and tmpfs are not mounted") }
        if !service.secrets.isEmpty || !service.configs.isEmpty { missing.append("secrets and configs are not mounted") }
        if service.networks.keys.contains(where: { $0 != "default" }) || !service.extraHosts.isEmpty {
            missing.append("networks are loopback-only")
        }
        if service.healthcheck != nil { missing.append("healthchecks do not run") }
        if let restart = service.restart, restart != "no" { missing.append("restart: \(restart) is not applied") }
        if !missing.isEmpty {
            progress("WARN service \(service.name): not supported yet: " + missing.joined(separator: "; "))
        }
        let imageConfig = try store.config(image)
        let layers = try store.snapshots(image)
        let id = Digest(of: (0..<32).map { _ in UInt8.random(in: 0...255) }).hex
        let files = ContainerFiles(dir: containersDir + "/" + id)
        for d in [files.dir, files.upper, files.work, files.root] { try mkdirs(d) }
        let defaults = imageConfig.config ?? ImageConfig.ContainerDefaults()
        let entrypoint = service.entrypoint ?? defaults.Entrypoint ?? []
        let cmd = service.command ?? (service.entrypoint != nil ? [] : defaults.Cmd ?? [])
        let args = entrypoint + cmd
        guard !args.isEmpty else { throw EngineError("no command specified for service \"\(service.name)\"") }
        let hostname = service.hostname ?? String(id.prefix(12))
        var env = defaults.Env ?? []
        for (key, value) in service.environment.sorted(by: { $0.key < $1.key }) {
            env.removeAll { $0.hasPrefix(key + "=") }
            if let value { env.append("\(key)=\(value)") }
        }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        env.insert("HOSTNAME=\(hostname)", at: 0)
        var config = ContainerConfig(
            layers: layers, upperDir: files.upper, workDir: files.work, rootDir: files.root, args: args, env: env)
        config.workingDir = service.workingDir ?? defaults.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        (config.uid, config.gid, config.additionalGids) = try Users.resolve(
            service.user ?? defaults.User ?? "", groupAdd: service.groupAdd, layers: layers)
        config.hostname = hostname
        config.privileged = service.privileged
        config.readOnlyRootfs = service.readOnly
        config.noNewPrivileges = service.securityOpt.contains { $0.hasPrefix("no-new-privileges") && !$0.hasSuffix("false") }
        if service.networkMode == "host" { config.namespaces.remove(.net) }
        try writeText(files.hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t\(hostname)\n")
        try writeText(files.hostname, hostname + "\n")
        try writeText(files.resolvConf, Self.resolvConf())
        config.fileBinds = [
            .init(source: files.hosts, target: "/etc/hosts"), .init(source: files.hostname, target: "/etc/hostname"),
            .init(source: files.resolvConf, target: "/etc/resolv.conf"),
        ]
        let resources = Resources(
            memory: service.memLimit ?? service.deploy?.memoryLimit, memorySwap: service.memswapLimit,
            cpus: service.cpus ?? service.deploy?.cpuLimit, cpuShares: service.cpuShares,
            pids: service.pidsLimit ?? service.deploy?.pidsLimit)
        let spec = ShimSpec(id: id, container: config, cgroup: "scompose/\(id)", resources: resources)
        try StateFile.write(spec, to: files.spec)
        var labels = service.labels
        labels["com.docker.compose.project"] = project.name
        labels["com.docker.compose.service"] = service.name
        labels["com.docker.compose.container-number"] = String(number)
        labels["com.docker.compose.oneoff"] = "False"
        labels["com.docker.compose.config-hash"] = hash
        labels["com.docker.compose.project.working_dir"] = project.workingDirectory
        labels["com.docker.compose.project.config_files"] = project.composeFiles.joined(separator: ",")
        labels["com.docker.compose.image"] = image.id.description
        labels["com.docker.compose.depends_on"] = service.dependsOn.keys.sorted().map {
            "\($0):\(service.dependsOn[$0]?.condition.rawValue ?? "service_started"):\(service.dependsOn[$0]?.restart ?? false)"
        }.joined(separator: ",")
        let record = ContainerRecord(
            id: id, name: name, project: project.name, service: service.name, number: number, image: imageName,
            imageID: image.id.description, command: args, created: Clock.rfc3339Now(), configHash: hash, labels: labels)
        try StateFile.write(record, to: files.dir + "/container.json")
        return files
    }

    /// Starts an existing, stopped container again (its writable layer is kept).
    public func start(_ c: ContainerStatus) throws {
        guard !c.running else { return }
        try start(ContainerFiles(dir: containersDir + "/" + c.record.id))
    }

    /// Sends a signal to a running container's init.
    public func signal(_ c: ContainerStatus, _ signal: Int32) throws {
        guard c.running, let pid = c.pid else { return }
        if kill(pid, signal) != 0 { throw EngineError("cannot signal \(c.record.name): \(String(cString: strerror(errno)))") }
    }

    /// Starts the container's shim and waits until the container runs (or failed to).
    func start(_ files: ContainerFiles) throws {
        unlink(files.exit)
        unlink(files.state)
        var sync: [Int32] = [-1, -1]
        guard pipe(&sync) == 0 else { throw EngineError("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, sync[0])
        posix_spawn_file_actions_adddup2(&actions, sync[1], 3)
        let argv = [shimPath, files.dir, "3"]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, shimPath, &actions, nil, &cArgs, environ)
        close(sync[1])
        defer { close(sync[0]) }
        guard r == 0 else { throw EngineError("cannot run \(shimPath): \(String(cString: strerror(r)))") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // One line: {"pid":N} or {"error":…}.
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = read(sync[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard text.hasPrefix("{\"pid\":") else {
            let message = (try? JSONDecoder().decode([String: String].self, from: Data(reply)))?["error"]
                ?? (text.isEmpty ? "the shim exited without starting the container" : text)
            throw EngineError("Error response from daemon: failed to create task for container: \(message)")
        }
    }

    // MARK: - exec

    /// Runs a command in a service's running container and returns its exit status.
    public func exec(
        project: String, service: String, index: Int, command: [String], user: String?, workingDir: String?,
        env: [String]
    ) throws -> Int32 {
        let candidates = containers(project: project).filter { $0.record.service == service }
        guard let c = candidates.first(where: { $0.record.number == index }) ?? (index == 1 ? candidates.first : nil),
            c.running, let pid = c.pid
        else {
            throw EngineError("service \"\(service)\" is not running")
        }
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            throw EngineError("container \(c.record.name) has no spec")
        }
        var config = spec.container
        config.args = command
        for e in env {
            let key = e.split(separator: "=", maxSplits: 1).first.map(String.init) ?? e
            config.env.removeAll { $0.hasPrefix(key + "=") }
            if e.contains("=") { config.env.append(e) }
        }
        if let workingDir { config.workingDir = workingDir }
        if let user {
            (config.uid, config.gid, config.additionalGids) = try Users.resolve(
                user, groupAdd: [], layers: ["/proc/\(pid)/root"])
        }
        do {
            return try Launcher.exec(into: pid, InitPlan.compileExec(config, containerRoot: "/proc/\(pid)/root"))
        } catch {
            // As docker: 127 when the command is not found, 126 when it cannot run.
            throw EngineError("OCI runtime exec failed: \(error)", exitCode: error.errno == ENOENT ? 127 : 126)
        }
    }

    // MARK: - stop, down

    /// Stops a running container: SIGTERM, then SIGKILL after `timeout` seconds; waits for its shim to record the exit.
    public func stop(_ c: ContainerStatus, timeout: Int) throws {
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        // A shim still supervising means the container is still there, whatever else we saw.
        guard c.exit == nil, c.running || c.shimPid != nil, let pid = c.pid else { return }
        kill(pid, SIGTERM)
        let deadline = time(nil) + time_t(timeout)
        while access(files.exit, F_OK) != 0 {
            if time(nil) >= deadline {
                kill(pid, SIGKILL)
                break
            }
            usleep(20_000)
        }
        // The shim writes exit.json after the container is gone and its cgroup removed.
        let hard = time(nil) + 10
        while access(files.exit, F_OK) != 0 && time(nil) < hard { usleep(10_000) }
    }

    /// Removes a stopped container's directory.
    public func remove(_ c: ContainerStatus) throws {
        Files.removeTree(containersDir + "/" + c.record.id)
    }

    // MARK: - Helpers

    static func resolvConf() -> String {
        let host = (try? String(decoding: FileSystem.readBytes("/etc/resolv.conf"), as: UTF8.self)) ?? ""
        // Loopback resolvers of the host are unreachable from the container's namespace.
        let lines = host.split(separator: "\n").filter {
            !($0.hasPrefix("nameserver 127.") || $0.hasPrefix("nameserver ::1"))
        }
        var text = lines.joined(separator: "\n")
        if !lines.contains(where: { $0.hasPrefix("nameserver") }) { text += "\nnameserver 8.8.8.8\nnameserver 8.8.4.4" }
        return text + "\n"
    }

    func mkdirs(_ path: String) throws {
        do {
            try Files.makeDirectories(path)
        } catch {
            throw EngineError(error.description)
        }
    }

    func writeText(_ path: String, _ text: String) throws {
        do {
            try Files.writeAtomically(path, Array(text.utf8))
        } catch {
            throw EngineError(error.description)
        }
    }
}

/// Users and groups resolved from the image's /etc/passwd and /etc/group, in the parent:
/// nothing is looked up after pivot_root.
enum Users {
    static func file(_ name: String, _ layers: [String]) -> String {
        for layer in layers.reversed() {
            if let bytes = try? FileSystem.readBytes(layer + name) { return String(decoding: bytes, as: UTF8.self) }
        }
        return ""
    }

    static func resolve(_ user: String, groupAdd: [String], layers: [String]) throws -> (UInt32, UInt32, [UInt32]) {
        let passwd = file("/etc/passwd", layers)
        let group = file("/etc/group", layers)
        func lookupGroup(_ g: String) -> UInt32? {
            if let n = UInt32(g) { return n }
            for line in group.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count >= 3, f[0] == g { return UInt32(f[2]) }
            }
            return nil
        }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var userName: String?
        if let u = parts.first, !u.isEmpty {
            if let n = UInt32(u) {
                uid = n
                for line in passwd.split(separator: "\n") {
                    let f = line.split(separator: ":", omittingEmptySubsequences: false)
                    if f.count >= 4, UInt32(f[2]) == n {
                        gid = UInt32(f[3]) ?? 0
                        userName = String(f[0])
                    }
                }
            } else {
                guard
                    let line = passwd.split(separator: "\n").first(where: {
                        $0.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init) == u
                    })
                else {
                    throw EngineError("unable to find user \(u): no matching entries in passwd file")
                }
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                uid = f.count > 2 ? UInt32(f[2]) ?? 0 : 0
                gid = f.count > 3 ? UInt32(f[3]) ?? 0 : 0
                userName = u
            }
        } else {
            userName = "root"
        }
        if parts.count == 2 {
            guard let g = lookupGroup(parts[1]) else { throw EngineError("unable to find group \(parts[1])") }
            gid = g
        }
        var groups: [UInt32] = []
        if let userName {
            for line in group.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count >= 4, f[3].split(separator: ",").contains(where: { $0 == userName }), let g = UInt32(f[2]) {
                    groups.append(g)
                }
            }
        }
        for g in groupAdd {
            guard let n = lookupGroup(g) else { throw EngineError("unable to find group \(g)") }
            groups.append(n)
        }
        return (uid, gid, groups)
    }
}
