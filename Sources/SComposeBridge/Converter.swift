// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS
import SComposeSpec

/// The state of one conversion: what was decided about the project as a whole (names, which
/// services are Jobs, who mounts what) before any object is written, and the notes.
struct Converter: Sendable {
    let input: BridgeInput
    let options: BridgeOptions
    let project: ComposeProject
    /// The namespace every object lives in.
    let namespace: String
    /// Service → its Kubernetes name (workload, Service, container).
    let names: [String: String]
    /// One-shot services that dependants wait to complete: Jobs.
    let jobs: Set<String>
    /// Each service's and each named volume's `x-k8s`.
    let serviceExtensions: [String: ServiceExtension]
    let volumeExtensions: [String: VolumeExtension]
    var notes = Notes()
    /// Whether some pod waits for a Job (and so needs the ServiceAccount that may read Jobs).
    var waitsForJobs = false

    init(input: BridgeInput, options: BridgeOptions) throws(BridgeError) {
        self.input = input
        self.options = options
        project = input.project
        if let ns = options.namespace {
            guard Kube.name(ns) == ns else {
                throw BridgeError("--namespace \"\(ns)\" is not a valid namespace (lowercase letters, digits and '-', starting with a letter)")
            }
            namespace = ns
        } else {
            namespace = Kube.name(project.name)
        }
        var names: [String: String] = [:]
        var owners: [String: String] = [:]
        var serviceExtensions: [String: ServiceExtension] = [:]
        for service in project.serviceNames {
            let name = Kube.name(service)
            if let other = owners[name] {
                throw BridgeError("services \"\(other)\" and \"\(service)\" would both be named \"\(name)\" in Kubernetes; rename one")
            }
            owners[name] = service
            names[service] = name
            if name != service {
                notes.warn("service \(service) is named \(name) in Kubernetes (names there are lowercase letters, digits and '-'): clients must use that name")
            }
            serviceExtensions[service] = try ServiceExtension(input.model["services"]?[service]?["x-k8s"], service: service)
        }
        self.names = names
        self.serviceExtensions = serviceExtensions
        var volumeExtensions: [String: VolumeExtension] = [:]
        for key in project.volumes.keys {
            volumeExtensions[key] = try VolumeExtension(input.model["volumes"]?[key]?["x-k8s"], volume: key)
        }
        self.volumeExtensions = volumeExtensions
        // A service is a Job when something waits for it to complete and it does not ask to be
        // restarted forever (Compose's default restart policy is "no").
        var jobs: Set<String> = []
        for service in project.services.values {
            for (dependency, dep) in service.dependsOn where dep.condition == .completedSuccessfully {
                guard let target = project.services[dependency] else { continue }
                if Self.restartsForever(target) {
                    notes.warn("service \(service.name) waits for \(dependency) to complete, but \(dependency) restarts always: it stays a Deployment and \(service.name) does not wait")
                } else {
                    jobs.insert(dependency)
                }
            }
        }
        self.jobs = jobs
    }

    static func restartsForever(_ service: ServiceConfig) -> Bool {
        if let condition = service.deploy?.restartCondition { return condition == "any" }
        return service.restart == "always" || service.restart == "unless-stopped"
    }

    /// Labels every object of a service carries; the first is the selector.
    func selector(_ service: String) -> [String: String] {
        ["app.kubernetes.io/name": names[service] ?? Kube.name(service)]
    }

    func labels(_ service: String?) -> [String: String] {
        var out = ["app.kubernetes.io/managed-by": "scompose", "app.kubernetes.io/part-of": namespace]
        if let service { out.merge(selector(service)) { _, new in new } }
        return out
    }

    /// A host path as the user wrote it: relative to the project directory when under it, so
    /// notes read the same on every machine.
    func display(_ path: String) -> String {
        let base = project.workingDirectory.hasSuffix("/") ? project.workingDirectory : project.workingDirectory + "/"
        if path == project.workingDirectory { return "." }
        return path.hasPrefix(base) ? "./" + path.dropFirst(base.count) : path
    }

    /// Every object, in a fixed order; fails when two would have the same kind and name.
    mutating func objects() throws(BridgeError) -> [KubeObject] {
        var objects = [KubeObject("v1", "Namespace", name: namespace, namespace: nil, labels: labels(nil), fields: [:])]
        reportUnsupportedKeys()
        // Each service's objects are its own: converted on every core, each with notes of its
        // own, then gathered in the services' order (the first error in that order wins).
        let base = self
        let parts = Parallel.map(project.serviceNames) { service -> Result<ServiceObjects, BridgeError> in
            var converter = base
            converter.notes = Notes()
            guard let config = base.project.services[service] else { return .success(ServiceObjects(objects: [], of: converter)) }
            do throws(BridgeError) {
                let objects = try converter.workload(config) + converter.services(config)
                return .success(ServiceObjects(objects: objects, of: converter))
            } catch {
                return .failure(error)
            }
        }
        for result in parts {
            let part = try result.get()
            objects += part.objects
            notes.merge(part.notes)
            waitsForJobs = waitsForJobs || part.waitsForJobs
        }
        objects += try claims()
        objects += try fileObjects()
        objects += networkPolicies()
        if waitsForJobs { objects += jobWaiterAccess() }
        var seen: Set<String> = []
        for object in objects {
            let key = object.kind + "/" + object.name
            guard seen.insert(key).inserted else {
                throw BridgeError("two objects would be named \(key); rename the compose service, volume, secret or config behind one of them")
            }
        }
        return objects
    }

    /// What converting one service gave: its objects, and what it noted.
    struct ServiceObjects: Sendable {
        var objects: [KubeObject]
        var notes: Notes
        var waitsForJobs: Bool

        init(objects: [KubeObject], of converter: Converter) {
            self.objects = objects
            notes = converter.notes
            waitsForJobs = converter.waitsForJobs
        }
    }

    /// Every key of every service and top-level object with no Kubernetes meaning, as notes.
    mutating func reportUnsupportedKeys() {
        for service in project.serviceNames {
            guard case .object(let fields)? = input.model["services"]?[service] else { continue }
            let owner = "service " + service
            for (key, value) in fields where ServiceKeys.isSet(value) && !key.hasPrefix("x-") {
                if !ServiceKeys.converted.contains(key) { notes.unsupported(key, owner: owner, ServiceKeys.reason(key)) }
            }
            if let model = input.model["services"]?[service] {
                for part in ServiceKeys.unsupportedParts(of: model) { notes.unsupported(part.key, owner: owner, part.reason) }
            }
        }
        for (key, network) in project.networks {
            let owner = "network " + key
            if network.external { notes.unsupported("networks.*.external", owner: owner, "a network is a NetworkPolicy here, made with the project") }
            if network.isInternal { notes.unsupported("networks.*.internal", owner: owner, "the NetworkPolicies limit ingress only; outbound traffic is not restricted") }
            if !network.ipamConfig.isEmpty { notes.unsupported("networks.*.ipam", owner: owner, "pod addresses come from the network plugin") }
            if network.enableIPv6 == true { notes.unsupported("networks.*.enable_ipv6", owner: owner, "address families are the cluster's") }
            if !network.driverOpts.isEmpty { notes.unsupported("networks.*.driver_opts", owner: owner, "no network driver in a cluster") }
            if let driver = network.driver, driver != "bridge" { notes.unsupported("networks.*.driver", owner: owner, "no network driver in a cluster") }
        }
        for (key, volume) in project.volumes {
            let owner = "volume " + key
            if let driver = volume.driver, driver != "local" { notes.unsupported("volumes.*.driver", owner: owner, "claims use a storage class (`x-k8s.storageClass`) instead") }
            if volume.driverOpts.keys.contains(where: { $0 != "size" }) {
                notes.unsupported("volumes.*.driver_opts", owner: owner, "only `size` has a meaning for a claim")
            }
        }
    }

    /// The Role that lets init containers wait for Jobs (`kubectl wait` reads them).
    func jobWaiterAccess() -> [KubeObject] {
        let name = "scompose-job-waiter"
        return [
            KubeObject("v1", "ServiceAccount", name: name, namespace: namespace, labels: labels(nil), fields: [:]),
            KubeObject(
                "rbac.authorization.k8s.io/v1", "Role", name: name, namespace: namespace, labels: labels(nil),
                fields: ["rules": [["apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]]]]),
            KubeObject(
                "rbac.authorization.k8s.io/v1", "RoleBinding", name: name, namespace: namespace, labels: labels(nil),
                fields: [
                    "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": .string(name)],
                    "subjects": [["kind": "ServiceAccount", "name": .string(name), "namespace": .string(namespace)]],
                ]),
        ]
    }
}
