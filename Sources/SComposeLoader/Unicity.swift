// SPDX-License-Identifier: Apache-2.0

/// Removes redefinitions in sequences after a merge: the later entry replaces the earlier
/// one at the earlier one's position (`environment: [A=1]` + `[A=2]` gives `[A=2]`).
enum Unicity {
    enum Indexer: Sendable {
        case keyValue, volume, expose, port, envFile, device
        case mount(prefix: String)
    }

    static let table = PathTable<Indexer>([
        ("networks.*.labels", .keyValue),
        ("networks.*.ipam.options", .keyValue),
        ("services.*.annotations", .keyValue),
        ("services.*.build.args", .keyValue),
        ("services.*.build.additional_contexts", .keyValue),
        ("services.*.build.platforms", .keyValue),
        ("services.*.build.tags", .keyValue),
        ("services.*.build.labels", .keyValue),
        ("services.*.build.cache_from", .keyValue),
        ("services.*.build.cache_to", .keyValue),
        ("services.*.cap_add", .keyValue),
        ("services.*.cap_drop", .keyValue),
        ("services.*.configs", .mount(prefix: "")),
        ("services.*.deploy.labels", .keyValue),
        ("services.*.dns", .keyValue),
        ("services.*.dns_opt", .keyValue),
        ("services.*.dns_search", .keyValue),
        ("services.*.environment", .keyValue),
        ("services.*.env_file", .envFile),
        ("services.*.expose", .expose),
        ("services.*.labels", .keyValue),
        ("services.*.links", .keyValue),
        ("services.*.networks.*.aliases", .keyValue),
        ("services.*.networks.*.link_local_ips", .keyValue),
        ("services.*.ports", .port),
        ("services.*.profiles", .keyValue),
        ("services.*.secrets", .mount(prefix: "/run/secrets")),
        ("services.*.sysctls", .keyValue),
        ("services.*.tmpfs", .keyValue),
        ("services.*.volumes", .volume),
        ("services.*.devices", .device),
    ])

    static func enforce(_ node: Node, path: ModelPath = ModelPath()) -> Node {
        // Every rule is at most five levels deep, under `services` or `networks`.
        if path.components.count > 5 { return node }
        if path.components.count == 1, path.components[0] != .key("services"), path.components[0] != .key("networks") {
            return node
        }
        var node = node
        switch node.kind {
        case .map:
            node.updateChildren { component, child in
                child = enforce(child, path: ModelPath(path.components + [component]))
            }
        case .seq(let items):
            guard let indexer = table.lookup(path) else { return node }
            var result: [Node] = []
            var positions: [String: Int] = [:]
            for item in items {
                guard let key = index(item, indexer) else {
                    result.append(item)
                    continue
                }
                if let j = positions[key] {
                    result[j] = item
                } else {
                    positions[key] = result.count
                    result.append(item)
                }
            }
            node.kind = .seq(result)
        default:
            break
        }
        return node
    }

    static func index(_ item: Node, _ indexer: Indexer) -> String? {
        switch indexer {
        case .keyValue:
            guard let s = item.string else { return nil }
            if let eq = s.firstIndex(of: "=") { return String(s[..<eq]) }
            return s
        case .volume:
            if let m = item.map { return m["target"]?.string }
            if let s = item.string { return try? VolumeSpec.parse(s).target }
            return nil
        case .expose:
            return item.scalarText
        case .mount(let prefix):
            if let s = item.string { return "\(prefix)/\(s)" }
            if let m = item.map {
                if let t = m["target"]?.scalarText { return t }
                return "\(prefix)/\(m["source"]?.scalarText ?? "")"
            }
            return nil
        case .port:
            if let m = item.map {
                let target = m["target"].map { Merge.goPrint($0) } ?? ""
                let published = m["published"].map { Merge.goPrint($0) } ?? "<nil>"
                let host = m["host_ip"]?.scalarText ?? "0.0.0.0"
                let proto = m["protocol"]?.scalarText ?? "tcp"
                return "\(host):\(published):\(target)/\(proto)"
            }
            return item.scalarText
        case .envFile:
            if let s = item.string { return s }
            return item.map?["path"]?.scalarText
        case .device:
            if let s = item.string {
                let parts = s.split(separator: ":", omittingEmptySubsequences: false)
                return parts.count > 1 ? String(parts[1]) : s
            }
            return item.map?["target"]?.scalarText
        }
    }
}
