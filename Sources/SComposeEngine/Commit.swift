// SPDX-License-Identifier: Apache-2.0
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    /// `commit`: a new image of the container's image plus one layer of what the container
    /// changed (its overlay's upper directory, without the mount points the runtime made),
    /// named `reference` when given. The container is frozen meanwhile with `pause`.
    public func commit(
        _ c: ContainerStatus, reference: ImageReference?, author: String?, changes: [String], message: String?, pause: Bool
    ) throws -> ImageRecord {
        let store = try ImageStore(root: root)
        guard let base = try store.find(c.record.imageID) else {
            throw EngineError(.noSuchImage("\(c.record.image) (\(c.record.imageID))"))
        }
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            throw EngineError(.failed(operation: "read the spec of \(c.record.name)"))
        }
        var config = try store.config(base)
        var defaults = config.config ?? ImageConfig.ContainerDefaults()
        do {
            try ImageChanges(changes).apply(to: &defaults)
        } catch {
            throw EngineError(passing: error)
        }
        let frozen = pause && c.running && !c.paused ? cgroup(of: c.record.id) : nil
        try? frozen?.setFrozen(true)
        defer { try? frozen?.setFrozen(false) }
        let layer: LayerWriter.Result
        do {
            layer = try LayerWriter().write(
                directory: files.upper, into: store.content,
                skip: Self.mountPoints(spec.container, upper: files.upper, lowers: spec.container.layers))
        } catch {
            throw EngineError(.failed(operation: "commit \(c.record.name)"), cause: error)
        }
        try? frozen?.setFrozen(false)
        let created = Clock.rfc3339Now()
        config.config = defaults
        config.created = created
        if let author { config.author = author }
        config.rootfs.diff_ids.append(layer.digest)
        var entry = ImageConfig.History(created: created, createdBy: c.record.command.joined(separator: " "), comment: message)
        entry.author = author
        config.history = (config.history ?? []) + [entry]
        guard let chainID = Digest.chainIDs(config.rootfs.diff_ids).last else { throw EngineError(.invalidValue(what: "image", value: "it has no layers")) }
        let snapshot = try store.ensureSnapshot(layer: layer.digest, chainID: chainID)
        // The base's kind of manifest: a Docker one stays Docker (registries and tools that
        // read one kind alone keep working), others become OCI.
        let baseManifest = try store.manifest(base)
        let docker = baseManifest.mediaType == MediaType.dockerManifest
        let configBytes = try ImageStore.encode(config)
        let configDigest = try store.content.ingest(configBytes)
        let manifest = Manifest(
            mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
            config: Descriptor(mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: baseManifest.layers + [Descriptor(mediaType: docker ? MediaType.dockerLayer : MediaType.ociLayer, digest: layer.digest, size: layer.size)])
        let manifestDigest = try store.content.ingest(try ImageStore.encode(manifest))
        let record = try store.add(
            manifest: manifestDigest, config: configDigest, created: created, size: base.size + snapshot.size, reference: reference)
        events(c.record).record("commit", id: c.record.id)
        return record
    }

    /// `export`: the container's file system (its image and what it changed, not its volumes
    /// or other mounts) as a tar written to `fd`.
    public func export(_ c: ContainerStatus, to fd: Int32) throws {
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            throw EngineError(.failed(operation: "read the spec of \(c.record.name)"))
        }
        // The layers with the upper directory on top, read-only.
        let dirFD = try openDetached(Overlay(layers: spec.container.layers + [files.upper]), flags: O_RDONLY, of: c)
        defer { close(dirFD) }
        do {
            try LayerWriter().write(directory: "/proc/self/fd/\(dirFD)", to: fd)
        } catch {
            throw EngineError(.failed(operation: "export \(c.record.name)"), cause: error)
        }
    }

    /// What the runtime made in a container's upper directory only to mount on: not the
    /// container's changes. Relative paths, as the layer writer names entries.
    static func mountPoints(_ config: ContainerConfig, upper: String, lowers: [String]) -> Set<String> {
        var targets = config.mounts.map(\.target) + config.fileBinds.map(\.target)
        targets += ["/proc", "/sys", "/dev", "/dev/shm", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
        return Set(MountStubs.find(targets, upper: upper, lowers: lowers).map { String($0.dropFirst()) })
    }
}
