// SPDX-License-Identifier: Apache-2.0
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

// Containers of no project (`container run`, `container create`): one service of no name,
// made by the same create path as a project's, so that supervision, restart policies,
// health, logs, ports, mounts and networks behave the same.
extension Engine {
    /// The project name of containers made without a compose file: no project has it (a
    /// project name is never empty), so they are never taken for a project's.
    public static let noProject = ""

    /// Every container on this host, a project's or not.
    public func allContainers() -> [ContainerStatus] { containers(project: nil) }

    /// The container a reference (name, ID or unique ID prefix) names.
    public func container(reference: String) throws -> ContainerStatus {
        try ContainerNames.resolve(reference, in: allContainers())
    }

    /// `container create`: the container of these flags, created and not started. `attach`
    /// makes its start wait for an attached client (a foreground `run`). `workingDirectory`
    /// is the caller's (recorded as Docker records none: for the project-less model only).
    public func createContainer(
        _ flags: ContainerRunFlags, environment: [String: String], workingDirectory: String, attach: Bool = false
    ) throws -> ContainerStatus {
        var definition = try ContainerFlags.definition(flags, environment: environment)
        let store = try ImageStore(root: root)
        let image = try standaloneImage(definition.service, policy: PullPolicy(flags.pull ?? "missing"), store: store)
        if flags.publishAll {
            // `-P`: each port the image exposes, on a free port of the host.
            let exposed = try store.config(image).config?.ExposedPorts ?? [:]
            for key in exposed.keys.sorted() {
                let parts = key.split(separator: "/").map(String.init)
                guard let port = parts.first.flatMap({ Int($0) }) else { continue }
                if definition.service.ports.contains(where: { $0.target == port }) { continue }
                definition.service.ports.append(PortConfig(target: port, proto: parts.count > 1 ? parts[1] : "tcp"))
            }
        }
        var project = ComposeProject(name: Self.noProject, workingDirectory: workingDirectory, volumes: definition.volumes)
        // Named and created in one hold of the lock: two `run --name web` at once make one.
        let lock = try lockProject(".containers")
        defer { _ = lock }
        let all = allContainers()
        let name: String
        if let given = flags.name {
            name = given.hasPrefix("/") ? String(given.dropFirst()) : given
            if let other = all.first(where: { $0.record.name == name }) {
                throw EngineError(.nameTaken(name: name, id: other.record.id))
            }
        } else {
            name = ContainerNames.random(taken: Set(all.map(\.record.name)))
        }
        if let network = definition.network {
            project.networks[network] = try standaloneNetwork(network)
        }
        try mkdirs(containersDir)
        var oneoff = OneOff(slug: "")
        oneoff.attach = attach
        // Its aliases are answered for (there is no service name).
        oneoff.useAliases = true
        let service = definition.service
        let files = try Self.creating.withLock { _ in
            try create(
                project: project, environment: environment, service: service, number: 1, name: name, hash: "", store: store,
                image: image, oneoff: oneoff)
        }
        guard let id = files.dir.split(separator: "/").last.map(String.init), let c = containers(project: Self.noProject).first(where: { $0.record.id == id })
        else { throw EngineError(.noSuchContainer(name)) }
        if flags.autoRemove && flags.detach, let cliPath {
            // No daemon to remove it when it ends: its shim asks scompose to, as its last act.
            var spec = StateFile.read(ShimSpec.self, from: files.spec)
            spec?.onExit = [cliPath, "container", "rm", "-v", id]
            spec?.onExitEnvironment = ["SCOMPOSE_ROOT=" + root]
            if let spec { try StateFile.write(spec, to: files.spec) }
        }
        return c
    }

    /// `container start` of one created by `createContainer(attach: true)`: its shim starts
    /// and the returned socket is attached to it from before its first output.
    public func startAttached(_ c: ContainerStatus, stdin: Bool) throws -> Int32? {
        let files = files(c.record.id)
        // One made detached (`create`, then `start -a`) waits for its client from now on too.
        if var spec = StateFile.read(ShimSpec.self, from: files.spec), spec.waitForAttach != true {
            spec.waitForAttach = true
            try StateFile.write(spec, to: files.spec)
        }
        return try startStopped(c, attachStdin: stdin)
    }

    /// The image a container of no project runs, pulled as `--pull` says.
    func standaloneImage(_ service: ServiceConfig, policy: PullPolicy, store: ImageStore) throws -> ImageRecord {
        let name = service.image ?? ""
        let platform = service.platform.flatMap(Platform.init(parsing:))
        let present = try store.find(name, platform: platform)
        if let present, policy != .always { return present }
        if policy == .never || pullImage == nil {
            guard let present else { throw EngineError(.noSuchImage(Self.withTag(name))) }
            return present
        }
        if present == nil { progress(.output("Unable to find image '\(Self.withTag(name))' locally")) }
        guard let pullImage else { throw EngineError(.noSuchImage(Self.withTag(name))) }
        _ = try pullImage(name, service.platform)
        PullDates(root: root).record(name)
        guard let image = try store.find(name, platform: platform) else { throw EngineError(.noSuchImage(Self.withTag(name))) }
        return image
    }

    /// `busybox` as Docker names it in messages: `busybox:latest`.
    static func withTag(_ name: String) -> String {
        let last = name.split(separator: "/").last ?? ""
        return last.contains(":") || name.contains("@") ? name : name + ":latest"
    }

    /// The network a container of no project joins: Docker's default `bridge` (made on first
    /// use), or one that exists (`network create`, or a project's such as `myproj_default`).
    func standaloneNetwork(_ name: String) throws -> NetworkConfig {
        var config = NetworkConfig(name: name)
        config.external = true
        if name == ContainerFlags.defaultNetwork {
            try ensureDefaultBridge()
            return config
        }
        guard let record = networkStore.get(name) ?? networkStore.list().first(where: { $0.id.hasPrefix(name) }) else {
            throw EngineError(.noSuchNetwork(name))
        }
        try realize(record)
        config.name = record.name
        return config
    }

    /// Docker's default network: a bridge of its own subnet without name resolution, made
    /// the first time a container asks for it.
    public func ensureDefaultBridge() throws {
        let name = ContainerFlags.defaultNetwork
        if let existing = networkStore.get(name) {
            try realize(existing)
            return
        }
        let request = NetworkRequest(
            name: name, id: Digest.random().hex, options: [NetworkRecord.defaultBridgeOption: "true"])
        let record: NetworkRecord
        do {
            record = try networkBackend.define(request) {}
        } catch {
            throw Self.reported(error)
        }
        try realize(record)
    }

    /// `network create`: a user-defined bridge network, where containers find each other by
    /// name. Returns its ID.
    public func createNetwork(
        _ name: String, labels: [String: String], options: [String: String], pools: [AddressPool], isInternal: Bool, ipv6: Bool
    ) throws -> String {
        if networkStore.get(name) != nil { throw EngineError(.networkExists(name)) }
        guard ContainerFlags.isValidName(name) || name.count == 1 else { throw EngineError(.invalidValue(what: "network name", value: name)) }
        let request = NetworkRequest(
            name: name, id: Digest.random().hex, pools: pools, enableIPv6: ipv6, isInternal: isInternal, labels: labels, options: options)
        let record: NetworkRecord
        do {
            record = try networkBackend.define(request) {}
        } catch {
            throw Self.reported(error)
        }
        try realize(record)
        return record.id
    }

    /// `container rename`: its record and the names its networks' DNS answers for it.
    public func renameContainer(_ c: ContainerStatus, to newName: String) throws {
        let name = newName.hasPrefix("/") ? String(newName.dropFirst()) : newName
        guard ContainerFlags.isValidName(name) else { throw EngineError(.invalidContainerName(newName)) }
        let lock = try lockProject(".containers")
        defer { _ = lock }
        if let other = allContainers().first(where: { $0.record.name == name }) {
            throw EngineError(.nameTaken(name: name, id: other.record.id))
        }
        var record = c.record
        record.name = name
        try StateFile.write(record, to: files(c.record.id).dir + "/container.json")
        let store = networkStore
        try store.locked {
            for network in store.list() {
                for var e in store.endpoints(network.name) where e.containerID == c.record.id {
                    e.names = Array(Set(e.names.filter { $0 != c.record.name } + [name])).sorted()
                    e.containerName = name
                    try store.saveEndpoint(network.name, e)
                }
            }
        }
        events(record).record("rename", id: record.id, extra: ["oldName": "/" + c.record.name])
    }
}
