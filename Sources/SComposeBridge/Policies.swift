// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// Compose networks → NetworkPolicies. Compose lets a container reach only the containers that
/// share one of its networks; here every pod carries a label per network, and each network's
/// policy lets in traffic from pods with the same label. Policies add up, so a pod on two
/// networks takes traffic from both. Published ports get a policy of their own that lets in
/// any source, as Docker's published ports do.
extension Converter {
    /// The networks a service is on (none with `network_mode`).
    func networkKeys(_ service: ServiceConfig) -> [String] {
        guard service.networkMode == nil else { return [] }
        return service.networks.keys.sorted()
    }

    func networkLabel(_ network: String) -> String { "network.scompose.io/" + Kube.name(network) }

    mutating func networkPolicies() -> [KubeObject] {
        var out: [KubeObject] = []
        var networks: Set<String> = []
        for service in project.services.values { networks.formUnion(networkKeys(service)) }
        for network in networks.sorted() {
            let members: KubeNode = ["matchLabels": [networkLabel(network): "true"]]
            out.append(KubeObject(
                "networking.k8s.io/v1", "NetworkPolicy", name: "network-" + Kube.name(network), namespace: namespace, labels: labels(nil),
                fields: ["spec": ["podSelector": members, "policyTypes": ["Ingress"], "ingress": [["from": [["podSelector": members]]]]]]))
        }
        for name in project.serviceNames {
            guard let service = project.services[name], let kubeName = names[name], !jobs.contains(name) else { continue }
            let published = publishedPorts(service)
            guard !published.isEmpty else { continue }
            if service.networkMode != nil {
                notes.warn("service \(name) uses network_mode: its pod has its own network, with the policies of no compose network")
            }
            var seen: Set<String> = []
            let ports: [KubeNode] = published.compactMap { port in
                guard seen.insert("\(port.target)/\(port.proto)").inserted else { return nil }
                return ["port": .int(Int64(port.target)), "protocol": .string(port.proto.uppercased())]
            }
            out.append(KubeObject(
                "networking.k8s.io/v1", "NetworkPolicy", name: String((kubeName + "-published").prefix(63)), namespace: namespace, labels: labels(name),
                fields: ["spec": ["podSelector": ["matchLabels": .strings(selector(name))], "policyTypes": ["Ingress"], "ingress": [["ports": .list(ports)]]]]))
        }
        return out
    }
}
