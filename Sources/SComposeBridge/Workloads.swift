// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeSpec

/// A service's workload (Deployment, StatefulSet or Job), its pod and container, and the
/// ConfigMap and Secret of its environment.
extension Converter {
    mutating func workload(_ service: ServiceConfig) throws(BridgeError) -> [KubeObject] {
        guard let name = names[service.name] else { return [] }
        let isJob = jobs.contains(service.name)
        let (env, envObjects) = environment(service)
        var pod = try podSpec(service, envFrom: env, isJob: isJob)
        let (podLabels, podAnnotations) = userLabels(service)
        var templateLabels = labels(service.name).merging(podLabels) { own, _ in own }
        for network in networkKeys(service) { templateLabels[networkLabel(network)] = "true" }
        let templateMetadata: KubeNode = .map(
            ["labels": .strings(templateLabels)].merging(podAnnotations.isEmpty ? [:] : ["annotations": .strings(podAnnotations)]) { a, _ in a })
        var objectLabels = labels(service.name).merging(podLabels) { own, _ in own }
        for (key, value) in service.deploy?.labels ?? [:] where Kube.isLabelKey(key) && Kube.isLabelValue(value) {
            objectLabels[key] = value
        }
        let replicas = KubeNode.tunable(["services", service.name, "replicas"], .int(Int64(service.replicas)))
        if isJob {
            let restart = restartPolicy(service)
            pod["restartPolicy"] = .string(restart.policy)
            if service.replicas > 1 { notes.warn("service \(service.name) runs once as a Job: its \(service.replicas) replicas become one run") }
            let job = KubeObject(
                "batch/v1", "Job", name: name, namespace: namespace, labels: objectLabels, annotations: podAnnotations,
                fields: ["spec": ["backoffLimit": .int(restart.backoffLimit), "template": ["metadata": templateMetadata, "spec": .map(pod)]]])
            return [job] + envObjects
        }
        if let restart = service.restart, restart == "no" || restart.hasPrefix("on-failure") {
            notes.warn("service \(service.name) has restart: \(restart), but a Deployment's pods are always restarted")
        } else if let condition = service.deploy?.restartCondition, condition != "any" {
            notes.warn("service \(service.name) has deploy.restart_policy.condition: \(condition), but a Deployment's pods are always restarted")
        }
        let claims = service.volumes.contains { $0.type == .volume && $0.source != nil }
        var spec: [String: KubeNode] = [
            "replicas": replicas,
            "selector": ["matchLabels": .strings(selector(service.name))],
            "template": ["metadata": templateMetadata, "spec": .map(pod)],
        ]
        // A named volume and one replica: a StatefulSet, which never runs two pods on the claim at once.
        if claims && service.replicas == 1 {
            spec["serviceName"] = .string(name)
            return [KubeObject("apps/v1", "StatefulSet", name: name, namespace: namespace, labels: objectLabels,
                               annotations: podAnnotations, fields: ["spec": .map(spec)])] + envObjects
        }
        // A rolling update would start the new pod while the old one holds the claim.
        if claims { spec["strategy"] = ["type": "Recreate"] }
        return [KubeObject("apps/v1", "Deployment", name: name, namespace: namespace, labels: objectLabels,
                           annotations: podAnnotations, fields: ["spec": .map(spec)])] + envObjects
    }

    /// A Job's restart policy and back-off limit from `restart` or `deploy.restart_policy`.
    func restartPolicy(_ service: ServiceConfig) -> (policy: String, backoffLimit: Int64) {
        if let condition = service.deploy?.restartCondition {
            if condition == "none" { return ("Never", 0) }
            return ("OnFailure", Int64(service.deploy?.restartMaxAttempts ?? 6))
        }
        guard let restart = service.restart, restart.hasPrefix("on-failure") else { return ("Never", 0) }
        let attempts = restart.split(separator: ":").dropFirst().first.flatMap { Int64($0) } ?? 6
        return ("OnFailure", attempts)
    }

    /// Compose labels that are valid Kubernetes labels, and the rest with the annotations.
    mutating func userLabels(_ service: ServiceConfig) -> (labels: [String: String], annotations: [String: String]) {
        var labels: [String: String] = [:]
        var annotations = serviceExtensions[service.name]?.annotations ?? [:]
        for (key, value) in service.annotations {
            guard Kube.isLabelKey(key) else {
                notes.warn("service \(service.name): annotation \"\(key)\" is not a valid Kubernetes key and was left out")
                continue
            }
            annotations[key] = value
        }
        for (key, value) in service.labels {
            guard Kube.isLabelKey(key) else {
                notes.warn("service \(service.name): label \"\(key)\" is not a valid Kubernetes key and was left out")
                continue
            }
            if Kube.isLabelValue(value) {
                labels[key] = value
            } else {
                // Label values are short names; longer text can only be an annotation.
                annotations[key] = value
                notes.warn("service \(service.name): label \"\(key)\" has a value Kubernetes labels cannot hold; it is an annotation")
            }
        }
        return (labels, annotations)
    }

    /// The service's variables: plain values in a ConfigMap, values of variables whose names
    /// say they are secret (`PASSWORD`, `TOKEN`, …) in a Secret, both given with `envFrom` (which,
    /// unlike `env`, does not expand `$(VAR)` in values: Compose has expanded them already).
    mutating func environment(_ service: ServiceConfig) -> (envFrom: [KubeNode], objects: [KubeObject]) {
        guard let name = names[service.name] else { return ([], []) }
        var plain: [String: String] = [:]
        var secret: [String: String] = [:]
        for key in service.environment.keys.sorted() {
            guard let value = service.environment[key] ?? nil else {
                notes.warn("service \(service.name): variable \(key) has no value and was left out")
                continue
            }
            guard Kube.isDataKey(key) else {
                notes.warn("service \(service.name): variable \"\(key)\" cannot be a ConfigMap key and was left out")
                continue
            }
            if Self.looksSecret(key) { secret[key] = value } else { plain[key] = value }
        }
        var envFrom: [KubeNode] = []
        var objects: [KubeObject] = []
        let objectName = name + "-env"
        if !plain.isEmpty {
            envFrom.append(["configMapRef": ["name": .string(objectName)]])
            objects.append(KubeObject("v1", "ConfigMap", name: objectName, namespace: namespace, labels: labels(service.name), fields: ["data": .strings(plain)]))
        }
        if !secret.isEmpty {
            envFrom.append(["secretRef": ["name": .string(objectName)]])
            objects.append(KubeObject("v1", "Secret", name: objectName, namespace: namespace, labels: labels(service.name),
                                      fields: ["type": "Opaque", "data": .strings(secret.mapValues { Base64.encode(Array($0.utf8)) })]))
            notes.warn("service \(service.name): \(secret.keys.sorted().joined(separator: ", ")) went to the Secret \(objectName) (their names say they are secret); the others to the ConfigMap")
        }
        return (envFrom, objects)
    }

    static let secretWords: [[UInt8]] = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"].map { Array($0.utf8) }

    static func looksSecret(_ key: String) -> Bool {
        // Byte search: String.contains(String) is slow enough to show in a 200-service conversion.
        let upper = Array(key.uppercased().utf8)
        return secretWords.contains { word in
            upper.count >= word.count && (0...(upper.count - word.count)).contains { start in upper[start..<(start + word.count)].elementsEqual(word) }
        }
    }

    /// The pod: its one container, the waits, volumes and the pod-wide settings.
    mutating func podSpec(_ service: ServiceConfig, envFrom: [KubeNode], isJob: Bool) throws(BridgeError) -> [String: KubeNode] {
        var pod: [String: KubeNode] = [:]
        let storage = try self.storage(service)
        var container = try self.container(service)
        if !envFrom.isEmpty { container["envFrom"] = .list(envFrom) }
        if !storage.mounts.isEmpty { container["volumeMounts"] = .list(storage.mounts) }
        pod["containers"] = [.map(container)]
        if !storage.volumes.isEmpty { pod["volumes"] = .list(storage.volumes) }
        let waits = self.waits(service)
        if !waits.isEmpty { pod["initContainers"] = .list(waits) }
        if waits.contains(where: { $0["name"].map { if case .string(let n) = $0 { n.hasPrefix("wait-job-") } else { false } } ?? false }) {
            pod["serviceAccountName"] = "scompose-job-waiter"
        }
        // Kubernetes would add variables such as DB_PORT=tcp://… for every Service, which
        // Compose never sets and which some images read as their own settings.
        pod["enableServiceLinks"] = false
        if service.initProcess == true {
            // The pause container is then PID 1 of the pod: it reaps orphans as `init: true` does.
            pod["shareProcessNamespace"] = true
        }
        if let hostname = service.hostname {
            let label = Kube.name(hostname)
            if label == hostname { pod["hostname"] = .string(hostname) } else {
                notes.warn("service \(service.name): hostname \"\(hostname)\" is not a DNS label; the pod keeps its own")
            }
        }
        if let grace = service.stopGracePeriod { pod["terminationGracePeriodSeconds"] = .int(Kube.seconds(grace, minimum: 0)) }
        var podSecurity: [String: KubeNode] = [:]
        if let group = storage.fsGroup { podSecurity["fsGroup"] = .int(group) }
        var groups: [KubeNode] = []
        for group in service.groupAdd {
            if let id = Int64(group) { groups.append(.int(id)) } else {
                notes.warn("service \(service.name): group_add \"\(group)\" is a name; Kubernetes takes numeric groups only")
            }
        }
        if !groups.isEmpty { podSecurity["supplementalGroups"] = .list(groups) }
        if !service.sysctls.isEmpty {
            podSecurity["sysctls"] = .list(service.sysctls.keys.sorted().map { ["name": .string($0), "value": .string(service.sysctls[$0] ?? "")] })
            notes.warn("service \(service.name): sysctls other than Kubernetes' safe set must be allowed on the kubelet (--allowed-unsafe-sysctls)")
        }
        if !podSecurity.isEmpty { pod["securityContext"] = .map(podSecurity) }
        var aliases: [String: [String]] = [:]
        for entry in service.extraHosts {
            // `host=ip` (canonical) or `host:ip`.
            let parts = entry.contains("=") ? entry.split(separator: "=", maxSplits: 1) : entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            if parts[1] == "host-gateway" {
                notes.warn("service \(service.name): extra_hosts \(parts[0]) points at host-gateway, which a pod has not")
                continue
            }
            aliases[String(parts[1]), default: []].append(String(parts[0]))
        }
        if !aliases.isEmpty {
            pod["hostAliases"] = .list(aliases.keys.sorted().map { ip in ["ip": .string(ip), "hostnames": .list((aliases[ip] ?? []).sorted().map { .string($0) })] })
        }
        var dns: [String: KubeNode] = [:]
        if !service.dns.isEmpty { dns["nameservers"] = .list(service.dns.map { .string($0) }) }
        if !service.dnsSearch.isEmpty { dns["searches"] = .list(service.dnsSearch.map { .string($0) }) }
        if !service.dnsOpt.isEmpty {
            dns["options"] = .list(service.dnsOpt.map { option in
                let parts = option.split(separator: ":", maxSplits: 1)
                return parts.count == 2 ? ["name": .string(String(parts[0])), "value": .string(String(parts[1]))] : ["name": .string(option)]
            })
        }
        if !dns.isEmpty { pod["dnsConfig"] = .map(dns) }
        if let ext = serviceExtensions[service.name] {
            if !ext.nodeSelector.isEmpty { pod["nodeSelector"] = .strings(ext.nodeSelector) }
            if !ext.tolerations.isEmpty { pod["tolerations"] = .list(ext.tolerations) }
        }
        return pod
    }

    /// The service's container.
    mutating func container(_ service: ServiceConfig) throws(BridgeError) -> [String: KubeNode] {
        guard let name = names[service.name] else { return [:] }
        var c: [String: KubeNode] = ["name": .string(name)]
        let image = service.image ?? "\(project.name)-\(service.name)"
        if service.image == nil {
            notes.warn("service \(service.name) is built from a Dockerfile: push its image as \(image) (or set `image:`) to a registry the cluster pulls from")
        }
        c["image"] = .tunable(["services", service.name, "image"], .string(image))
        switch service.pullPolicy {
        case "always": c["imagePullPolicy"] = "Always"
        case "never": c["imagePullPolicy"] = "Never"
        case "missing", "if_not_present": c["imagePullPolicy"] = "IfNotPresent"
        case nil: break
        case let other?: notes.warn("service \(service.name): pull_policy \(other) has no Kubernetes equivalent; the kubelet's default applies")
        }
        if let entrypoint = service.entrypoint { c["command"] = .list(entrypoint.map { .string($0) }) }
        if let command = service.command { c["args"] = .list(command.map { .string($0) }) }
        if let dir = service.workingDir { c["workingDir"] = .string(dir) }
        if service.tty { c["tty"] = true }
        if service.stdinOpen { c["stdin"] = true }
        let ports = containerPorts(service)
        if !ports.isEmpty {
            c["ports"] = .list(ports.map { ["containerPort": .int(Int64($0.port)), "name": .string($0.name), "protocol": .string($0.proto.uppercased())] })
        }
        let resources = self.resources(service)
        if !resources.isEmpty { c["resources"] = .map(resources) }
        let security = securityContext(service)
        if !security.isEmpty { c["securityContext"] = .map(security) }
        for (key, probe) in probes(service) { c[key] = probe }
        var lifecycle: [String: KubeNode] = [:]
        if let hook = service.postStart.first { lifecycle["postStart"] = ["exec": ["command": .list(hook.command.map { .string($0) })]] }
        if let hook = service.preStop.first { lifecycle["preStop"] = ["exec": ["command": .list(hook.command.map { .string($0) })]] }
        if service.postStart.count > 1 || service.preStop.count > 1 {
            notes.warn("service \(service.name): Kubernetes runs one postStart and one preStop hook; the first of each was kept")
        }
        if (service.postStart + service.preStop).contains(where: { $0.user != nil || $0.workingDir != nil || $0.privileged || !$0.environment.isEmpty }) {
            notes.warn("service \(service.name): hooks run as the container's own process in Kubernetes: their user, working_dir, privileged and environment were left out")
        }
        if !lifecycle.isEmpty { c["lifecycle"] = .map(lifecycle) }
        return c
    }

    /// `mem_limit`, `cpus`, `deploy.resources` → limits and requests.
    func resources(_ service: ServiceConfig) -> [String: KubeNode] {
        var limits: [String: String] = [:]
        var requests: [String: String] = [:]
        if let cpus = service.deploy?.cpuLimit ?? service.cpus, cpus > 0 { limits["cpu"] = Kube.cpu(cpus) }
        if let memory = service.deploy?.memoryLimit ?? service.memLimit, memory > 0 { limits["memory"] = Kube.memory(memory) }
        if let cpus = service.deploy?.cpuReservation, cpus > 0 { requests["cpu"] = Kube.cpu(cpus) }
        if let memory = service.deploy?.memoryReservation ?? service.memReservation, memory > 0 { requests["memory"] = Kube.memory(memory) }
        var out: [String: KubeNode] = [:]
        for (side, values) in [("limits", limits), ("requests", requests)] where !values.isEmpty {
            out[side] = .map(values.reduce(into: [:]) { map, entry in
                map[entry.key] = .tunable(["services", service.name, "resources", side, entry.key], .string(entry.value))
            })
        }
        return out
    }

    /// `user`, capabilities, `read_only`, `privileged`.
    mutating func securityContext(_ service: ServiceConfig) -> [String: KubeNode] {
        var out: [String: KubeNode] = [:]
        if let user = service.user, !user.isEmpty {
            let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
            if let uid = Int64(parts[0]) { out["runAsUser"] = .int(uid) } else {
                notes.warn("service \(service.name): user \"\(parts[0])\" is a name; Kubernetes takes a numeric runAsUser (set it by hand)")
            }
            if parts.count == 2 {
                if let gid = Int64(parts[1]) { out["runAsGroup"] = .int(gid) } else {
                    notes.warn("service \(service.name): group \"\(parts[1])\" is a name; Kubernetes takes a numeric runAsGroup (set it by hand)")
                }
            }
        }
        func capability(_ name: String) -> KubeNode {
            let upper = name.uppercased()
            return .string(upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper)
        }
        var capabilities: [String: KubeNode] = [:]
        if !service.capAdd.isEmpty { capabilities["add"] = .list(service.capAdd.sorted().map(capability)) }
        if !service.capDrop.isEmpty { capabilities["drop"] = .list(service.capDrop.sorted().map(capability)) }
        if !capabilities.isEmpty { out["capabilities"] = .map(capabilities) }
        if service.readOnly { out["readOnlyRootFilesystem"] = true }
        if service.privileged { out["privileged"] = true }
        return out
    }
}
