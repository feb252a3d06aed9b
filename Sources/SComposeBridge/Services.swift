// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// A port a container listens on.
struct ContainerPort: Hashable, Comparable {
    var port: Int
    var proto: String
    var name: String

    static func < (a: ContainerPort, b: ContainerPort) -> Bool { (a.port, a.proto) < (b.port, b.proto) }
}

/// A port published to the world: the port the outside uses, the container's, the protocol.
struct PublishedPort: Hashable {
    var published: Int
    var target: Int
    var proto: String
}

/// Services: by name inside the cluster (ClusterIP, or headless without ports), under each
/// network alias, and a LoadBalancer or NodePort for the published ports.
extension Converter {
    /// The ports of `ports:` (their targets) and `expose:`, each once, sorted.
    func containerPorts(_ service: ServiceConfig) -> [ContainerPort] {
        var seen: Set<String> = []
        var out: [ContainerPort] = []
        func add(_ port: Int, _ proto: String, _ name: String?) {
            guard (1...65535).contains(port), seen.insert("\(port)/\(proto)").inserted else { return }
            out.append(ContainerPort(port: port, proto: proto, name: Kube.portName(proto, port, name: name)))
        }
        for port in service.ports { add(port.target, port.proto.lowercased(), port.name) }
        for entry in service.expose {
            let parts = entry.split(separator: "/", maxSplits: 1)
            let proto = parts.count == 2 ? String(parts[1]).lowercased() : "tcp"
            let range = parts.first.map { $0.split(separator: "-") } ?? []
            guard let low = range.first.flatMap({ Int($0) }) else { continue }
            let high = range.count == 2 ? Int(range[1]) ?? low : low
            for port in low...max(low, high) { add(port, proto, nil) }
        }
        // Names must be unique in a pod: a compose name used twice falls back to proto-port.
        var names: [String: Int] = [:]
        for port in out { names[port.name, default: 0] += 1 }
        return out.map { port in
            var port = port
            if (names[port.name] ?? 0) > 1 { port.name = "\(port.proto)-\(port.port)" }
            return port
        }.sorted()
    }

    /// Published ports, with ranges expanded.
    mutating func publishedPorts(_ service: ServiceConfig) -> [PublishedPort] {
        var out: [PublishedPort] = []
        for port in service.ports {
            let proto = port.proto.lowercased()
            guard let published = port.published, !published.isEmpty else {
                out.append(PublishedPort(published: port.target, target: port.target, proto: proto))
                notes.warn("service \(service.name): port \(port.target) is published on a random host port; its Service uses \(port.target)")
                continue
            }
            let bounds = published.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2 {
                for (i, p) in (bounds[0]...max(bounds[0], bounds[1])).enumerated() {
                    out.append(PublishedPort(published: p, target: port.target + i, proto: proto))
                }
            } else if let p = bounds.first {
                out.append(PublishedPort(published: p, target: port.target, proto: proto))
            }
        }
        var seen: Set<String> = []
        return out.filter { seen.insert("\($0.published)/\($0.proto)").inserted }
    }

    /// The Service objects of a service (none for a Job: nothing connects to a run to completion).
    mutating func services(_ service: ServiceConfig) -> [KubeObject] {
        guard let name = names[service.name], !jobs.contains(service.name) else { return [] }
        let ports = containerPorts(service)
        var spec: [String: KubeNode] = ["selector": .strings(selector(service.name))]
        if ports.isEmpty {
            // Without ports a ClusterIP Service is not allowed; a headless one still gives the
            // name, resolving to the pods' addresses, on which every port answers as under Compose.
            spec["clusterIP"] = "None"
        } else {
            spec["type"] = "ClusterIP"
            spec["ports"] = .list(ports.map { ["name": .string($0.name), "port": .int(Int64($0.port)), "targetPort": .int(Int64($0.port)), "protocol": .string($0.proto.uppercased())] })
        }
        var out = [KubeObject("v1", "Service", name: name, namespace: namespace, labels: labels(service.name), fields: ["spec": .map(spec)])]
        var aliases: Set<String> = []
        for case let attachment? in service.networks.values { aliases.formUnion(attachment.aliases) }
        for alias in aliases.sorted() {
            let aliasName = Kube.name(alias)
            guard aliasName != name else { continue }
            if aliasName != alias { notes.warn("service \(service.name): alias \"\(alias)\" is reachable as \"\(aliasName)\" (a Service name)") }
            out.append(KubeObject("v1", "Service", name: aliasName, namespace: namespace, labels: labels(service.name), fields: ["spec": .map(spec)]))
        }
        let published = publishedPorts(service)
        if !published.isEmpty {
            var publishedSpec: [String: KubeNode] = ["selector": .strings(selector(service.name)), "type": options.nodePorts ? "NodePort" : "LoadBalancer"]
            publishedSpec["ports"] = .list(published.map { port in
                let portName = "\(port.proto)-\(port.published)"
                let value = KubeNode.tunable(["services", service.name, "ports", portName], .int(Int64(port.published)))
                var entry: [String: KubeNode] = ["name": .string(portName), "port": value, "targetPort": .int(Int64(port.target)), "protocol": .string(port.proto.uppercased())]
                if options.nodePorts {
                    // A node port keeps the host port only inside the cluster's node port range.
                    if (30000...32767).contains(port.published) { entry["nodePort"] = value } else {
                        notes.warn("service \(service.name): \(port.published) is outside the node port range 30000-32767; Kubernetes picks the node port")
                    }
                }
                return .map(entry)
            })
            out.append(KubeObject("v1", "Service", name: String((name + "-published").prefix(63)), namespace: namespace,
                                  labels: labels(service.name), fields: ["spec": .map(publishedSpec)]))
        }
        return out
    }
}
