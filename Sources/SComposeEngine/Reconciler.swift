// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeSpec

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
        public var condition: SComposeSpec.Dependency.Condition
        /// `restart: true`: restarted when the dependency is recreated.
        public var restart: Bool
        public var required: Bool

        public init(
            service: String, condition: SComposeSpec.Dependency.Condition = .started, restart: Bool = false, required: Bool = true
        ) {
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
    public var pull: PullPolicy?
    /// When to build the images of services with `build:` (`--build`, `--no-build`).
    public var build: BuildPolicy = .missing
    /// How to build them.
    public var buildOptions = BuildOptions()

    public init() {}
}

/// A network that services of the plan attach to: as the files define it, and as it is.
public struct NetworkNeed: Sendable, Equatable {
    public var name: String
    public var external: Bool
    /// The digest of its definition now.
    public var hash: String
    public var exists: Bool
    /// The digest it was made with (its `config-hash` label), when it exists and has one.
    public var existingHash: String?
    /// The project's containers attached to it.
    public var attached: [String]
    /// A container of another project attached to it (`name of project p`), if any.
    public var foreignUser: String?

    public init(
        name: String, external: Bool = false, hash: String, exists: Bool, existingHash: String? = nil, attached: [String] = [],
        foreignUser: String? = nil
    ) {
        self.name = name
        self.external = external
        self.hash = hash
        self.exists = exists
        self.existingHash = existingHash
        self.attached = attached
        self.foreignUser = foreignUser
    }
}

/// A project volume that services of the plan mount, and whether it is there.
public struct VolumeNeed: Sendable, Equatable {
    /// Its key in the files' `volumes:`.
    public var key: String
    public var name: String
    public var external: Bool
    public var exists: Bool

    public init(key: String, name: String, external: Bool = false, exists: Bool) {
        self.key = key
        self.name = name
        self.external = external
        self.exists = exists
    }
}

/// A service's image, and what the store knows of it.
public struct ImageNeed: Sendable, Equatable {
    public var service: String
    /// The reference pulled, or the name the build gives.
    public var image: String
    public var platform: String?
    /// The service has `build:`: built, never pulled.
    public var builds: Bool
    public var present: Bool
    /// Seconds since the image was last pulled, when known.
    public var age: Int64?
    public var policy: PullPolicy

    public init(service: String, image: String, platform: String? = nil, builds: Bool = false, present: Bool, age: Int64? = nil, policy: PullPolicy = .missing) {
        self.service = service
        self.image = image
        self.platform = platform
        self.builds = builds
        self.present = present
        self.age = age
        self.policy = policy
    }
}

/// What `up` will do, worked out from the desired project and the observed containers,
/// networks, volumes and images before anything is touched; the engine executes it in order
/// (images, networks, volumes, orphans, then each service: its waits, then its containers)
/// and nothing else decides.
public struct Plan: Sendable, Equatable {
    /// An image fetched before anything else.
    public enum ImageStep: Sendable, Equatable {
        /// Pulled once for all the services that use it.
        case pull(image: String, platform: String?, services: [String])
        case build(service: String)
    }

    /// What happens to a network.
    public enum NetworkStep: Sendable, Equatable {
        case create(name: String)
        /// Its definition changed: its containers of the project go, it is removed and made
        /// again, and their services make new ones.
        case recreate(name: String, reason: String, containers: [String])
    }

    /// A project volume made before the containers that mount it.
    public enum VolumeStep: Sendable, Equatable {
        case create(key: String, name: String)
    }

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
        /// The conditions waited for before the steps (healthy, completed): only when the
        /// steps start something.
        public var waits: [DesiredService.Dependency] = []
        public var steps: [Step]
    }

    public var images: [ImageStep] = []
    public var networks: [NetworkStep] = []
    public var volumes: [VolumeStep] = []

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
        for step in images {
            switch step {
            case .pull(let image, let platform, let services):
                lines.append("image pull \(image)" + (platform.map { " (\($0))" } ?? "") + " for " + services.joined(separator: " "))
            case .build(let service): lines.append("image build \(service)")
            }
        }
        for step in networks {
            switch step {
            case .create(let name): lines.append("network create \(name)")
            case .recreate(let name, let reason, _): lines.append("network recreate \(name) (\(reason))")
            }
        }
        for case .create(_, let name) in volumes { lines.append("volume create \(name)") }
        if !orphans.isEmpty { lines.append("orphans \(removeOrphans ? "remove" : "warn") \(orphans.joined(separator: " "))") }
        for work in services {
            var head = "service \(work.service)"
            if !work.after.isEmpty {
                head += " after " + work.after.map { $0.condition == .started ? $0.service : "\($0.service)(\($0.condition.rawValue))" }
                    .joined(separator: " ")
            }
            lines.append(head)
            for wait in work.waits { lines.append("  wait \(wait.service) \(wait.condition.rawValue)") }
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
        project: String, desired: [DesiredService], observed: [ObservedContainer], options: ReconcileOptions,
        networks: [NetworkNeed] = [], volumes: [VolumeNeed] = [], images: [Plan.ImageStep] = []
    ) throws(EngineError) -> Plan {
        let networkSteps = try networkSteps(networks)
        // Containers on a network made again go with it: their services start afresh.
        var gone = Set<String>()
        for case .recreate(_, _, let containers) in networkSteps { gone.formUnion(containers) }
        let observed = observed.filter { !gone.contains($0.name) }
        let byName = Dictionary(desired.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in options.targets + options.scale.keys.sorted() where byName[name] == nil {
            throw EngineError(.noSuchService(name))
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
                    .invalidProject("services.\(name): can't set container_name and \(name) as container name must be unique"))
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
            // A dependency's condition matters to what this service starts, not to what it keeps.
            let starts = options.start && !steps.allSatisfy { $0.action == .keep || $0.action == .remove }
            let waits = starts ? after.filter { $0.condition != .started } : []
            services.append(Plan.ServiceWork(service: name, after: after, waits: waits, steps: steps))
        }
        var plan = Plan(orphans: orphans, removeOrphans: options.removeOrphans, services: services, start: options.start)
        plan.images = images
        plan.networks = networkSteps
        plan.volumes = volumes.filter { !$0.external && !$0.exists }.map { .create(key: $0.key, name: $0.name) }
        return plan
    }

    /// Networks to make, and those whose definition changed since they were made (as
    /// Compose: external ones are never touched, and one without a recorded digest is kept).
    static func networkSteps(_ needs: [NetworkNeed]) throws(EngineError) -> [Plan.NetworkStep] {
        var steps: [Plan.NetworkStep] = []
        for need in needs where !need.external {
            if !need.exists {
                steps.append(.create(name: need.name))
            } else if let old = need.existingHash, old != need.hash {
                if let foreign = need.foreignUser {
                    throw EngineError(.networkInUse(network: need.name, by: foreign))
                }
                steps.append(.recreate(name: need.name, reason: "config changed", containers: need.attached))
            }
        }
        return steps
    }

    /// The images to pull or build before planning containers: services that build are built
    /// when the image is missing, with `--build`, or always with `pull_policy: build`; the
    /// others are pulled as their policy (or `--pull`) says, each image once.
    public static func imageSteps(_ needs: [ImageNeed], build: BuildPolicy) -> [Plan.ImageStep] {
        var steps: [Plan.ImageStep] = []
        // Where each image's pull is, so that services sharing an image share one pull.
        var pullIndex: [String: Int] = [:]
        for need in needs {
            if need.builds {
                switch build {
                case .always: steps.append(.build(service: need.service))
                case .never: break
                case .missing: if !need.present || need.policy == .build { steps.append(.build(service: need.service)) }
                }
                continue
            }
            guard need.policy.wantsPull(present: need.present, age: need.age) else { continue }
            if let i = pullIndex[need.image], case .pull(let image, let platform, let services) = steps[i] {
                steps[i] = .pull(image: image, platform: platform, services: services + [need.service])
            } else {
                pullIndex[need.image] = steps.count
                steps.append(.pull(image: need.image, platform: need.platform, services: [need.service]))
            }
        }
        return steps
    }

    /// The targets and (unless `noDeps`) everything they depend on, dependencies first,
    /// depth-first from the targets in order of names (each service's dependencies too). A
    /// cycle is an error naming it; dependencies on services not in `desired` (optional ones
    /// of a disabled profile) are no edges.
    public static func dependencyOrder(_ desired: [DesiredService], targets: [String], noDeps: Bool) throws(EngineError) -> [String] {
        let known = Set(desired.map(\.name))
        let sorted = targets.sorted()
        if let unknown = sorted.first(where: { !known.contains($0) }) { throw EngineError(.noSuchService(unknown)) }
        let graph = DependencyGraph(desired.map { ($0.name, $0.dependencies.map(\.service).filter(known.contains).sorted()) })
        do throws(DependencyGraphError) {
            return try graph.subgraph(sorted, withDependencies: !noDeps).order(.up)
        } catch {
            throw EngineError(passing: error)
        }
    }
}
