// SPDX-License-Identifier: Apache-2.0
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// A service's mounts, worked out when its container is created: named and anonymous volumes
/// (created on first use, seeded from the image), binds, tmpfs, secrets, configs and
/// `volumes_from`.
struct StoragePlan {
    var mounts: [ContainerConfig.Mount] = []
    /// Anonymous volumes by target: kept across a recreate, as Compose does.
    var anonymous: [String: String] = [:]
    /// Volumes to seed from the image before the first start: (volume, path in the image).
    var seeds: [(volume: String, path: String)] = []
}

extension Engine {
    var volumes: VolumeStore { VolumeStore(stateRoot: root) }

    /// The project's volume for a service's `source` key: its record, created if needed.
    func projectVolume(_ key: String, project: ComposeProject) throws -> VolumeRecord {
        guard let config = project.volumes[key] else {
            throw EngineError(.undefined(service: nil, kind: "volume", name: key))
        }
        if config.external {
            guard let record = volumes.get(config.name) else {
                throw EngineError(.externalNotFound(kind: "volume", name: config.name))
            }
            return record
        }
        if let driver = config.driver, driver != "local" {
            throw EngineError(.unsupported("volume \(config.name): driver \"\(driver)\" is not supported (local only)"))
        }
        if let existing = volumes.get(config.name) {
            // As Compose: a volume made by another project is used, with a warning.
            if let owner = existing.labels[ComposeLabel.project], owner != project.name, !project.name.isEmpty {
                progress(.warning("volume \"\(config.name)\" already exists but was created for project \"\(owner)\""))
            }
            return existing
        }
        progress(.resource(.volume, config.name, "Creating"))
        var labels = config.labels
        // A container of no project (`container run -v data:/x`) makes a volume of no project.
        if !project.name.isEmpty {
            labels[ComposeLabel.project] = project.name
            labels[ComposeLabel.volume] = key
            labels[ComposeLabel.version] = Engine.version
        }
        let record = try volumes.create(config.name, labels: labels, options: config.driverOpts)
        progress(.resource(.volume, config.name, "Created"))
        return record
    }

    func storagePlan(
        project: ComposeProject, environment: [String: String], service: ServiceConfig, imageVolumes: [String],
        previousAnonymous: [String: String], containerDir: String, stagingDir: String
    ) throws -> StoragePlan {
        var plan = StoragePlan()
        func checkTarget(_ target: String) throws {
            guard target.hasPrefix("/") else {
                throw EngineError(.invalidValue(what: "mount config: mount path must be absolute", value: target))
            }
            if plan.mounts.contains(where: { $0.target == target }) {
                throw EngineError(.invalidValue(what: "mount config: duplicate mount point", value: target))
            }
        }
        func anonymousVolume(_ target: String) throws -> VolumeRecord {
            let name = previousAnonymous[target]
                ?? Digest.random().hex
            plan.anonymous[target] = name
            // Labelled with the project so that `down -v` finds it even after its container is gone.
            let labels = project.name.isEmpty
                ? [ComposeLabel.anonymousVolume: ""]
                : [ComposeLabel.anonymousVolume: "", ComposeLabel.project: project.name, ComposeLabel.service: service.name]
            return try volumes.create(name, labels: labels, anonymous: true)
        }
        for mount in service.volumes {
            try checkTarget(mount.target)
            switch mount.type {
            case .bind:
                guard let source = mount.source else { throw EngineError(.invalidValue(what: "mount config for type \"bind\"", value: "field Source must not be empty")) }
                var st = stat()
                if stat(source, &st) != 0 {
                    guard mount.createHostPath else {
                        throw EngineError(.invalidValue(what: "mount config for type \"bind\"", value: "bind source path does not exist: \(source)"))
                    }
                    do {
                        try Files.makeDirectories(source)
                    } catch {
                        throw EngineError(.failed(operation: "create bind source \(source)"), cause: error)
                    }
                    _ = stat(source, &st)
                }
                var m = ContainerConfig.Mount(
                    kind: .bind, source: source, target: mount.target, readOnly: mount.readOnly,
                    isFile: (st.st_mode & S_IFMT) != S_IFDIR)
                m.propagation = mount.propagation
                plan.mounts.append(m)
            case .volume:
                let record: VolumeRecord
                if let key = mount.source, !key.isEmpty {
                    record = try projectVolume(key, project: project)
                } else {
                    record = try anonymousVolume(mount.target)
                }
                var m = try volumes.mount(record, target: mount.target, readOnly: mount.readOnly)
                if let sub = mount.subpath, !sub.isEmpty {
                    guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                        throw EngineError(.invalidValue(what: "volume subpath", value: sub))
                    }
                    m.source += "/" + sub
                    guard access(m.source, F_OK) == 0 else {
                        throw EngineError(.hostPathMissing(m.source))
                    }
                }
                plan.mounts.append(m)
                if !mount.noCopy && record.options["type"] == nil && volumes.isEmpty(record.name) {
                    plan.seeds.append((record.name, mount.target))
                }
            case .tmpfs:
                var m = ContainerConfig.Mount(kind: .tmpfs, source: "tmpfs", target: mount.target, readOnly: mount.readOnly)
                var data: [String] = []
                if let size = mount.tmpfsSize { data.append("size=\(size)") }
                if let mode = mount.tmpfsMode { data.append("mode=\(String(mode, radix: 8))") }
                m.data = data.isEmpty ? nil : data.joined(separator: ",")
                m.flags = ["nosuid", "nodev"]
                plan.mounts.append(m)
            case .npipe, .cluster, .image:
                throw EngineError(.unsupported("service \"\(service.name)\": mounts of type \"\(mount.type.rawValue)\" are not supported"))
            }
        }
        // `tmpfs:` entries: `/run` or `/run:size=64m,mode=1777`, Docker's defaults noexec,nosuid,nodev.
        for entry in service.tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let target = parts[0]
            try checkTarget(target)
            var m = ContainerConfig.Mount(kind: .tmpfs, source: "tmpfs", target: target)
            var flags: Set<String> = ["noexec", "nosuid", "nodev"]
            var data: [String] = []
            for option in parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : [] {
                switch option {
                case "ro": m.readOnly = true
                case "rw": m.readOnly = false
                case "exec": flags.remove("noexec")
                case "suid": flags.remove("nosuid")
                case "dev": flags.remove("nodev")
                case "noexec", "nosuid", "nodev": flags.insert(option)
                default:
                    if option.hasPrefix("size="), let bytes = ContainerSpecBuilder.parseSize(String(option.dropFirst(5))) {
                        data.append("size=\(bytes)")
                    } else {
                        data.append(option)
                    }
                }
            }
            m.flags = flags.sorted()
            m.data = data.isEmpty ? nil : data.joined(separator: ",")
            plan.mounts.append(m)
        }
        // The image's VOLUMEs not covered by a mount get anonymous volumes, seeded from the image.
        for target in imageVolumes.sorted() where !plan.mounts.contains(where: { $0.target == target }) {
            let record = try anonymousVolume(target)
            plan.mounts.append(try volumes.mount(record, target: target, readOnly: false))
            if volumes.isEmpty(record.name) { plan.seeds.append((record.name, target)) }
        }
        try addFileObjects(
            service.secrets, kind: "secret", from: project.secrets, environment: environment, containerDir: containerDir,
            stagingDir: stagingDir, into: &plan)
        try addFileObjects(
            service.configs, kind: "config", from: project.configs, environment: environment, containerDir: containerDir,
            stagingDir: stagingDir, into: &plan)
        try addVolumesFrom(service, project: project.name, into: &plan)
        return plan
    }

    /// Secrets at `/run/secrets/<name>` and configs at `/<name>` (or their `target`): a read-only
    /// bind of the file itself, or of a copy with the owner and mode asked for (and of the value
    /// for `environment`/`content`).
    func addFileObjects(
        _ references: [FileReference], kind: String, from definitions: [String: FileObjectConfig],
        environment: [String: String], containerDir: String, stagingDir: String, into plan: inout StoragePlan
    ) throws {
        for ref in references {
            guard let def = definitions[ref.source] else {
                throw EngineError(.undefined(service: nil, kind: kind, name: ref.source))
            }
            if def.external {
                throw EngineError(.unsupported("\(kind) \"\(ref.source)\": external \(kind)s need Swarm and are not supported"))
            }
            var target = ref.target ?? ref.source
            if !target.hasPrefix("/") { target = (kind == "secret" ? "/run/secrets/" : "/") + target }
            if plan.mounts.contains(where: { $0.target == target }) { throw EngineError(.invalidValue(what: "mount config: duplicate mount point", value: target)) }
            var content: [UInt8]?
            if let variable = def.environment {
                guard let value = environment[variable] else {
                    throw EngineError(.environmentNotSet(variable: variable, neededBy: "\(kind) \"\(ref.source)\""))
                }
                content = Array(value.utf8)
            } else if let text = def.content {
                content = Array(text.utf8)
            }
            if content == nil, let file = def.file, ref.uid == nil, ref.gid == nil, ref.mode == nil {
                guard access(file, F_OK) == 0 else { throw EngineError(.hostPathMissing(file)) }
                var st = stat()
                _ = stat(file, &st)
                plan.mounts.append(
                    ContainerConfig.Mount(kind: .bind, source: file, target: target, readOnly: true, isFile: (st.st_mode & S_IFMT) != S_IFDIR))
                continue
            }
            if content == nil, let file = def.file {
                do {
                    content = try Files.read(file)
                } catch {
                    throw EngineError(.during("\(kind) \"\(ref.source)\""), cause: error)
                }
            }
            let name = "\(kind)s/" + ref.source
            do {
                try Files.makeDirectories(stagingDir + "/\(kind)s")
                try Files.writeAtomically(stagingDir + "/" + name, content ?? [])
            } catch {
                throw EngineError(.during("\(kind) \"\(ref.source)\""), cause: error)
            }
            let uid = UInt32(ref.uid ?? "0") ?? 0
            let gid = UInt32(ref.gid ?? "0") ?? 0
            chown(stagingDir + "/" + name, uid, gid)
            chmod(stagingDir + "/" + name, mode_t(ref.mode ?? 0o444))
            plan.mounts.append(
                ContainerConfig.Mount(kind: .bind, source: containerDir + "/" + name, target: target, readOnly: true, isFile: true))
        }
    }

    /// `volumes_from: [service, container:name]` with `:ro`/`:rw`: the other container's mounts.
    func addVolumesFrom(_ service: ServiceConfig, project: String, into plan: inout StoragePlan) throws {
        for entry in service.volumesFrom {
            var parts = entry.split(separator: ":").map(String.init)
            var mode: String?
            if let last = parts.last, parts.count > 1, last == "ro" || last == "rw" {
                mode = last
                parts.removeLast()
            }
            let all = containers(project: nil)
            let source: ContainerStatus?
            if parts.first == "container", parts.count == 2 {
                source = all.first { $0.record.name == parts[1] }
            } else {
                source = all.first { $0.record.project == project && $0.record.service == parts.joined(separator: ":") }
            }
            guard let source else { throw EngineError(.noSuchContainer("\(entry) (volumes_from of service \"\(service.name)\")")) }
            guard let spec = StateFile.read(ShimSpec.self, from: containersDir + "/" + source.record.id + "/spec.json") else {
                continue
            }
            for var m in spec.container.mounts where !plan.mounts.contains(where: { $0.target == m.target }) {
                if let mode { m.readOnly = mode == "ro" }
                plan.mounts.append(m)
            }
        }
    }

    /// Volumes of these containers that only they use: their anonymous volumes.
    func anonymousVolumes(of containers: [ContainerStatus]) -> [String] {
        containers.flatMap { $0.record.anonymousVolumes?.values.map { $0 } ?? [] }
    }

    /// Removes anonymous volumes no remaining container mounts.
    public func removeAnonymousVolumes(of removed: [ContainerStatus]) {
        let names = Set(anonymousVolumes(of: removed))
        guard !names.isEmpty else { return }
        let stillUsed = Set(anonymousVolumes(of: containers(project: nil)))
        for name in names.subtracting(stillUsed) { try? volumes.remove(name) }
    }

    /// Names of volumes mounted by any container (for `volume rm`/`prune`).
    public func volumesInUse() -> Set<String> {
        var used = Set<String>()
        let prefix = volumes.root + "/"
        for c in containers(project: nil) {
            guard let spec = StateFile.read(ShimSpec.self, from: containersDir + "/" + c.record.id + "/spec.json") else { continue }
            for m in spec.container.mounts where m.source.hasPrefix(prefix) {
                if let name = m.source.dropFirst(prefix.count).split(separator: "/").first { used.insert(String(name)) }
            }
        }
        return used
    }

    /// `down -v`: the project's named volumes (not external ones), and its anonymous volumes
    /// that no container uses any more (left by an earlier `down` without `-v`, say).
    public func removeProjectVolumes(_ project: ComposeProject) throws {
        let used = volumesInUse()
        for v in volumes.list() where v.anonymous && v.labels[ComposeLabel.project] == project.name {
            if !used.contains(v.name) { try? volumes.remove(v.name) }
        }
        for (_, config) in project.volumes.sorted(by: { $0.key < $1.key }) where !config.external {
            guard volumes.get(config.name) != nil else { continue }
            if used.contains(config.name) {
                throw EngineError(.volumeInUse(config.name))
            }
            progress(.resource(.volume, config.name, "Removing"))
            try volumes.remove(config.name)
            progress(.resource(.volume, config.name, "Removed"))
        }
    }
}
