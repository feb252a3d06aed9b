// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeSpec

/// A pod's volumes and the container's mounts of them.
struct PodStorage {
    var volumes: [KubeNode] = []
    var mounts: [KubeNode] = []
    /// The group of the secrets' and configs' files (`gid`), as the pod's fsGroup.
    var fsGroup: Int64?
}

/// Named volumes → PersistentVolumeClaims, tmpfs → memory emptyDirs, bind mounts → warnings
/// (or hostPath), secrets and configs → Secrets and ConfigMaps mounted at their targets.
extension Converter {
    mutating func storage(_ service: ServiceConfig) throws(BridgeError) -> PodStorage {
        var out = PodStorage()
        var anonymous = 0
        var binds = 0
        var tmpfs = 0
        func mount(_ volume: String, _ target: String, readOnly: Bool = false, subPath: String? = nil) -> KubeNode {
            var m: [String: KubeNode] = ["name": .string(volume), "mountPath": .string(target)]
            if readOnly { m["readOnly"] = true }
            if let subPath { m["subPath"] = .string(subPath) }
            return .map(m)
        }
        for volume in service.volumes {
            switch volume.type {
            case .volume:
                if let key = volume.source, let config = project.volumes[key] {
                    let podName = "data-" + Kube.name(key)
                    if !out.volumes.contains(where: { $0["name"] == .string(podName) }) {
                        out.volumes.append(["name": .string(podName), "persistentVolumeClaim": ["claimName": .string(claimName(key, config))]])
                    }
                    out.mounts.append(mount(podName, volume.target, readOnly: volume.readOnly, subPath: volume.subpath))
                } else {
                    anonymous += 1
                    let podName = "anonymous-\(anonymous)"
                    out.volumes.append(["name": .string(podName), "emptyDir": [:]])
                    out.mounts.append(mount(podName, volume.target, readOnly: volume.readOnly))
                    notes.warn("service \(service.name): the anonymous volume at \(volume.target) is an emptyDir, emptied when the pod is replaced")
                }
            case .tmpfs:
                tmpfs += 1
                out.volumes.append(memoryVolume("tmpfs-\(tmpfs)", size: volume.tmpfsSize))
                out.mounts.append(mount("tmpfs-\(tmpfs)", volume.target))
                if volume.tmpfsMode != nil { notes.unsupported("volumes[].tmpfs.mode", owner: "service " + service.name, "an emptyDir's mode and mount options are the kubelet's") }
            case .bind:
                let source = display(volume.source ?? "")
                guard options.allowHostPaths else {
                    notes.warn("service \(service.name): bind mount \(source) → \(volume.target) left out (a node has not the project's files: put them in the image or a ConfigMap, or pass --allow-host-paths for a hostPath volume)")
                    continue
                }
                binds += 1
                var hostPath: [String: KubeNode] = ["path": .string(volume.source ?? "")]
                if volume.createHostPath { hostPath["type"] = "DirectoryOrCreate" }
                out.volumes.append(["name": .string("host-\(binds)"), "hostPath": .map(hostPath)])
                out.mounts.append(mount("host-\(binds)", volume.target, readOnly: volume.readOnly))
                notes.warn("service \(service.name): bind mount \(source) → \(volume.target) is a hostPath volume: the path must exist on the node the pod runs on")
            case .npipe, .cluster, .image:
                notes.unsupported("volumes[].type: \(volume.type.rawValue)", owner: "service " + service.name, "no Kubernetes volume of this kind")
            }
        }
        for entry in service.tmpfs {
            // `/run` or `/run:size=64m,mode=1777`.
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard let path = parts.first else { continue }
            var size: Int64?
            for option in parts.dropFirst().first?.split(separator: ",") ?? [] {
                if option.hasPrefix("size=") {
                    size = Self.bytes(String(option.dropFirst(5)))
                } else {
                    notes.unsupported("tmpfs options other than size", owner: "service " + service.name, "an emptyDir's mode and mount options are the kubelet's")
                }
            }
            tmpfs += 1
            out.volumes.append(memoryVolume("tmpfs-\(tmpfs)", size: size))
            out.mounts.append(mount("tmpfs-\(tmpfs)", String(path)))
        }
        if let shm = service.shmSize, shm > 0 {
            out.volumes.append(memoryVolume("shm", size: shm))
            out.mounts.append(mount("shm", "/dev/shm"))
        }
        for (kind, references) in [("secret", service.secrets), ("config", service.configs)] {
            for reference in references {
                let source = kind == "secret" ? project.secrets[reference.source] : project.configs[reference.source]
                guard let source else { continue }
                let objectName = kind == "secret" ? secretName(reference.source, source) : configName(reference.source, source)
                let podName = kind + "-" + Kube.name(reference.source)
                let key = dataKey(reference.source)
                var target = reference.target ?? (kind == "secret" ? "/run/secrets/" + reference.source : "/" + reference.source)
                if !target.hasPrefix("/") { target = (kind == "secret" ? "/run/secrets/" : "/") + target }
                var volume: [String: KubeNode] = [:]
                var ref: [String: KubeNode] = kind == "secret" ? ["secretName": .string(objectName)] : ["name": .string(objectName)]
                if let mode = reference.mode { ref["defaultMode"] = .int(Int64(mode)) }
                volume["name"] = .string(podName)
                volume[kind == "secret" ? "secret" : "configMap"] = .map(ref)
                if !out.volumes.contains(where: { $0["name"] == .string(podName) }) { out.volumes.append(.map(volume)) }
                out.mounts.append(mount(podName, target, readOnly: true, subPath: key))
                if let gid = reference.gid, let id = Int64(gid) {
                    if let existing = out.fsGroup, existing != id {
                        notes.warn("service \(service.name): secrets and configs ask for groups \(existing) and \(id); a pod has one fsGroup, \(existing) kept")
                    } else {
                        out.fsGroup = id
                    }
                }
                if let uid = reference.uid, uid != "0" {
                    notes.warn("service \(service.name): \(kind) \(reference.source) asks for owner \(uid); Kubernetes mounts such files owned by root (the group is the pod's fsGroup)")
                }
            }
        }
        return out
    }

    private func memoryVolume(_ name: String, size: Int64?) -> KubeNode {
        var dir: [String: KubeNode] = ["medium": "Memory"]
        if let size, size > 0 { dir["sizeLimit"] = .string(Kube.memory(size)) }
        return ["name": .string(name), "emptyDir": .map(dir)]
    }

    /// Docker's sizes: a number with an optional b, k, m or g (powers of 1024).
    static func bytes(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let units: [(String, Int64)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1)]
        for (suffix, size) in units where lower.hasSuffix(suffix) {
            return Int64(lower.dropLast(suffix.count)).map { $0 * size }
        }
        return Int64(lower)
    }

    func dataKey(_ key: String) -> String { Kube.isDataKey(key) ? key : Kube.name(key) }

    /// The claim of a named volume: an external one is expected under its own name.
    func claimName(_ key: String, _ volume: VolumeConfig) -> String { volume.external ? Kube.name(volume.name) : Kube.name(key) }
    func secretName(_ key: String, _ secret: FileObjectConfig) -> String { secret.external ? Kube.name(secret.name) : Kube.name(key) }
    func configName(_ key: String, _ config: FileObjectConfig) -> String { config.external ? Kube.name(config.name) : Kube.name(key) }

    /// One claim per named volume some service mounts.
    mutating func claims() throws(BridgeError) -> [KubeObject] {
        var out: [KubeObject] = []
        for key in project.volumes.keys.sorted() {
            guard let volume = project.volumes[key] else { continue }
            let users = project.serviceNames.filter { name in
                project.services[name]?.volumes.contains { $0.type == .volume && $0.source == key } ?? false
            }
            guard !users.isEmpty else { continue }
            if volume.external {
                notes.warn("volume \(key) is external: the claim \(claimName(key, volume)) must exist in the namespace")
                continue
            }
            let ext = volumeExtensions[key] ?? VolumeExtension()
            let size = try Kube.storage(ext.size ?? volume.driverOpts["size"] ?? "1Gi", at: "volumes.\(key) size")
            // Shared by several pods (services, or replicas of one): they may run on different nodes.
            let shared = users.count > 1 || users.contains { (project.services[$0]?.replicas ?? 1) > 1 }
            if shared { notes.warn("volume \(key) is mounted by several pods: its claim asks for ReadWriteMany, which the storage class must offer") }
            var spec: [String: KubeNode] = [
                "accessModes": [shared ? "ReadWriteMany" : "ReadWriteOnce"],
                "resources": ["requests": ["storage": .tunable(["volumes", key, "size"], .string(size))]],
            ]
            let extensions = serviceExtensions
            let serviceClass = users.compactMap { extensions[$0]?.storageClass }.first
            if let storageClass = ext.storageClass ?? serviceClass ?? options.storageClass {
                spec["storageClassName"] = .string(storageClass)
            }
            out.append(KubeObject("v1", "PersistentVolumeClaim", name: Kube.name(key), namespace: namespace, labels: labels(nil), fields: ["spec": .map(spec)]))
        }
        return out
    }

    /// Secrets and ConfigMaps for the project's secrets and configs that some service uses.
    mutating func fileObjects() throws(BridgeError) -> [KubeObject] {
        var out: [KubeObject] = []
        for (kind, objects) in [("secret", project.secrets), ("config", project.configs)] {
            for key in objects.keys.sorted() {
                guard let object = objects[key] else { continue }
                let used = project.services.values.contains { service in
                    (kind == "secret" ? service.secrets : service.configs).contains { $0.source == key }
                }
                guard used else { continue }
                if object.external {
                    notes.warn("\(kind) \(key) is external: the \(kind == "secret" ? "Secret" : "ConfigMap") \(Kube.name(object.name)) must exist in the namespace, with the key \(dataKey(key))")
                    continue
                }
                let bytes: [UInt8]
                if let content = object.content {
                    bytes = Array(content.utf8)
                } else if let variable = object.environment {
                    guard let value = input.environment[variable] else {
                        throw BridgeError("\(kind) \(key): the variable \(variable) is not set")
                    }
                    bytes = Array(value.utf8)
                } else if let file = object.file {
                    guard let read = input.readFile(file) else { throw BridgeError("\(kind) \(key): cannot read \(display(file))") }
                    bytes = read
                } else {
                    throw BridgeError("\(kind) \(key) has no file, environment or content")
                }
                let dataKey = self.dataKey(key)
                if kind == "secret" {
                    out.append(KubeObject("v1", "Secret", name: Kube.name(key), namespace: namespace, labels: labels(nil),
                                          fields: ["type": "Opaque", "data": [dataKey: .string(Base64.encode(bytes))]]))
                } else if let text = String(validating: bytes, as: UTF8.self) {
                    out.append(KubeObject("v1", "ConfigMap", name: Kube.name(key), namespace: namespace, labels: labels(nil), fields: ["data": [dataKey: .string(text)]]))
                } else {
                    out.append(KubeObject("v1", "ConfigMap", name: Kube.name(key), namespace: namespace, labels: labels(nil),
                                          fields: ["binaryData": [dataKey: .string(Base64.encode(bytes))]]))
                }
            }
        }
        return out
    }
}
