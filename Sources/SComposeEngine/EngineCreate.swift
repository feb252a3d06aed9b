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

// `create`: resolve what takes I/O, build the spec (pure), write it under a staging name.
extension Engine {
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
        let rootless = Rootless.ofProcess != nil
        let appArmor: String?
        do {
            // Rootless, as Docker's rootless mode: no profile (loading one takes the host's root).
            appArmor =
                rootless ? nil : try AppArmor.profile(requested: Security.appArmorRequest(service), privileged: service.privileged)
        } catch {
            throw EngineError(passing: error)
        }
        let devices = try Self.hostDevices(service.devices)
        let network = try networkPlan(
            project: project, service: service, containerID: id, containerName: name,
            hostname: ContainerSpecBuilder.hostname(service, id: id), number: number, serviceAliases: oneoff?.useAliases ?? true)
        defer { if !created { releaseNetwork(id) } }
        var resolution = ContainerResolution(
            id: id, files: files, imageName: imageName, imageID: image.id.description, layers: layers, defaults: defaults,
            storage: storage, network: network, appArmorProfile: appArmor,
            cgroups: CgroupPlacement.host, rootlessGroups: rootless ? Rootless.mappedGroups() : nil, created: Clock.rfc3339Now(),
            events: events(project: project.name, service: service.name, name: name, image: imageName))
        (resolution.uid, resolution.gid, resolution.additionalGids) = users
        resolution.devices = devices
        if service.network == .host {
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
                throw EngineError(.failed(operation: "publish the ports of \(name)"), cause: error)
            }
        }
        try StateFile.write(blueprint.spec, to: staged(files.spec))
        try StateFile.write(blueprint.record, to: staged(files.dir + "/container.json"))
        unlink(stage + "/creator")
        guard rename(stage, files.dir) == 0 else {
            throw EngineError(.failed(operation: "create container \(name)"), errno: errno)
        }
        created = true
        blueprint.spec.events?.record("create", id: id)
        return files
    }
}

extension Engine {
    /// `devices:` as the host's nodes are now: each source must be a character or block device,
    /// each path in the container below `/dev` (where the container's own tmpfs is; nothing of
    /// the image is followed to reach it).
    static func hostDevices(_ mappings: [DeviceMapping]) throws -> [ContainerConfig.Device] {
        try mappings.map { m in
            let target = m.target.isEmpty ? m.source : m.target
            let parts = target.split(separator: "/")
            guard target.hasPrefix("/dev/"), parts.count >= 2, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
                throw EngineError(.unusableDevice(path: target, why: "the path in the container must be below /dev"))
            }
            guard let node = HostDevices.node(m.source) else {
                throw EngineError(.unusableDevice(path: m.source, why: errno == 0 ? "not a device node" : String(cString: strerror(errno)).lowercased()))
            }
            let permissions = m.permissions.isEmpty ? "rwm" : m.permissions
            guard permissions.allSatisfy({ "rwm".contains($0) }) else {
                throw EngineError(.unusableDevice(path: m.source, why: "invalid permissions \(permissions)"))
            }
            return ContainerConfig.Device(
                source: m.source, path: target, type: node.mode & UInt32(S_IFMT) == UInt32(S_IFBLK) ? "b" : "c", major: node.major,
                minor: node.minor, mode: node.mode & 0o7777, permissions: permissions)
        }
    }
}
