// SPDX-License-Identifier: Apache-2.0

/// Defaults compose-go inserts once every file is merged.
enum Defaults {
    static func apply(_ dict: Node) -> Node {
        guard var services = dict["services"]?.map else { return dict }
        for (name, var service) in services {
            guard service.map != nil else { continue }
            if var build = service["build"], build.map != nil {
                if build["context"] == nil { build["context"] = .string(".") }
                service["build"] = build
            }
            if let secrets = service["secrets"]?.seq {
                service["secrets"] = Node(
                    .seq(
                        secrets.map { s in
                            guard s.map != nil, s["target"] == nil else { return s }
                            var s = s
                            s["target"] = .string("/run/secrets/\(s["source"].map(Merge.goPrint) ?? "<nil>")")
                            return s
                        }), origin: service["secrets"]?.origin)
            }
            if let ports = service["ports"]?.seq {
                service["ports"] = Node(
                    .seq(
                        ports.map { p in
                            guard p.map != nil else { return p }
                            var p = p
                            if p["protocol"] == nil { p["protocol"] = .string("tcp") }
                            if p["mode"] == nil { p["mode"] = .string("ingress") }
                            return p
                        }), origin: service["ports"]?.origin)
            }
            func deviceDefaults(_ list: Node?) -> Node? {
                guard let list, let items = list.seq else { return list }
                return Node(
                    .seq(
                        items.map { d in
                            guard d.map != nil, d["count"] == nil, d["device_ids"] == nil else { return d }
                            var d = d
                            d["count"] = .string("all")
                            return d
                        }), origin: list.origin)
            }
            if service["gpus"] != nil { service["gpus"] = deviceDefaults(service["gpus"]) }
            if var deploy = service["deploy"], var resources = deploy["resources"],
                var reservations = resources["reservations"], reservations["devices"] != nil
            {
                reservations["devices"] = deviceDefaults(reservations["devices"])
                resources["reservations"] = reservations
                deploy["resources"] = resources
                service["deploy"] = deploy
            }
            services[name] = service
        }
        var out = dict
        out["services"] = Node(.map(services), origin: dict["services"]?.origin)
        return out
    }
}

/// Normalization after paths are resolved: default network, implicit dependencies,
/// resource names, environment lookups (compose-go's `Normalize`).
enum Normalize {
    static func apply(_ dict: Node, environment: [String: String]) throws(LoaderError) -> Node {
        var dict = dict
        let project = dict["name"]?.string ?? ""
        if var services = dict["services"]?.map {
            var usesDefault = false
            for (name, var service) in services {
                guard service.map != nil else { continue }
                if service["provider"] == nil && service["network_mode"] == nil {
                    let networks = service["networks"]
                    if networks == nil || networks?.map?.isEmpty == true || networks?.isNull == true {
                        service["networks"] = Node.object(["default": .null])
                        usesDefault = true
                    } else if networks?.map?["default"] != nil {
                        usesDefault = true
                    }
                }
                if service["pull_policy"]?.string == "if_not_present" { service["pull_policy"] = .string("missing") }
                if var build = service["build"], build.map != nil {
                    if build["context"] == nil || build["context"]?.isNull == true { build["context"] = .string(".") }
                    if (build["dockerfile"]?.isNull ?? true) && (build["dockerfile_inline"]?.isNull ?? true) {
                        build["dockerfile"] = .string("Dockerfile")
                    }
                    if let args = build["args"] { build["args"] = resolve(args, environment, keepEmpty: false) }
                    service["build"] = build
                }
                if let env = service["environment"] {
                    service["environment"] = resolve(env, environment, keepEmpty: true)
                }
                var dependsOn = service["depends_on"]?.map ?? OrderedMap()
                func implicit(_ target: String, restart: Bool) {
                    if dependsOn[target] == nil {
                        dependsOn[target] = Node(
                            .map(Canonical.dependsOnEntry(condition: "service_started", required: true, restart: restart)))
                    }
                }
                for link in service["links"]?.seq ?? [] {
                    guard let text = link.string else { continue }
                    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                    implicit(parts.count == 2 ? String(parts[0]) : text, restart: true)
                }
                for key in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
                    if let ref = service[key]?.string, ref.hasPrefix("service:") {
                        implicit(String(ref.dropFirst("service:".count)), restart: true)
                    }
                }
                if let volumes = service["volumes"]?.seq {
                    service["volumes"] = Node(
                        .seq(
                            volumes.map { v in
                                guard let t = v["target"]?.string else { return v }
                                var v = v
                                v["target"] = .string(Path.clean(t), origin: v["target"]?.origin)
                                return v
                            }), origin: service["volumes"]?.origin)
                }
                for from in service["volumes_from"]?.seq ?? [] {
                    guard let text = from.string, !text.hasPrefix("container:") else { continue }
                    let name = String(text.split(separator: ":", omittingEmptySubsequences: false)[0])
                    implicit(name, restart: false)
                }
                if !dependsOn.isEmpty { service["depends_on"] = Node(.map(dependsOn), origin: service["depends_on"]?.origin) }
                services[name] = service
            }
            dict["services"] = Node(.map(services), origin: dict["services"]?.origin)
            if usesDefault {
                var networks = dict["networks"]?.map ?? OrderedMap()
                if networks["default"] == nil { networks["default"] = .null }
                dict["networks"] = Node(.map(networks), origin: dict["networks"]?.origin)
            }
        }
        for key in ["networks", "volumes", "configs", "secrets"] {
            guard let resources = dict[key]?.map else { continue }
            var out = OrderedMap<Node>()
            for (name, value) in resources {
                var r = value.map == nil ? Node(.map(OrderedMap()), origin: value.origin) : value
                if r["name"] == nil {
                    let external = r["external"].map { Merge.goPrint($0) }.map(Self.parseBool) ?? false
                    r["name"] = .string(external ? name : "\(project)_\(name)")
                }
                out[name] = r
            }
            dict[key] = Node(.map(out), origin: dict[key]?.origin)
        }
        return dict
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ s: String) -> Bool {
        ["1", "t", "T", "true", "TRUE", "True"].contains(s)
    }

    /// Fills values that are only named (`environment: [FOO]`) from the environment.
    static func resolve(_ node: Node, _ env: [String: String], keepEmpty: Bool) -> Node {
        var node = node
        switch node.kind {
        case .seq(let items):
            var out: [Node] = []
            for item in items {
                guard let s = item.string else { continue }
                if s.contains("=") {
                    out.append(item)
                } else if let v = env[s] {
                    out.append(.string("\(s)=\(v)", origin: item.origin))
                } else if keepEmpty {
                    out.append(item)
                }
            }
            node.kind = .seq(out)
        case .map(let m):
            var out = OrderedMap<Node>()
            for (k, v) in m {
                if !v.isNull {
                    out[k] = v
                } else if let value = env[k] {
                    out[k] = .string(value, origin: v.origin)
                } else if keepEmpty {
                    out[k] = v
                }
            }
            node.kind = .map(out)
        default:
            break
        }
        return node
    }

    /// Drops networks, volumes, secrets, configs and models no enabled service uses.
    static func dropUnusedResources(_ dict: inout Node) {
        let services = dict["services"]?.map ?? OrderedMap()
        var used: [String: Set<String>] = ["networks": [], "volumes": [], "secrets": [], "configs": [], "models": []]
        for (_, service) in services {
            for name in service["networks"]?.map?.keys ?? [] { used["networks"]?.insert(name) }
            for v in service["volumes"]?.seq ?? [] where v["type"]?.string == "volume" {
                if let s = v["source"]?.string, !s.isEmpty { used["volumes"]?.insert(s) }
            }
            for s in (service["secrets"]?.seq ?? []) + (service["build"]?["secrets"]?.seq ?? []) {
                if let name = s["source"]?.string ?? s.string { used["secrets"]?.insert(name) }
            }
            for c in service["configs"]?.seq ?? [] {
                if let name = c["source"]?.string ?? c.string { used["configs"]?.insert(name) }
            }
            for name in service["models"]?.map?.keys ?? [] { used["models"]?.insert(name) }
        }
        for (key, names) in used {
            guard let resources = dict[key]?.map else { continue }
            var kept = OrderedMap<Node>()
            for (name, value) in resources where names.contains(name) { kept[name] = value }
            dict[key] = kept.isEmpty ? nil : Node(.map(kept), origin: dict[key]?.origin)
        }
    }
}
