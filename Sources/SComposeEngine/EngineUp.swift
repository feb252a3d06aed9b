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

// `up`: images, networks and the reconciler's plan, executed in dependency order.
extension Engine {
    /// Brings the project to what its files say. What to do is decided first and all at once
    /// (`Reconciler`: images to pull or build, then, from the observed containers, networks
    /// and volumes, what to make, recreate, start, restart or remove); this executes it in
    /// order, services whose dependencies are done in parallel (at most `parallel` at once).
    /// With `options.start == false` (`create`, `up --no-start`), containers are left stopped.
    /// Once `cancellation` is set no further service starts; the walk then throws.
    public func up(_ loaded: LoadedProject, options: ReconcileOptions, parallel: Int? = nil, cancellation: Cancellation? = nil) throws {
        let project = loaded.project
        let lock = try lockProject(project.name)
        defer { _ = lock }
        try mkdirs(containersDir)
        removeStaleStaging()
        let store = try ImageStore(root: root)
        let services = try planServices(loaded, options: options)
        var lookup = ImageLookup(store: store)
        let imageSteps = Reconciler.imageSteps(
            try imageNeeds(loaded, services: services, options: options, lookup: &lookup), build: options.build)
        try fetchImages(imageSteps, loaded: loaded, options: options, store: store)
        // What was fetched is in the index now: read it again.
        if !imageSteps.isEmpty { lookup = ImageLookup(store: store) }
        let images = try resolvedImages(loaded, services: services, lookup: &lookup, missingIsError: true)
        let observed = containers(project: project.name)
        let desired = desiredServices(loaded, images: images)
        let plan = try Reconciler.plan(
            project: project.name, desired: desired, observed: observed.map(Self.observed), options: options,
            networks: networkNeeds(loaded, services: services), volumes: volumeNeeds(project, services: services),
            images: imageSteps)
        // The network steps take away the containers of a network made again.
        let gone = try recreateNetworks(plan.networks, project: project.name)
        let existing = observed.filter { !gone.contains($0.record.name) }
        try handleOrphans(existing.filter { plan.orphans.contains($0.record.name) }, remove: plan.removeOrphans)
        if CgroupPlacement.host == .none, plan.services.contains(where: { $0.steps.contains { $0.action != .keep } }) {
            let ignored = ContainerSpecBuilder.cgroupKeys(services.compactMap { project.services[$0] })
            if !ignored.isEmpty {
                progress(.warning(
                    "rootless: no cgroups are delegated to this user (they are under cgroup v2 with systemd), so these limits "
                        + "are not applied: " + ignored.joined(separator: "; ")))
            }
        }
        try ensureNetworks(project, services: services, rendered: loaded.rendered)
        for case .create(let key, _) in plan.volumes { _ = try projectVolume(key, project: project) }
        let byName = Dictionary(existing.map { ($0.record.name, $0) }, uniquingKeysWith: { a, _ in a })
        let context = UpContext(
            loaded: loaded, store: store, images: images, existing: byName, start: plan.start,
            hashes: Dictionary(desired.map { ($0.name, $0.configHash) }, uniquingKeysWith: { a, _ in a }),
            cancellation: cancellation)
        // Nothing to do (the common `up` of a running project): no threads, one write.
        if plan.services.allSatisfy({ $0.steps.allSatisfy { $0.action == .keep } }) {
            let running = plan.services.flatMap(\.steps).filter {
                guard let c = byName[$0.container] else { return false }
                return c.running || c.restarting
            }
            for step in running { progress(.resource(.container, step.container, "Running")) }
            return
        }
        let works = Dictionary(plan.services.map { ($0.service, $0) }, uniquingKeysWith: { a, _ in a })
        let graph = DependencyGraph(plan.services.map { ($0.service, $0.after.map(\.service)) })
        try graph.walk(limit: Parallel.limit(parallel), cancellation: cancellation) { service in
            guard let work = works[service] else { return }
            try self.execute(work, context)
        }
    }

    /// The plan `up` would execute now (`--dry-run`): nothing is pulled, built or changed, and
    /// images still to fetch count as new.
    public func plan(_ loaded: LoadedProject, options: ReconcileOptions) throws -> Plan {
        let store = try ImageStore(root: root)
        let services = try planServices(loaded, options: options)
        var lookup = ImageLookup(store: store)
        let imageSteps = Reconciler.imageSteps(
            try imageNeeds(loaded, services: services, options: options, lookup: &lookup), build: options.build)
        let images = try resolvedImages(loaded, services: services, lookup: &lookup, missingIsError: false)
        return try Reconciler.plan(
            project: loaded.project.name, desired: desiredServices(loaded, images: images),
            observed: containers(project: loaded.project.name).map(Self.observed), options: options,
            networks: networkNeeds(loaded, services: services), volumes: volumeNeeds(loaded.project, services: services),
            images: imageSteps)
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
        /// Set by an interrupt: waits end, no further service starts.
        let cancellation: Cancellation?
    }

    /// One service's steps of a plan.
    func execute(_ work: Plan.ServiceWork, _ context: UpContext) throws {
        let project = context.loaded.project
        guard let service = project.services[work.service], let image = context.images[work.service] else { return }
        try waitForDependencies(service, after: work.waits, project: project.name, cancellation: context.cancellation)
        let hash = context.hashes[service.name] ?? ""
        let removed = work.steps.filter { $0.action == .remove }.compactMap { context.existing[$0.container] }
        if !removed.isEmpty {
            try stopReporting(removed, timeout: nil)
            for c in removed {
                try remove(c)
                progress(.resource(.container, c.record.name, "Removed"))
            }
        }
        for step in work.steps where step.action != .remove {
            let current = context.existing[step.container]
            switch step.action {
            case .keep:
                if let current, current.running || current.restarting { progress(.resource(.container, step.container, "Running")) }
                continue
            case .start, .restart:
                guard let current else { continue }
                if step.action == .restart {
                    progress(.resource(.container, step.container, "Restarting"))
                    try stop(current, timeout: nil)
                } else {
                    progress(.resource(.container, step.container, "Starting"))
                }
                // Its networks and published ports are made again if a reboot took them away.
                try startStopped(current)
                try runPostStart(service.postStart, container: step.container, project: project.name)
                progress(.resource(.container, step.container, "Started"))
                continue
            case .recreate:
                guard let current else { continue }
                progress(.resource(.container, step.container, "Recreate"))
                try stop(current, timeout: nil)
                try remove(current)
                progress(.resource(.container, step.container, "Recreated"))
            case .create:
                progress(.resource(.container, step.container, "Creating"))
            case .remove:
                continue
            }
            let files = try Self.creating.withLock { _ in
                try create(
                    project: project, environment: context.loaded.environment, service: service, number: step.number,
                    name: step.container, hash: hash, store: context.store, image: image,
                    previousAnonymous: current?.record.anonymousVolumes ?? [:])
            }
            if step.action == .create { progress(.resource(.container, step.container, "Created")) }
            guard context.start else { continue }
            progress(.resource(.container, step.container, "Starting"))
            try self.start(files)
            try runPostStart(service.postStart, container: step.container, project: project.name)
            progress(.resource(.container, step.container, "Started"))
        }
    }

    /// Creations take turns: they pick ports, addresses and volume names from what the
    /// others have not taken yet. Starts, the slow part, run in parallel.
    static let creating = Mutex<Void>(())

    /// The reconciler's view of the project's services: `depends_on` and the implicit
    /// dependencies of links, `service:` namespaces and `volumes_from`.
    public func desiredServices(_ loaded: LoadedProject, images: [String: ImageRecord] = [:]) -> [DesiredService] {
        let project = loaded.project
        return project.serviceNames.compactMap { name in
            guard let service = project.services[name] else { return nil }
            var dependencies = service.dependsOn.sorted { $0.key < $1.key }.map {
                DesiredService.Dependency(
                    service: $0.key, condition: $0.value.condition, restart: $0.value.restart, required: $0.value.required)
            }
            let parents = [service.networkMode, service.ipc, service.pid].compactMap { NamespaceMode($0).service }
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

    /// Containers of services the project no longer has: a warning, or gone with `--remove-orphans`.
    func handleOrphans(_ orphans: [ContainerStatus], remove: Bool) throws {
        guard !orphans.isEmpty else { return }
        if remove {
            try stopReporting(orphans, timeout: nil)
            for c in orphans {
                try self.remove(c)
                progress(.resource(.container, c.record.name, "Removed"))
            }
        } else {
            progress(.warning("Found orphan containers ([\(orphans.map(\.record.name).joined(separator: " "))]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up."))
        }
    }

    /// `depends_on` conditions (the plan's waits): a dependency must be healthy
    /// (`service_healthy`) or have exited with 0 (`service_completed_successfully`) before the
    /// service starts.
    func waitForDependencies(
        _ service: ServiceConfig, after: [DesiredService.Dependency], project: String, cancellation: Cancellation? = nil
    ) throws {
        for condition in after {
            let dep = condition.service
            let kind = condition.condition
            let deadline = time(nil) + 600
            var announced = false
            while true {
                let cs = containers(project: project).filter { $0.record.service == dep }
                if cs.isEmpty {
                    if !condition.required { break }
                    throw EngineError(.dependencyMissing(service: service.name, dependency: dep))
                }
                if kind == .healthy {
                    if cs.allSatisfy({ $0.health == .healthy }) {
                        if announced { for c in cs { progress(.resource(.container, c.record.name, "Healthy")) } }
                        break
                    }
                    if let sick = cs.first(where: { $0.health == .unhealthy || (!$0.running && !$0.restarting) }) {
                        throw EngineError(.dependencyUnhealthy(container: sick.record.name))
                    }
                    if cs.contains(where: { $0.running && $0.health == nil }) {
                        throw EngineError(.noHealthcheck(container: cs[0].record.name))
                    }
                } else {
                    if let failed = cs.first(where: { ($0.exit?.exitCode ?? 0) != 0 }) {
                        throw EngineError(.dependencyFailed(service: dep, exitCode: failed.exit?.exitCode ?? 1))
                    }
                    if cs.allSatisfy({ $0.exit?.exitCode == 0 }) {
                        if announced { for c in cs { progress(.resource(.container, c.record.name, "Exited")) } }
                        break
                    }
                }
                if time(nil) >= deadline { throw EngineError(.timedOut(waitingFor: dep)) }
                if !announced {
                    for c in cs { progress(.resource(.container, c.record.name, "Waiting")) }
                    announced = true
                }
                if cancellation?.isCancelled == true { throw DependencyGraphError.cancelled }
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
            if let bad = cs.first(where: { $0.health == .unhealthy }) {
                throw EngineError(.unhealthy(container: bad.record.name))
            }
            if let dead = cs.first(where: { !$0.running && !$0.restarting && ($0.exit?.exitCode ?? 0) != 0 }) {
                throw EngineError(.exited(container: dead.record.name, exitCode: dead.exit?.exitCode ?? -1))
            }
            if cs.allSatisfy({ ($0.running && ($0.health == nil || $0.health == .healthy)) || $0.exit?.exitCode == 0 }) {
                for c in cs { progress(.resource(.container, c.record.name, "\(c.health == .healthy ? "Healthy" : "Running")")) }
                return
            }
            if let deadline, time(nil) >= deadline { throw EngineError(.timedOut(waitingFor: "the containers to be ready")) }
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
}
