// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// How a one-off container of `run` differs from a service's containers.
public struct OneOff: Sendable {
    /// Random hex, in the name (`<project>-<service>-run-<first 12>`) and the `slug` label.
    public var slug: String
    /// `--use-aliases`: the service's name and aliases resolve to it too.
    public var useAliases = false
    /// Attached from its start (not with `-d`).
    public var attach = true

    public init(slug: String) { self.slug = slug }
}

/// The flags of `run` that change the service's configuration for the one-off container.
public struct RunOptions: Sendable {
    public var command: [String]?
    public var entrypoint: [String]?
    /// `-e KEY=VALUE`, or `-e KEY` for the caller's value.
    public var environment: [String] = []
    public var labels: [String] = []
    public var user: String?
    public var workingDir: String?
    public var name: String?
    public var tty = false
    /// `-i` (Compose's default): the container's standard input is kept open and fed.
    public var interactive = true
    public var detach = false
    public var noDeps = false
    public var useAliases = false
    /// `--pull always|missing|never`, over the service's `pull_policy`.
    public var pull: PullPolicy?
    /// `--build`: build the image first (services with `build:`).
    public var build = false

    public init() {}
}

extension Engine {
    /// `run`: starts what `service` depends on (unless `noDeps`), then creates and starts a
    /// one-off container of it. Returns the container and, unless detached, a socket attached
    /// to it from before its first output (`ShimClient.start`).
    public func runOneOff(
        _ loaded: LoadedProject, service name: String, options: RunOptions, environment: [String: String],
        parallel: Int? = nil
    ) throws -> (ContainerStatus, Int32?) {
        let project = loaded.project
        guard var service = project.services[name] else { throw EngineError(.noSuchService(name)) }
        let desired = desiredServices(loaded, images: [:])
        let dependencies = (options.noDeps ? [] : try Reconciler.dependencyOrder(desired, targets: [name], noDeps: false))
            .filter { $0 != name }
        if !dependencies.isEmpty {
            var up = ReconcileOptions()
            up.targets = dependencies
            try self.up(loaded, options: up, parallel: parallel)
            let after = desired.first { $0.name == name }?.dependencies ?? []
            let waits = after.filter { dependencies.contains($0.service) && $0.condition != .started }
            try waitForDependencies(service, after: waits, project: project.name)
        }
        if let command = options.command { service.command = command }
        if let entrypoint = options.entrypoint {
            service.entrypoint = entrypoint
            if options.command == nil { service.command = [] }
        }
        for item in options.environment {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard let key = parts.first, !key.isEmpty else { throw EngineError(.invalidValue(what: "environment variable", value: item)) }
            service.environment[key] = parts.count == 2 ? parts[1] : environment[key]
        }
        for item in options.labels {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard let key = parts.first, !key.isEmpty else { throw EngineError(.invalidValue(what: "label", value: item)) }
            service.labels[key] = parts.count == 2 ? parts[1] : ""
        }
        if let user = options.user { service.user = user }
        if let dir = options.workingDir { service.workingDir = dir }
        service.tty = options.tty
        service.stdinOpen = options.interactive
        // A one-off runs once: no restart policy, and a name of its own.
        service.restart = "no"
        service.deploy?.restartCondition = nil
        service.containerName = nil
        let slug = Digest.random().hex
        let containerName = options.name ?? "\(project.name)-\(name)-run-\(slug.prefix(12))"
        var oneoff = OneOff(slug: slug)
        oneoff.useAliases = options.useAliases
        oneoff.attach = !options.detach

        let lock = try lockProject(project.name)
        let store = try ImageStore(root: root)
        let policy = options.pull ?? PullPolicy(service.pullPolicy)
        let imageName = Self.imageName(project: project.name, service: service)
        let platform = service.build == nil ? service.platform.flatMap(Platform.init(parsing:)) : nil
        if service.build != nil {
            if try options.build || policy == .build || store.find(imageName) == nil {
                _ = try buildService(loaded, service: service, options: BuildOptions(), store: store)
            }
        } else if let pullImage {
            let present = try store.find(imageName, platform: platform) != nil
            let age = PullDates(root: root).age(imageName, present: present, policy: policy)
            if policy.wantsPull(present: present, age: age) {
                progress(.image(service: name, text: "Pulling"))
                _ = try pullImage(imageName, service.platform)
                PullDates(root: root).record(imageName)
                progress(.image(service: name, text: "Pulled"))
            }
        }
        guard let image = try store.find(imageName, platform: platform) else {
            throw EngineError(.noSuchImage(imageName))
        }
        if containers(project: nil).contains(where: { $0.record.name == containerName }) {
            throw EngineError(.nameInUse(containerName))
        }
        try mkdirs(containersDir)
        try ensureNetworks(project, services: [name], rendered: loaded.rendered)
        let files = try Self.creating.withLock { _ in
            try create(
                project: project, environment: loaded.environment, service: service, number: 1, name: containerName,
                hash: "", store: store, image: image, oneoff: oneoff)
        }
        _ = lock
        let socket: Int32?
        do {
            socket = try start(files, attachStdin: options.detach ? nil : options.interactive)
        } catch {
            if let c = containers(project: project.name).first(where: { $0.record.name == containerName }) { try? remove(c) }
            throw error
        }
        guard let c = containers(project: project.name).first(where: { $0.record.name == containerName }) else {
            throw EngineError(.noSuchContainer(containerName))
        }
        try runPostStart(service.postStart, container: containerName, project: project.name)
        return (c, socket)
    }

    /// A container's record and state by name, now.
    public func container(named name: String, project: String) -> ContainerStatus? {
        containers(project: project).first { $0.record.name == name }
    }
}
