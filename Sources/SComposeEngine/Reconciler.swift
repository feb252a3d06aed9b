// SPDX-License-Identifier: Apache-2.0
import SComposeOS

/// A container as the reconciler sees it: what it was made from and whether it runs.
public struct ObservedContainer: Sendable, Equatable {
    /// Docker's states reduced to what decides an action.
    public enum Phase: String, Sendable {
        /// Running, or waiting to be restarted by its restart policy.
        case running
        /// Created or exited (also when its shim died, or the machine went down): it can be
        /// started again.
        case stopped
    }

    public var name: String
    public var service: String
    public var number: Int
    public var configHash: String
    public var imageID: String
    public var phase: Phase
    /// Made by `run`: never an orphan, never scaled.
    public var oneoff = false

    public init(name: String, service: String, number: Int, configHash: String, imageID: String, phase: Phase, oneoff: Bool = false) {
        self.name = name
        self.service = service
        self.number = number
        self.configHash = configHash
        self.imageID = imageID
        self.phase = phase
        self.oneoff = oneoff
    }
}

/// A service as the compose files want it.
public struct DesiredService: Sendable, Equatable {
    /// One `depends_on` entry, or an implicit dependency (links, `service:` namespaces, `volumes_from`).
    public struct Dependency: Sendable, Equatable {
        public var service: String
        /// `service_started`, `service_healthy` or `service_completed_successfully`.
        public var condition: String
        /// `restart: true`: restarted when the dependency is recreated.
        public var restart: Bool
        public var required: Bool

        public init(service: String, condition: String = "service_started", restart: Bool = false, required: Bool = true) {
            self.service = service
            self.condition = condition
            self.restart = restart
            self.required = required
        }
    }

    public var name: String
    public var configHash: String
    public var imageID: String
    public var replicas: Int
    /// `container_name`, which allows one replica only.
    public var containerName: String?
    public var dependencies: [Dependency]
    /// Services whose namespaces (network, ipc, pid) this one joins: recreating one of them
    /// leaves this one's containers in a namespace that is gone.
    public var namespaceParents: [String]

    public init(
        name: String, configHash: String, imageID: String, replicas: Int = 1, containerName: String? = nil,
        dependencies: [Dependency] = [], namespaceParents: [String] = []
    ) {
        self.name = name
        self.configHash = configHash
        self.imageID = imageID
        self.replicas = replicas
        self.containerName = containerName
        self.dependencies = dependencies
        self.namespaceParents = namespaceParents
    }
}

/// The command line's say in what `up` changes.
public struct ReconcileOptions: Sendable {
    /// Services the user named (all when empty); their dependencies join the plan unless `noDeps`.
    public var targets: [String] = []
    /// For the targets: `--force-recreate`, `--no-recreate`, or only what changed.
    public var recreate: RecreatePolicy = .changed
    /// For the dependencies pulled in: `--always-recreate-deps` makes it `.always`.
    public var recreateDependencies: RecreatePolicy = .changed
    /// False for `create` and `up --no-start`.
    public var start = true
    /// `--no-deps`: the targets only.
    public var noDeps = false
    /// `--remove-orphans`: containers of services no longer in the files go; otherwise a warning.
    public var removeOrphans = false
    /// `--scale SERVICE=N`, over `scale` / `deploy.replicas`.
    public var scale: [String: Int] = [:]
    /// `--pull always|missing|never`, over each service's `pull_policy`.
    public var pull: String?
    /// When to build the images of services with `build:` (`--build`, `--no-build`).
    public var build: BuildPolicy = .missing
    /// How to build them.
    public var buildOptions = BuildOptions()

    public init() {}
}

/// What `up` will do, worked out from the desired project and the observed containers before
/// anything is touched; the engine executes it and nothing else decides.
public struct Plan: Sendable, Equatable {
    /// What happens to one container.
    public enum Action: String, Sendable {
        /// Make a container (and start it, unless the plan does not start).
        case create
        /// Stop and remove the existing container, make a new one with the same number.
        case recreate
        /// Start the stopped container as it is.
        case start
        /// Leave it: it runs and did not change (or the plan does not start).
        case keep
        /// Stop and start it again (a `restart: true` dependency was recreated).
        case restart
        /// Stop and remove it (scaled down).
        case remove
    }

    public struct Step: Sendable, Equatable {
        public var action: Action
        public var container: String
        public var number: Int
        /// Why, for `recreate` and `restart` (shown in the text form).
        public var reason: String?
    }

    /// One service's work, done after the services it depends on are done.
    public struct ServiceWork: Sendable, Equatable {
        public var service: String
        /// Services of this plan that must be done (and meet their conditions) first.
        public var after: [DesiredService.Dependency]
        public var steps: [Step]
    }

    /// Containers of services that are not in the files.
    public var orphans: [String]
    /// Whether the orphans go (else they are warned about).
    public var removeOrphans: Bool
    /// In dependency order.
    public var services: [ServiceWork]
    /// Whether created containers are started.
    public var start: Bool

    /// A stable text form, one line per decision, for tests and `--dry-run`.
    public var text: String {
        var lines: [String] = []
        if !orphans.isEmpty { lines.append("orphans \(removeOrphans ? "remove" : "warn") \(orphans.joined(separator: " "))") }
        for work in services {
            var head = "service \(work.service)"
            if !work.after.isEmpty {
                head += " after " + work.after.map { $0.condition == "service_started" ? $0.service : "\($0.service)(\($0.condition))" }
                    .joined(separator: " ")
            }
            lines.append(head)
            for step in work.steps {
                lines.append("  \(step.action.rawValue) \(step.container)" + (step.reason.map { " (\($0))" } ?? ""))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The reconciler: desired services × observed containers → a plan. Pure: no files, no clocks.
public enum Reconciler {
    /// Plans `up` (or `create` with `options.start == false`) of `desired` in `project`.
    /// `desired` holds every service of the project (for orphans and dependencies); the plan
    /// covers the targets and, unless `noDeps`, what they depend on.
    public static func plan(
        project: String, desired: [DesiredService], observed: [ObservedContainer], options: ReconcileOptions
    ) throws(EngineError) -> Plan {
        let byName = Dictionary(desired.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in options.targets + options.scale.keys.sorted() where byName[name] == nil {
            throw EngineError("no such service: \(name)")
        }
        let order = try dependencyOrder(desired, targets: options.targets.isEmpty ? desired.map(\.name) : options.targets, noDeps: options.noDeps)
        let inPlan = Set(order)
        let targets = Set(options.targets.isEmpty ? desired.map(\.name) : options.targets)
        let orphans = observed.filter { byName[$0.service] == nil && !$0.oneoff }.map(\.name).sorted()

        var services: [Plan.ServiceWork] = []
        // Services of this plan whose containers are replaced (for `restart: true` dependants
        // and namespace children).
        var replaced: Set<String> = []
        for name in order {
            guard let service = byName[name] else { continue }
            let policy = targets.contains(name) ? options.recreate : options.recreateDependencies
            let replicas = options.scale[name] ?? service.replicas
            if service.containerName != nil && replicas > 1 {
                throw EngineError(
                    "services.\(name): can't set container_name and \(name) as container name must be unique: invalid compose project")
            }
            let existing = observed.filter { $0.service == name && !$0.oneoff }.sorted { $0.number < $1.number }
            var steps: [Plan.Step] = []
            // Scaling down: the highest numbers go, as Compose does.
            let kept = Array(existing.prefix(max(0, replicas)))
            for c in existing.dropFirst(max(0, replicas)).reversed() {
                steps.append(Plan.Step(action: .remove, container: c.name, number: c.number, reason: "scale down"))
            }
            let parentReplaced = service.namespaceParents.first { replaced.contains($0) }
            let restartFor = service.dependencies.first { $0.restart && replaced.contains($0.service) }
            for c in kept {
                var reason: String?
                if let parent = parentReplaced {
                    reason = "namespace of \(parent) recreated"
                } else {
                    switch policy {
                    case .always: reason = "forced"
                    case .never: reason = nil
                    case .changed:
                        if c.configHash != service.configHash {
                            reason = "config changed"
                        } else if c.imageID != service.imageID {
                            reason = "image changed"
                        }
                    }
                }
                if let reason {
                    steps.append(Plan.Step(action: .recreate, container: c.name, number: c.number, reason: reason))
                } else if c.phase == .stopped && options.start {
                    steps.append(Plan.Step(action: .start, container: c.name, number: c.number))
                } else if c.phase == .running, let dep = restartFor, options.start {
                    steps.append(Plan.Step(action: .restart, container: c.name, number: c.number, reason: "\(dep.service) recreated"))
                } else {
                    steps.append(Plan.Step(action: .keep, container: c.name, number: c.number))
                }
            }
            // New replicas take the numbers after the highest in use, as Compose does.
            var next = (existing.map(\.number).max() ?? 0) + 1
            for _ in kept.count..<max(kept.count, replicas) {
                let containerName = service.containerName ?? "\(project)-\(name)-\(next)"
                steps.append(Plan.Step(action: .create, container: containerName, number: next))
                next += 1
            }
            if steps.contains(where: { $0.action == .recreate }) { replaced.insert(name) }
            let after = service.dependencies.filter { inPlan.contains($0.service) }
            services.append(Plan.ServiceWork(service: name, after: after, steps: steps))
        }
        return Plan(orphans: orphans, removeOrphans: options.removeOrphans, services: services, start: options.start)
    }

    /// The targets and (unless `noDeps`) everything they depend on, dependencies first,
    /// depth-first from the targets in order of names (each service's dependencies too). A
    /// cycle is an error naming it; dependencies on services not in `desired` (optional ones
    /// of a disabled profile) are no edges.
    public static func dependencyOrder(_ desired: [DesiredService], targets: [String], noDeps: Bool) throws(EngineError) -> [String] {
        let known = Set(desired.map(\.name))
        let sorted = targets.sorted()
        if let unknown = sorted.first(where: { !known.contains($0) }) { throw EngineError("no such service: \(unknown)") }
        let graph = DependencyGraph(desired.map { ($0.name, $0.dependencies.map(\.service).filter(known.contains).sorted()) })
        do throws(DependencyGraphError) {
            return try graph.subgraph(sorted, withDependencies: !noDeps).order(.up)
        } catch {
            throw EngineError(error.description)
        }
    }
}
