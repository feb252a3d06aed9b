// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials
import SComposeLoader
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec
import Synchronization

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
    /// `stop_signal` (number), nil for SIGTERM.
    public var stopSignal: Int32?
    /// `stop_grace_period` in seconds, nil for the default.
    public var stopTimeout: Int?
    /// Anonymous volumes by mount target (kept for the container that replaces this one).
    public var anonymousVolumes: [String: String]?
    /// Published ports.
    public var ports: [PortBinding]?
    /// Those of `ports` published on every address answer on the host's IPv6 addresses too
    /// (a container with IPv6).
    public var portsOnIPv6: Bool? = nil
    /// Whether its shim runs a healthcheck.
    public var healthcheck: Bool?
    /// `pre_stop` hooks, run before `stop` and `down` stop it.
    public var preStop: [HookRecord]?
}

extension ContainerRecord {
    /// Reads `container.json` by hand: `ps` and `up` read one per container, and the generic
    /// `Decodable` path cost more than the rest of reading the state.
    static func read(_ path: String) -> ContainerRecord? {
        guard let bytes = try? Files.read(path), let tree = try? JSONTree.parse(bytes),
            let id = tree.value("id")?.stringValue, let name = tree.value("name")?.stringValue,
            let project = tree.value("project")?.stringValue, let service = tree.value("service")?.stringValue,
            let number = tree.value("number")?.intValue
        else { return nil }
        // Anything unusual (hooks, ports) goes through the full decoder.
        if tree.value("preStop") != nil || tree.value("ports") != nil {
            return try? StateJSONDecoder().decode(ContainerRecord.self, from: bytes)
        }
        return ContainerRecord(
            id: id, name: name, project: project, service: service, number: number,
            image: tree.value("image")?.stringValue ?? "", imageID: tree.value("imageID")?.stringValue ?? "",
            command: tree.value("command")?.arrayValue?.compactMap(\.stringValue) ?? [],
            created: tree.value("created")?.stringValue ?? "", configHash: tree.value("configHash")?.stringValue ?? "",
            labels: tree.value("labels")?.stringMap ?? [:],
            stopSignal: tree.value("stopSignal")?.intValue.map { Int32($0) }, stopTimeout: tree.value("stopTimeout")?.intValue,
            anonymousVolumes: tree.value("anonymousVolumes")?.stringMap, ports: nil,
            healthcheck: tree.value("healthcheck")?.boolValue, preStop: nil)
    }
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
    /// Waiting to be started again by its restart policy.
    public var restarting = false
    public var restartCount = 0
    public var lastExitCode: Int32?
    /// Frozen by `pause`.
    public var paused = false
    /// `starting`, `healthy` or `unhealthy` while a container with a healthcheck runs.
    public var health: String?
    /// A state file of the container that cannot be read (`container.json`, `state.json`):
    /// what is shown comes from what could be read, and its cgroup says whether it runs.
    public var damaged: String?
    /// Its shim died without recording an exit (killed, or the machine went down): `exit`
    /// says 255, as Docker does.
    public var lost = false

    /// Docker's state: created, running, paused, restarting or exited (a container whose shim
    /// died without recording an exit has exited with 255).
    public var state: String {
        if restarting && shimPid != nil { return "restarting" }
        if running { return paused ? "paused" : "running" }
        return exit == nil && startedAt == nil ? "created" : "exited"
    }
}

/// A project's lock, released when this goes away.
public typealias ProjectLock = FileLock

/// When `up` replaces an existing container.
public enum RecreatePolicy: Sendable {
    /// When its configuration changed (the default).
    case changed
    /// Always (`--force-recreate`).
    case always
    /// Never (`--no-recreate`).
    case never
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
public struct Engine: Sendable {
    /// scompose's version, also written in the `com.docker.compose.version` labels.
    public static let version = "0.1.0"

    public let root: String
    public let shimPath: String
    /// Told each step, one line per step (several lines at once when they come together).
    public var progress: @Sendable (String) -> Void
    /// Fetches an image (reference, `platform`) from its registry into the store; nil when this
    /// engine cannot pull (a missing image is then an error).
    public var pullImage: (@Sendable (String, String?) throws -> ImageRecord)?
    /// Where build steps are told (`#3 [web 2/4] RUN …`); `progress` when nil.
    public var buildOutput: (@Sendable (String) -> Void)?

    public init(root: String, shimPath: String, progress: @escaping @Sendable (String) -> Void) {
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
            var damaged: String?
            let record: ContainerRecord
            if let read = ContainerRecord.read(files.dir + "/container.json") {
                record = read
            } else if let recovered = Self.recoveredRecord(id: id, files: files) {
                // One unreadable file must not hide a container from `ps` and `down`.
                record = recovered
                damaged = "container.json"
            } else {
                continue
            }
            if let project, record.project != project { continue }
            let state = RunningState.read(files.state)
            var exit = access(files.exit, F_OK) == 0 ? StateFile.read(ExitRecord.self, from: files.exit) : nil
            // A killed shim may linger as a zombie of whatever adopted it: that is dead too.
            let shimAlive = exit == nil && state.map { ProcessCheck.isAlive($0.shimPid, startTicks: $0.shimStartTicks) } == true
            var running: Bool
            if let state, shimAlive {
                // Its shim records the exit first thing: without one, the container runs (or
                // waits for its restart).
                running = !state.restarting
            } else {
                running = exit == nil && state.map { ProcessCheck.isAlive($0.pid, startTicks: $0.startTicks) } == true
            }
            var lost = false
            if let state, exit == nil, !running, !shimAlive {
                lost = true
                // Its shim died without recording an exit (killed, or the machine went down):
                // exited with 255, as Docker shows such containers, and `up`/`start` start
                // it again with its writable layer.
                exit = ExitRecord(
                    exitCode: 255, oomKilled: false, finishedAt: Self.lostAt(stateFile: files.state), restartCount: state.restartCount)
            }
            if state == nil, exit == nil, access(files.state, F_OK) == 0 {
                // An unreadable state file: no pid to trust, but the cgroup knows.
                damaged = damaged ?? "state.json"
                running = cgroup(of: id).map { !$0.processes().isEmpty } ?? false
            }
            var status = ContainerStatus(
                record: record, running: running, pid: state?.pid, shimPid: shimAlive ? state?.shimPid : nil,
                startedAt: state?.startedAt ?? (running ? "" : nil), exit: exit)
            status.damaged = damaged
            status.lost = lost
            status.restarting = exit == nil && !running && state?.restarting == true
            status.restartCount = exit?.restartCount ?? state?.restartCount ?? 0
            status.lastExitCode = state?.lastExitCode
            status.paused = running && access(files.paused, F_OK) == 0
            if running, record.healthcheck == true {
                // Until the shim's first write, a container with a healthcheck is starting.
                status.health = StateFile.read(HealthState.self, from: files.health)?.status ?? "starting"
            }
            out.append(status)
        }
        return out.sorted { ($0.record.service, $0.record.number) < ($1.record.service, $1.record.number) }
    }

    /// When a container whose shim vanished stopped, as far as can be told: the machine's boot
    /// when it came up since the state file's last write, else that write.
    static func lostAt(stateFile: String) -> String {
        var st = stat()
        guard stat(stateFile, &st) == 0 else { return Clock.rfc3339Now() }
        var seconds = st.st_mtim.tv_sec
        var nanoseconds = st.st_mtim.tv_nsec
        var sinceBoot = timespec()
        if clock_gettime(CLOCK_BOOTTIME, &sinceBoot) == 0 {
            let boot = time(nil) - sinceBoot.tv_sec
            if boot > seconds { (seconds, nanoseconds) = (boot, 0) }
        }
        return Clock.rfc3339(seconds: seconds, nanoseconds: nanoseconds)
    }

    /// What the shim's spec says of a container whose `container.json` cannot be read: its
    /// project (from the event log's name), service, name and image. Its configuration hash
    /// is unknown, so `up` replaces it.
    static func recoveredRecord(id: String, files: ContainerFiles) -> ContainerRecord? {
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec), let events = spec.events else { return nil }
        let logName = events.path.split(separator: "/").last.map(String.init) ?? ""
        guard logName.hasSuffix(".events") else { return nil }
        let project = String(logName.dropLast(".events".count))
        let name = events.attributes["name"] ?? String(id.prefix(12))
        let number = name.split(separator: "-").last.flatMap { Int($0) } ?? 1
        return ContainerRecord(
            id: id, name: name, project: project, service: events.service, number: number, image: events.attributes["image"] ?? "",
            imageID: "", command: spec.container.args, created: "", configHash: "",
            labels: ["com.docker.compose.project": project, "com.docker.compose.service": events.service])
    }

    // MARK: - up

    /// Brings the project to what its files say: `Reconciler.plan` decides, from the observed
    /// containers, what to create, recreate, start, restart or remove; this executes the plan,
    /// services whose dependencies are done in parallel (at most `parallel` at once).
    /// With `options.start == false` (`create`, `up --no-start`), containers are left stopped.
    /// Once `cancellation` is set no further service starts; the walk then throws.
    public func up(_ loaded: LoadedProject, options: ReconcileOptions, parallel: Int? = nil, cancellation: Cancellation? = nil) throws {
        let project = loaded.project
        let lock = try lockProject(project.name)
        defer { _ = lock }
        try mkdirs(containersDir)
        removeStaleStaging()
        let store = try ImageStore(root: root)
        let (services, images) = try checkImages(loaded, options: options, store: store)
        try recreateChangedNetworks(loaded, services: services)
        let existing = containers(project: project.name)
        let desired = desiredServices(loaded, images: images)
        let plan = try Reconciler.plan(
            project: project.name, desired: desired, observed: existing.map(Self.observed), options: options)
        try handleOrphans(existing.filter { plan.orphans.contains($0.record.name) }, remove: plan.removeOrphans)
        try ensureNetworks(project, services: services, rendered: loaded.rendered)
        let byName = Dictionary(existing.map { ($0.record.name, $0) }, uniquingKeysWith: { a, _ in a })
        let context = UpContext(
            loaded: loaded, store: store, images: images, existing: byName, start: plan.start,
            hashes: Dictionary(desired.map { ($0.name, $0.configHash) }, uniquingKeysWith: { a, _ in a }))
        // Nothing to do (the common `up` of a running project): no threads, one write.
        if plan.services.allSatisfy({ $0.steps.allSatisfy { $0.action == .keep } }) {
            let running = plan.services.flatMap(\.steps).filter {
                guard let c = byName[$0.container] else { return false }
                return c.running || c.restarting
            }
            if !running.isEmpty { progress(running.map { "Container \($0.container)  Running" }.joined(separator: "\n")) }
            return
        }
        let works = Dictionary(plan.services.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
        let graph = DependencyGraph(plan.services.map { ($0.service, $0.after.map(\.service)) })
        try graph.walk(limit: Parallel.limit(parallel), cancellation: cancellation) { service in
            guard let work = works[service] else { return }
            try self.execute(work, context)
        }
    }

    /// The plan `up` would execute now (`--dry-run`): nothing is changed.
    public func plan(_ loaded: LoadedProject, options: ReconcileOptions) throws -> Plan {
        let (_, images) = try checkImages(loaded, options: options, store: try ImageStore(root: root))
        return try Reconciler.plan(
            project: loaded.project.name, desired: desiredServices(loaded, images: images),
            observed: containers(project: loaded.project.name).map(Self.observed), options: options)
    }

    /// The services `up` covers, in dependency order, and their images: pulled first (in
    /// parallel) as each service's `pull_policy` (or `--pull`) says, and a missing image is an
    /// error before anything is made.
    func checkImages(
        _ loaded: LoadedProject, options: ReconcileOptions, store: ImageStore
    ) throws -> ([String], [String: ImageRecord]) {
        let project = loaded.project
        let targets = options.targets.isEmpty ? project.serviceNames : options.targets
        let services = try Reconciler.dependencyOrder(
            desiredServices(loaded, images: [:]), targets: targets, noDeps: options.noDeps)
        // Each image is looked up once (services often share one; every lookup reads the index).
        // A service's `platform:` picks that platform's image of a name (pulled when missing).
        var found: [String: ImageRecord] = [:]
        func lookup(_ image: String, _ platform: String? = nil) throws -> ImageRecord? {
            let key = image + "|" + (platform ?? "")
            if let hit = found[key] { return hit }
            let hit = try store.find(image, platform: platform.flatMap(Platform.init(parsing:)))
            found[key] = hit
            return hit
        }
        // Which images to pull, once each, and for which services.
        var toPull: [(image: String, platform: String?, services: [String])] = []
        var toBuild: [String] = []
        for name in services {
            guard let service = project.services[name] else { continue }
            if service.build != nil {
                // Services that build are built, not pulled: when the image is missing, with
                // `--build`, or always with `pull_policy: build`.
                let present = try lookup(Self.imageName(project: project.name, service: service)) != nil
                switch options.build {
                case .always: toBuild.append(name)
                case .never: break
                case .missing: if !present || service.pullPolicy == "build" { toBuild.append(name) }
                }
                continue
            }
            guard let image = service.image else { continue }
            let policy = options.pull ?? service.pullPolicy ?? "missing"
            let present = try lookup(image, service.platform) != nil
            let wanted: Bool
            switch policy {
            case "always": wanted = true
            case "never": wanted = false
            case "build": wanted = false
            default:
                // `daily`, `weekly`, `every_<duration>`: when missing or last pulled longer ago.
                if let period = PullDates.period(policy), present {
                    wanted = PullDates(root: root).age(image).map { $0 >= period } ?? true
                } else {
                    wanted = !present
                }
            }
            guard wanted else { continue }
            if let i = toPull.firstIndex(where: { $0.image == image }) {
                toPull[i].services.append(name)
            } else {
                toPull.append((image, service.platform, [name]))
            }
        }
        if !toPull.isEmpty {
            guard let pullImage else {
                throw EngineError("Error response from daemon: No such image: \(toPull[0].image)")
            }
            let jobs = toPull
            for job in jobs { for name in job.services { progress("\(name) Pulling") } }
            try Parallel.forEach(jobs, limit: 4) { job in
                _ = try pullImage(job.image, job.platform)
                PullDates(root: self.root).record(job.image)
                for name in job.services { self.progress("\(name) Pulled") }
            }
            found = [:]
        }
        if !toBuild.isEmpty {
            let store = store
            for name in toBuild {
                guard let service = project.services[name] else { continue }
                found[Self.imageName(project: project.name, service: service) + "|"] = try buildService(
                    loaded, service: service, options: options.buildOptions, store: store)
            }
        }
        var images: [String: ImageRecord] = [:]
        for name in services {
            guard let service = project.services[name] else { continue }
            guard service.image != nil || service.build != nil else {
                throw EngineError("service \"\(name)\" has neither an image nor build context specified: invalid compose project")
            }
            let imageName = Self.imageName(project: project.name, service: service)
            guard let image = try lookup(imageName, service.build == nil ? service.platform : nil) else {
                throw EngineError("Error response from daemon: No such image: \(imageName)")
            }
            images[name] = image
        }
        return (services, images)
    }

    /// What the jobs of one `up` share.
    struct UpContext: @unchecked Sendable {
        // ImageStore is a value over files; LoadedProject and the records are values.
        let loaded: LoadedProject
        let store: ImageStore
        let images: [String: ImageRecord]
        let existing: [String: ContainerStatus]
        let start: Bool
        /// Config hashes by service, as the plan compared them.
        let hashes: [String: String]
    }

    /// One service's steps of a plan.
    func execute(_ work: Plan.ServiceWork, _ context: UpContext) throws {
        let project = context.loaded.project
        guard let service = project.services[work.service], let image = context.images[work.service] else { return }
        // A dependency's condition matters to what this service starts, not to what it keeps.
        if context.start && !work.steps.allSatisfy({ $0.action == .keep || $0.action == .remove }) {
            try waitForDependencies(service, after: work.after, project: project.name)
        }
        let hash = context.hashes[service.name] ?? ""
        let removed = work.steps.filter { $0.action == .remove }.compactMap { context.existing[$0.container] }
        if !removed.isEmpty {
            try stopReporting(removed, timeout: nil)
            for c in removed {
                try remove(c)
                progress("Container \(c.record.name)  Removed")
            }
        }
        for step in work.steps where step.action != .remove {
            let current = context.existing[step.container]
            switch step.action {
            case .keep:
                if let current, current.running || current.restarting { progress("Container \(step.container)  Running") }
                continue
            case .start, .restart:
                guard let current else { continue }
                if step.action == .restart {
                    progress("Container \(step.container)  Restarting")
                    try stop(current, timeout: nil)
                } else {
                    progress("Container \(step.container)  Starting")
                }
                // Its networks and published ports are made again if a reboot took them away.
                try startStopped(current)
                try runPostStart(service.postStart, container: step.container, project: project.name)
                progress("Container \(step.container)  Started")
                continue
            case .recreate:
                guard let current else { continue }
                progress("Container \(step.container)  Recreate")
                try stop(current, timeout: nil)
                try remove(current)
                progress("Container \(step.container)  Recreated")
            case .create:
                progress("Container \(step.container)  Creating")
            case .remove:
                continue
            }
            let files = try Self.creating.withLock { _ in
                try create(
                    project: project, environment: context.loaded.environment, service: service, number: step.number,
                    name: step.container, hash: hash, store: context.store, image: image,
                    previousAnonymous: current?.record.anonymousVolumes ?? [:])
            }
            if step.action == .create { progress("Container \(step.container)  Created") }
            guard context.start else { continue }
            progress("Container \(step.container)  Starting")
            try self.start(files)
            try runPostStart(service.postStart, container: step.container, project: project.name)
            progress("Container \(step.container)  Started")
        }
    }

    /// Creations take turns: they pick ports, addresses and volume names from what the
    /// others have not taken yet. Starts, the slow part, run in parallel.
    static let creating = Mutex<Void>(())

    /// The reconciler's view of a container.
    static func observed(_ c: ContainerStatus) -> ObservedContainer {
        let phase: ObservedContainer.Phase = c.running || c.restarting ? .running : .stopped
        return ObservedContainer(
            name: c.record.name, service: c.record.service, number: c.record.number, configHash: c.record.configHash,
            imageID: c.record.imageID, phase: phase, oneoff: c.record.labels["com.docker.compose.oneoff"] == "True")
    }

    /// The reconciler's view of the project's services: `depends_on` and the implicit
    /// dependencies of links, `service:` namespaces and `volumes_from`.
    public func desiredServices(_ loaded: LoadedProject, images: [String: ImageRecord] = [:]) -> [DesiredService] {
        let project = loaded.project
        return project.serviceNames.compactMap { name in
            guard let service = project.services[name] else { return nil }
            var dependencies = service.dependsOn.sorted { $0.key < $1.key }.map {
                DesiredService.Dependency(
                    service: $0.key, condition: $0.value.condition.rawValue, restart: $0.value.restart, required: $0.value.required)
            }
            var parents: [String] = []
            for mode in [service.networkMode, service.ipc, service.pid] {
                if let mode, mode.hasPrefix("service:") { parents.append(String(mode.dropFirst(8))) }
            }
            var implicit = parents
            implicit += service.links.compactMap { $0.split(separator: ":").first.map(String.init) }
            implicit += service.volumesFrom.compactMap { entry in
                entry.hasPrefix("container:") ? nil : entry.split(separator: ":").first.map(String.init)
            }
            for dep in implicit where project.services[dep] != nil && !dependencies.contains(where: { $0.service == dep }) {
                dependencies.append(DesiredService.Dependency(service: dep))
            }
            return DesiredService(
                name: name,
                configHash: images.isEmpty ? "" : configHash(loaded.rendered, service: name, environment: loaded.environment),
                imageID: images[name]?.id.description ?? "", replicas: service.replicas, containerName: service.containerName,
                dependencies: dependencies, namespaceParents: parents)
        }
    }

    /// Removes what a killed `up` left half-created: staging directories whose creator (the
    /// pid and start time in their name) is gone; a concurrent `up`'s own is left alone.
    public func removeStaleStaging() {
        for name in Files.list(containersDir) where name.hasPrefix(".creating-") {
            let path = containersDir + "/" + name
            let fields = name.dropFirst(".creating-".count).split(separator: ".")
            if fields.count == 3, let pid = Int32(fields[1]), let ticks = UInt64(fields[2]) {
                if !ProcessCheck.isAlive(pid, startTicks: ticks) {
                    // Its addresses too: an endpoint of a container that never came to be
                    // would keep its network "in use" for ever.
                    releaseNetwork(String(fields[0]))
                    Files.removeTree(path)
                }
                continue
            }
            // A name without its creator: gone once surely abandoned.
            var st = stat()
            if stat(path, &st) == 0, time(nil) - st.st_mtim.tv_sec > 60 { Files.removeTree(path) }
        }
    }

    /// Holds the project's lock until the returned value goes: one command changes a project's
    /// containers at a time, so two `up` at once leave one set of containers.
    public func lockProject(_ name: String) throws -> ProjectLock {
        try mkdirs(root + "/projects")
        do {
            return try FileLock.acquire(root + "/projects/\(name).lock")
        } catch {
            throw EngineError("cannot lock project \(name): \(String(cString: strerror(error.errno)))")
        }
    }

    /// Containers of services the project no longer has: a warning, or gone with `--remove-orphans`.
    func handleOrphans(_ orphans: [ContainerStatus], remove: Bool) throws {
        guard !orphans.isEmpty else { return }
        if remove {
            try stopReporting(orphans, timeout: nil)
            for c in orphans {
                try self.remove(c)
                progress("Container \(c.record.name)  Removed")
            }
        } else {
            progress(
                "WARN Found orphan containers ([\(orphans.map(\.record.name).joined(separator: " "))]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.")
        }
    }

    /// `depends_on` conditions: a dependency must be healthy (`service_healthy`) or have exited
    /// with 0 (`service_completed_successfully`) before the service starts.
    func waitForDependencies(_ service: ServiceConfig, after: [DesiredService.Dependency], project: String) throws {
        for condition in after {
            let dep = condition.service
            let kind = condition.condition
            guard kind == "service_healthy" || kind == "service_completed_successfully" else { continue }
            let deadline = time(nil) + 600
            var announced = false
            while true {
                let cs = containers(project: project).filter { $0.record.service == dep }
                if cs.isEmpty {
                    if !condition.required { break }
                    throw EngineError("service \"\(service.name)\" depends on \"\(dep)\", which has no container")
                }
                if kind == "service_healthy" {
                    if cs.allSatisfy({ $0.health == "healthy" }) {
                        if announced { for c in cs { progress("Container \(c.record.name)  Healthy") } }
                        break
                    }
                    if let sick = cs.first(where: { $0.health == "unhealthy" || (!$0.running && !$0.restarting) }) {
                        throw EngineError("dependency failed to start: container \(sick.record.name) is unhealthy")
                    }
                    if cs.contains(where: { $0.running && $0.health == nil }) {
                        throw EngineError("container \(cs[0].record.name) has no healthcheck configured")
                    }
                } else {
                    if let failed = cs.first(where: { ($0.exit?.exitCode ?? 0) != 0 }) {
                        throw EngineError(
                            "service \"\(dep)\" didn't complete successfully: exit \(failed.exit?.exitCode ?? 1)")
                    }
                    if cs.allSatisfy({ $0.exit?.exitCode == 0 }) {
                        if announced { for c in cs { progress("Container \(c.record.name)  Exited") } }
                        break
                    }
                }
                if time(nil) >= deadline { throw EngineError("timed out waiting for \(dep)") }
                if !announced {
                    for c in cs { progress("Container \(c.record.name)  Waiting") }
                    announced = true
                }
                usleep(20_000)
            }
        }
    }

    /// `up --wait`: until every container of `services` runs (healthy, when it has a healthcheck),
    /// or `timeout` seconds.
    public func waitUntilReady(project: String, services: [String], timeout: Int?) throws {
        let deadline = timeout.map { time(nil) + time_t($0) }
        while true {
            let cs = containers(project: project).filter { services.isEmpty || services.contains($0.record.service) }
            if let bad = cs.first(where: { $0.health == "unhealthy" }) {
                throw EngineError("container \(bad.record.name) is unhealthy")
            }
            if let dead = cs.first(where: { !$0.running && !$0.restarting && ($0.exit?.exitCode ?? 0) != 0 }) {
                throw EngineError("container \(dead.record.name) exited (\(dead.exit?.exitCode ?? -1))")
            }
            if cs.allSatisfy({ ($0.running && ($0.health == nil || $0.health == "healthy")) || $0.exit?.exitCode == 0 }) {
                for c in cs { progress("Container \(c.record.name)  \(c.health == "healthy" ? "Healthy" : "Running")") }
                return
            }
            if let deadline, time(nil) >= deadline { throw EngineError("timeout waiting for the containers to be ready") }
            usleep(50_000)
        }
    }

    /// SHA-256 of the service's printed configuration without the keys that do not change the container.
    func configHash(_ rendered: JSONValue, service: String, environment: [String: String] = [:]) -> String {
        guard case .object(let pairs)? = rendered["services"]?[service] else { return "" }
        let ignored: Set<String> = ["build", "pull_policy", "scale", "depends_on", "profiles"]
        var kept = pairs.filter { !ignored.contains($0.0) }.sorted { $0.0 < $1.0 }
        // The networks it joins as defined at the top level: a changed network recreates it.
        if case .object(let nets)? = rendered["services"]?[service]?["networks"] {
            for (key, _) in nets { if let definition = rendered["networks"]?[key] { kept.append(("networks.\(key)", definition)) } }
        }
        // The secrets and configs it mounts, and their files' content: changing one recreates
        // the container that uses it.
        for kind in ["secrets", "configs"] {
            guard case .array(let refs)? = rendered["services"]?[service]?[kind] else { continue }
            for ref in refs {
                guard case .string(let source)? = ref["source"], let definition = rendered[kind]?[source] else { continue }
                kept.append(("\(kind).\(source)", definition))
                if case .string(let file)? = definition["file"], let bytes = try? Files.read(file) {
                    kept.append(("\(kind).\(source).content", .string(Digest(of: bytes).hex)))
                }
                if case .string(let variable)? = definition["environment"] {
                    kept.append(("\(kind).\(source).content", .string(Digest(of: Array((environment[variable] ?? "").utf8)).hex)))
                }
            }
        }
        return Digest(of: Array(JSONValue.object(kept).compactText().utf8)).hex
    }

    func create(
        project: ComposeProject, environment: [String: String], service: ServiceConfig, number: Int, name: String,
        hash: String, store: ImageStore, image: ImageRecord, previousAnonymous: [String: String] = [:],
        oneoff: OneOff? = nil
    ) throws -> ContainerFiles {
        let imageName = Self.imageName(project: project.name, service: service)
        let imageConfig = try store.config(image)
        let layers = try store.snapshots(image)
        let id = Digest.random().hex
        let files = ContainerFiles(dir: containersDir + "/" + id)
        // Everything is written under a staging name and renamed into place last: a crash
        // half-way leaves a `.creating-` directory that the next `up` removes, never a
        // container that is half there. Paths inside the files are the final ones.
        // The name says who is creating it (pid and start time), from its first instant: a
        // later command removes it at once if we die.
        let me = getpid()
        let stage = containersDir + "/.creating-\(id).\(me).\(ProcessCheck.startTicks(me) ?? 0)"
        func staged(_ path: String) -> String { stage + path.dropFirst(files.dir.count) }
        var created = false
        defer { if !created { Files.removeTree(stage) } }
        for d in [files.upper, files.work, files.root] { try mkdirs(staged(d)) }
        let defaults = imageConfig.config ?? ImageConfig.ContainerDefaults()
        let builder = ContainerSpecBuilder(
            project: project.name, workingDirectory: project.workingDirectory, composeFiles: project.composeFiles,
            service: service, number: number, name: name, hash: hash, oneoff: oneoff)
        let users = try ImageUsers.resolve(service.user ?? defaults.User ?? "", groupAdd: service.groupAdd, layers: layers)
        let storage = try storagePlan(
            project: project, environment: environment, service: service,
            imageVolumes: Array((defaults.Volumes ?? [:]).keys), previousAnonymous: previousAnonymous,
            containerDir: files.dir, stagingDir: stage)
        // Volumes made just now for this container go again if it cannot be created.
        let madeHere = storage.anonymous.filter { previousAnonymous[$0.key] == nil }.map(\.value)
        defer { if !created { for name in madeHere { try? volumes.remove(name) } } }
        try mkdirs(root + "/tmp")
        for seed in storage.seeds {
            try VolumeSeed.copy(layers: layers, path: seed.path, into: volumes.dataPath(seed.volume), scratch: root + "/tmp")
        }
        let appArmor: String?
        do {
            appArmor = try AppArmor.profile(requested: Security.appArmorRequest(service), privileged: service.privileged)
        } catch {
            throw EngineError("\(error)")
        }
        let network = try networkPlan(
            project: project, service: service, containerID: id, containerName: name,
            hostname: service.hostname ?? String(id.prefix(12)), number: number, serviceAliases: oneoff?.useAliases ?? true)
        defer { if !created { releaseNetwork(id) } }
        var resolution = ContainerResolution(
            id: id, files: files, imageName: imageName, imageID: image.id.description, layers: layers, defaults: defaults,
            storage: storage, network: network, appArmorProfile: appArmor,
            systemdScope: SystemdScope.applies(layout: CgroupLayout.host), created: Clock.rfc3339Now(),
            events: events(project: project.name, service: service.name, name: name, image: imageName))
        (resolution.uid, resolution.gid, resolution.additionalGids) = users
        if service.networkMode == "host" {
            resolution.hostEtcHosts = try? String(decoding: Files.read("/etc/hosts"), as: UTF8.self)
        }
        let blueprint = try builder.build(resolution)
        try writeText(staged(files.hosts), blueprint.hosts)
        try writeText(staged(files.hostname), blueprint.hostname + "\n")
        try writeText(staged(files.resolvConf), blueprint.resolvConf)
        if let address = network.primaryAddress, !network.ports.isEmpty {
            do {
                try networkBackend.publish(
                    PortPublication(containerID: id, address: address, address6: network.primaryAddress6, ports: network.ports))
            } catch {
                throw EngineError("cannot publish the ports of \(name): \(error)")
            }
        }
        try StateFile.write(blueprint.spec, to: staged(files.spec))
        try StateFile.write(blueprint.record, to: staged(files.dir + "/container.json"))
        unlink(stage + "/creator")
        guard rename(stage, files.dir) == 0 else {
            throw EngineError("cannot create container \(name): \(String(cString: strerror(errno)))")
        }
        created = true
        blueprint.spec.events?.record("create", id: id)
        return files
    }

    /// Starts an existing, stopped container again (its writable layer is kept).
    public func start(_ c: ContainerStatus) throws {
        guard !c.running else { return }
        try startStopped(c)
    }

    /// `start(_:)` of a container known to be stopped (`c` may say otherwise: `up` restarts
    /// with the status read before its stop).
    func startStopped(_ c: ContainerStatus) throws {
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        let spec = StateFile.read(ShimSpec.self, from: files.spec)
        // Its networks' bridges and rules, again after the machine restarted.
        let store = networkStore
        for name in spec?.network?.dnsNetworks ?? [] {
            if let record = store.get(name) { try realize(record) }
        }
        // Its published ports, again if a failed start (or a restart of the machine) took them away.
        let backend = networkBackend
        if let ports = c.record.ports, !ports.isEmpty, !backend.isPublished(container: c.record.id),
            let interface = spec?.network?.interfaces.first, let ip = IPv4(interface.address)
        {
            do {
                try backend.publish(
                    PortPublication(containerID: c.record.id, address: ip, address6: interface.address6.flatMap(IPv6.init), ports: ports))
            } catch {
                throw EngineError("cannot publish the ports of \(c.record.name): \(error)")
            }
        }
        try start(files)
    }

    /// Sends a signal to a running container's init (through its shim, so that its restart
    /// policy knows the user did it).
    public func signal(_ c: ContainerStatus, _ signal: Int32) throws {
        guard c.running, let pid = c.pid else { return }
        events(c.record).record("kill", id: c.record.id, extra: ["signal": String(signal)])
        let shim = shim(c.record.id)
        if c.shimPid != nil, shim.kill(signal: signal) { return }
        do {
            try shim.signalInit(pid: pid, signal: signal)
        } catch {
            throw EngineError("cannot signal \(c.record.name): \(error)")
        }
    }

    /// Starts the container's shim and waits until the container runs (or failed to). With
    /// `attachStdin` (a `run` container made with `waitForAttach`), the returned socket is
    /// attached to it from before its first output.
    @discardableResult
    func start(_ files: ContainerFiles, attachStdin: Bool? = nil) throws -> Int32? {
        do {
            return try ShimClient(files: files).start(shim: shimPath, attachStdin: attachStdin)
        } catch {
            // A container that does not run publishes nothing (`start` makes its rules again).
            networkBackend.unpublish(container: String(files.dir.split(separator: "/").last ?? ""))
            if case .startFailed(let message, _) = error {
                throw EngineError("Error response from daemon: failed to create task for container: \(message)")
            }
            throw EngineError("\(error)")
        }
    }

    /// The files of a container's directory.
    public func files(_ id: String) -> ContainerFiles {
        ContainerFiles(dir: containersDir + "/" + id)
    }

    /// The client of a container's shim.
    public func shim(_ id: String) -> ShimClient {
        ShimClient(files: files(id))
    }

    // MARK: - exec

    /// Runs a command in a service's running container and returns its exit status.
    public func exec(
        project: String, service: String, index: Int, command: [String], user: String?, workingDir: String?,
        env: [String], privileged: Bool = false, stdio: Launcher.Stdio = .init(),
        terminal: ((Int32) -> Void)? = nil, detach: Bool = false
    ) throws -> Int32 {
        let candidates = containers(project: project).filter { $0.record.service == service }
        guard let c = candidates.first(where: { $0.record.number == index }) ?? (index == 1 ? candidates.first : nil),
            c.running
        else {
            throw EngineError("service \"\(service)\" is not running")
        }
        return try exec(
            in: c, command: command, user: user, workingDir: workingDir, env: env, privileged: privileged, stdio: stdio,
            terminal: terminal, detach: detach)
    }

    /// Runs a command in a running container and returns its exit status; `detach` returns 0
    /// as soon as the command runs, in a session of its own (`exec -d`).
    public func exec(
        in c: ContainerStatus, command: [String], user: String?, workingDir: String?, env: [String],
        privileged: Bool = false, stdio: Launcher.Stdio = .init(), terminal: ((Int32) -> Void)? = nil, detach: Bool = false
    ) throws -> Int32 {
        guard c.running, let pid = c.pid else { throw EngineError("container \(c.record.name) is not running") }
        // The process would join the frozen cgroup and hang there: refused as Docker refuses it.
        if c.paused {
            throw EngineError("Error response from daemon: Container \(c.record.id) is paused, unpause the container before exec")
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
            (config.uid, config.gid, config.additionalGids) = try ImageUsers.resolve(
                user, groupAdd: [], layers: ["/proc/\(pid)/root"])
        }
        if privileged {
            config.privileged = true
        }
        // With a terminal: a pty of the container's own devpts, relayed by `terminal` (given the master).
        var stdio = stdio
        var pty: (master: Int32, slave: Int32)?
        if terminal != nil {
            do {
                pty = try Launcher.openPty(ptmx: "/proc/\(pid)/root/dev/pts/ptmx")
            } catch {
                throw EngineError("OCI runtime exec failed: \(error)", exitCode: 126)
            }
            if let pty { stdio = .init(stdin: pty.slave, stdout: pty.slave, stderr: pty.slave) }
        }
        config.tty = pty != nil
        var slaveOpen = pty != nil
        defer {
            if let pty {
                close(pty.master)
                if slaveOpen { close(pty.slave) }
            }
        }
        let plan: InitPlan
        do {
            plan = try InitPlan.compileExec(config, containerRoot: "/proc/\(pid)/root")
        } catch {
            throw EngineError("OCI runtime exec failed: \(error)", exitCode: 126)
        }
        do {
            if detach {
                _ = try Launcher.startExec(into: pid, plan, stdio: stdio, detach: true)
                return 0
            }
            return try Launcher.exec(into: pid, plan, stdio: stdio) { _ in
                if let pty, let terminal {
                    // Only the program holds the slave now: its last close ends the relay (EIO).
                    close(pty.slave)
                    slaveOpen = false
                    terminal(pty.master)
                }
            }
        } catch {
            // As docker: 127 when the command is not found, 126 when it cannot run.
            throw EngineError("OCI runtime exec failed: \(error)", exitCode: error.errno == ENOENT ? 127 : 126)
        }
    }

    // MARK: - stop, down

    /// Stops a running container: its stop signal, then SIGKILL after `timeout` seconds (the
    /// service's `stop_grace_period` when nil); waits for its shim to record the exit. A
    /// container whose shim died is stopped and cleaned up here.
    public func stop(_ c: ContainerStatus, timeout: Int?) throws {
        try stop([c], timeout: timeout)
    }

    /// Stops containers as Compose does: those that depend on others first, and all of one
    /// level at once (each shim escalates to SIGKILL on its own), then waits for their exits.
    /// `progress` is told of each container as it starts and ends stopping.
    public func stop(
        _ containers: [ContainerStatus], timeout: Int?, progress: ((ContainerStatus, Bool) -> Void)? = nil
    ) throws {
        let active = containers.filter { $0.exit == nil && $0.state != "created" }
        for level in try Self.downLevels(active) {
            runPreStop(level)
            var waiting: [(ContainerStatus, time_t)] = []
            for c in level {
                progress?(c, false)
                let shim = shim(c.record.id)
                let signal = c.record.stopSignal ?? SIGTERM
                let seconds = timeout ?? c.record.stopTimeout ?? 10
                // A damaged state file hides the shim's pid, not the shim: ask it all the same.
                if c.shimPid != nil || c.damaged != nil, shim.stop(signal: signal, seconds: seconds) {
                    waiting.append((c, time(nil) + time_t(seconds) + 15))
                } else {
                    // No shim (killed, or gone since we looked): nobody supervises the container.
                    shim.stopUnsupervised(pid: c.running ? c.pid : nil, signal: signal, timeout: seconds)
                    events(c.record).record("stop", id: c.record.id)
                    progress?(c, true)
                }
            }
            // The shims write exit.json once their container is gone and its cgroup removed.
            while !waiting.isEmpty {
                var still: [(ContainerStatus, time_t)] = []
                for (c, deadline) in waiting {
                    if access(containersDir + "/" + c.record.id + "/exit.json", F_OK) == 0 {
                        events(c.record).record("stop", id: c.record.id)
                        progress?(c, true)
                    } else if time(nil) >= deadline {
                        throw EngineError("timed out waiting for \(c.record.name) to stop")
                    } else {
                        still.append((c, deadline))
                    }
                }
                waiting = still
                if !waiting.isEmpty { usleep(10_000) }
            }
        }
    }

    /// Stops the containers, then starts them again as they are now (their state re-read).
    /// `progress` is told of each: false when it starts stopping, true once started again.
    public func restart(
        _ containers: [ContainerStatus], timeout: Int?, progress: ((ContainerStatus, Bool) -> Void)? = nil
    ) throws {
        try stop(containers, timeout: timeout) { c, done in if !done { progress?(c, false) } }
        let ids = Set(containers.map(\.record.id))
        for c in self.containers(project: containers.first?.record.project) where ids.contains(c.record.id) {
            try start(c)
            progress?(c, true)
        }
    }

    /// `stop` with Compose's `Stopping` and `Stopped` lines.
    public func stopReporting(_ containers: [ContainerStatus], timeout: Int?) throws {
        try stop(containers, timeout: timeout) { c, done in
            self.progress("Container \(c.record.name)  \(done ? "Stopped" : "Stopping")")
        }
    }

    /// Starts the stopped ones of `containers`, the services they depend on first (as Compose's
    /// `start`); `report` is told before (false) and after (true) each.
    public func start(_ containers: [ContainerStatus], report: (ContainerStatus, Bool) -> Void) throws {
        // Dependencies first: the reverse of the order `stop` goes in.
        for level in try Self.downLevels(containers).reversed() {
            for c in level where !c.running {
                report(c, false)
                try start(c)
                report(c, true)
            }
        }
    }

    /// `containers` grouped by the down levels of their services' graph (`labelGraph`): a
    /// service's containers come before those of the services it depends on, and all of one
    /// level can be stopped at once. A cycle is an error naming it (as Docker Compose's).
    static func downLevels(_ containers: [ContainerStatus]) throws(EngineError) -> [[ContainerStatus]] {
        let levels: [[String]]
        do throws(DependencyGraphError) {
            levels = try labelGraph(containers.map(\.record)).levels(.down)
        } catch {
            throw EngineError(error.description)
        }
        var levelOf: [String: Int] = [:]
        for (i, services) in levels.enumerated() {
            for service in services { levelOf[service] = i }
        }
        var result = [[ContainerStatus]](repeating: [], count: levels.count)
        for c in containers {
            if let i = levelOf[c.record.service] { result[i].append(c) }
        }
        return result.filter { !$0.isEmpty }
    }

    /// The services of `records` and what they depend on, from their
    /// `com.docker.compose.depends_on` labels (which outlive the compose files that made them,
    /// so may disagree with today's), in order of names. A dependency on a service with no
    /// record here is no edge: `stop web` leaves `db` alone.
    static func labelGraph(_ records: [ContainerRecord]) -> DependencyGraph<String> {
        let services = Set(records.map(\.service))
        var dependencies: [String: Set<String>] = [:]
        for record in records {
            let names = (record.labels["com.docker.compose.depends_on"] ?? "").split(separator: ",").compactMap {
                $0.split(separator: ":").first.map(String.init)
            }
            dependencies[record.service, default: []].formUnion(names.filter(services.contains))
        }
        return DependencyGraph(services.sorted().map { ($0, (dependencies[$0] ?? []).sorted()) })
    }

    /// The container's cgroup, when this machine has cgroups: where its spec put it.
    func cgroup(of id: String) -> Cgroup? {
        shim(id).cgroup
    }

    /// Freezes (`pause`) or thaws (`unpause`) a running container.
    public func setPaused(_ c: ContainerStatus, _ paused: Bool) throws {
        guard c.running, CgroupLayout.host != nil else {
            throw EngineError("Error response from daemon: container \(c.record.name) is not running")
        }
        do {
            try shim(c.record.id).setPaused(paused)
        } catch {
            throw EngineError("cannot \(paused ? "pause" : "unpause") \(c.record.name): \(error)")
        }
        events(c.record).record(paused ? "pause" : "unpause", id: c.record.id)
    }

    /// The processes of a running container (pids as the host sees them).
    public func processes(_ c: ContainerStatus) -> [Int32] {
        c.running ? shim(c.record.id).processes() : []
    }

    /// Removes a stopped container's directory. Whatever still runs in its cgroup (a
    /// container whose state could not be read) is killed first: nothing outlives its record.
    public func remove(_ c: ContainerStatus) throws {
        shim(c.record.id).killRemaining()
        releaseNetwork(c.record.id)
        Files.removeTree(containersDir + "/" + c.record.id)
        events(c.record).record("destroy", id: c.record.id)
    }

    // MARK: - Helpers

    /// The project's event log (`events`).
    public func eventLog(project: String) -> String { root + "/projects/\(project).events" }

    func events(project: String, service: String, name: String, image: String) -> EventSource {
        EventSource(path: eventLog(project: project), service: service, attributes: ["name": name, "image": image])
    }

    func events(_ record: ContainerRecord) -> EventSource {
        events(project: record.project, service: record.service, name: record.name, image: record.image)
    }

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

