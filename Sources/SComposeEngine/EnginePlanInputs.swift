// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOCI
import SComposeSpec

// What `up` observes before it plans (images, volumes), and the image steps carried out
// before containers are planned.
extension Engine {
    /// The services `up` covers: the targets and, unless `--no-deps`, their dependencies,
    /// dependencies first.
    func planServices(_ loaded: LoadedProject, options: ReconcileOptions) throws -> [String] {
        let targets = options.targets.isEmpty ? loaded.project.serviceNames : options.targets
        return try Reconciler.dependencyOrder(desiredServices(loaded, images: [:]), targets: targets, noDeps: options.noDeps)
    }

    /// Each service's image as the store has it (each name looked up once: every lookup reads
    /// the index). A service's `platform:` picks that platform's image of a name.
    func imageNeeds(
        _ loaded: LoadedProject, services: [String], options: ReconcileOptions, lookup: inout ImageLookup
    ) throws -> [ImageNeed] {
        let project = loaded.project
        var needs: [ImageNeed] = []
        for name in services {
            guard let service = project.services[name] else { continue }
            if service.build != nil {
                let image = Self.imageName(project: project.name, service: service)
                needs.append(
                    ImageNeed(service: name, image: image, builds: true, present: try lookup.find(image) != nil, policy: PullPolicy(service.pullPolicy)))
                continue
            }
            guard let image = service.image else { continue }
            let policy = options.pull ?? PullPolicy(service.pullPolicy)
            let present = try lookup.find(image, service.platform) != nil
            let age = PullDates(root: root).age(image, present: present, policy: policy)
            needs.append(ImageNeed(service: name, image: image, platform: service.platform, present: present, age: age, policy: policy))
        }
        return needs
    }

    /// Pulls (in parallel, each image once) and builds what the plan says.
    func fetchImages(_ steps: [Plan.ImageStep], loaded: LoadedProject, options: ReconcileOptions, store: ImageStore) throws {
        let pulls: [(image: String, platform: String?, services: [String])] = steps.compactMap {
            if case .pull(let image, let platform, let services) = $0 { return (image, platform, services) }
            return nil
        }
        if !pulls.isEmpty {
            guard let pullImage else { throw EngineError(.noSuchImage(pulls[0].image)) }
            for job in pulls { for name in job.services { progress(.image(service: name, text: "Pulling")) } }
            try Parallel.forEach(pulls, limit: 4) { job in
                _ = try pullImage(job.image, job.platform)
                PullDates(root: self.root).record(job.image)
                for name in job.services { self.progress(.image(service: name, text: "Pulled")) }
            }
        }
        for case .build(let name) in steps {
            guard let service = loaded.project.services[name] else { continue }
            _ = try buildService(loaded, service: service, options: options.buildOptions, store: store)
        }
    }

    /// The services' images, now in the store; a missing one is an error (or, for a dry run,
    /// left out: its containers are planned as new).
    func resolvedImages(
        _ loaded: LoadedProject, services: [String], lookup: inout ImageLookup, missingIsError: Bool
    ) throws -> [String: ImageRecord] {
        let project = loaded.project
        var images: [String: ImageRecord] = [:]
        for name in services {
            guard let service = project.services[name] else { continue }
            guard service.image != nil || service.build != nil else {
                throw EngineError(.invalidProject("service \"\(name)\" has neither an image nor build context specified"))
            }
            let imageName = Self.imageName(project: project.name, service: service)
            if let image = try lookup.find(imageName, service.build == nil ? service.platform : nil) {
                images[name] = image
            } else if missingIsError {
                throw EngineError(.noSuchImage(imageName))
            }
        }
        return images
    }

    /// The project volumes the services mount, and whether each is there.
    func volumeNeeds(_ project: ComposeProject, services: [String]) -> [VolumeNeed] {
        var keys = Set<String>()
        for name in services {
            for mount in project.services[name]?.volumes ?? [] where mount.type == .volume {
                if let source = mount.source, project.volumes[source] != nil { keys.insert(source) }
            }
        }
        let store = volumes
        return keys.sorted().compactMap { key in
            guard let config = project.volumes[key] else { return nil }
            return VolumeNeed(key: key, name: config.name, external: config.external, exists: store.exists(config.name))
        }
    }
}

/// Image lookups of one command, each name and platform read from the index once.
struct ImageLookup {
    let store: ImageStore
    var found: [String: ImageRecord?] = [:]

    init(store: ImageStore) { self.store = store }

    mutating func find(_ image: String, _ platform: String? = nil) throws -> ImageRecord? {
        let key = image + "|" + (platform ?? "")
        if let hit = found[key] { return hit }
        let hit = try store.find(image, platform: platform.flatMap(Platform.init(parsing:)))
        found[key] = hit
        return hit
    }
}
