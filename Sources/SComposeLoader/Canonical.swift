// SPDX-License-Identifier: Apache-2.0

/// Rewrites short syntax into the long syntax (ports, volumes, depends_on, env_file,
/// secrets, configs, build, networks, extends, devices, …) so later stages see one shape.
enum Canonical {
    enum Transform: Sendable {
        case mapping, build, dependsOn, envFile, stringOrList, extends, gpus, serviceNetworks
        case volumeMount, deviceMapping, fileMount, ports, ulimits, maybeExternal, include, keyValue, ssh
    }

    static let table = PathTable<Transform>([
        ("services.*", .mapping),
        ("services.*.build.secrets.[]", .fileMount),
        ("services.*.build.additional_contexts", .keyValue),
        ("services.*.depends_on", .dependsOn),
        ("services.*.env_file", .envFile),
        ("services.*.label_file", .stringOrList),
        ("services.*.extends", .extends),
        ("services.*.gpus", .gpus),
        ("services.*.networks", .serviceNetworks),
        ("services.*.models", .serviceNetworks),
        ("services.*.volumes.[]", .volumeMount),
        ("services.*.dns", .stringOrList),
        ("services.*.devices.[]", .deviceMapping),
        ("services.*.secrets.[]", .fileMount),
        ("services.*.configs.[]", .fileMount),
        ("services.*.ports", .ports),
        ("services.*.build", .build),
        ("services.*.build.ssh", .ssh),
        ("services.*.ulimits.*", .ulimits),
        ("services.*.build.ulimits.*", .ulimits),
        ("volumes.*", .maybeExternal),
        ("networks.*", .maybeExternal),
        ("secrets.*", .maybeExternal),
        ("configs.*", .maybeExternal),
        ("include.[]", .include),
    ])

    static func apply(_ node: Node, path: ModelPath = ModelPath()) throws(LoaderError) -> Node {
        if let t = table.lookup(path) {
            return try transform(t, node, path: path)
        }
        return try recurse(node, path: path)
    }

    static func recurse(_ node: Node, path: ModelPath) throws(LoaderError) -> Node {
        // Every transform is at most five levels deep.
        if path.components.count >= 5 { return node }
        var node = node
        try node.updateChildren { (component, child: inout Node) throws(LoaderError) in
            child = try apply(child, path: ModelPath(path.components + [component]))
        }
        return node
    }

    static func fail(_ message: String, _ node: Node, _ path: ModelPath) -> LoaderError {
        LoaderError(.invalid, message, origin: node.origin, path: path.description)
    }

    static func transform(_ t: Transform, _ node: Node, path: ModelPath) throws(LoaderError) -> Node {
        let origin = node.origin
        switch t {
        case .mapping:
            return try recurse(node, path: path)
        case .build, .extends:
            if let s = node.string {
                var m = OrderedMap<Node>()
                m[t == .build ? "context" : "service"] = .string(s, origin: origin)
                return Node(.map(m), origin: origin)
            }
            guard node.map != nil else {
                throw fail("invalid type \(node.typeName) for \(t == .build ? "build" : "extends")", node, path)
            }
            return try recurse(node, path: path)
        case .dependsOn:
            switch node.kind {
            case .map(let m):
                var out = OrderedMap<Node>()
                for (k, v) in m {
                    guard var d = v.map else {
                        throw fail("unsupported value for depends_on entry \(k)", v, path.appending(k))
                    }
                    if d["condition"] == nil { d["condition"] = .string("service_started") }
                    if d["required"] == nil { d["required"] = .bool(true) }
                    out[k] = Node(.map(d), origin: v.origin)
                }
                return Node(.map(out), origin: origin)
            case .seq(let items):
                var out = OrderedMap<Node>()
                for item in items {
                    guard let name = item.string else { throw fail("invalid depends_on entry", item, path) }
                    out[name] = Node(
                        .map(dependsOnEntry(condition: "service_started", required: true, restart: nil)),
                        origin: item.origin)
                }
                return Node(.map(out), origin: origin)
            default:
                throw fail("invalid type \(node.typeName) for depends_on", node, path)
            }
        case .envFile:
            func entry(_ n: Node) -> Node {
                if let s = n.string {
                    return Node.object(["path": .string(s, origin: n.origin), "required": .bool(true)], origin: n.origin)
                }
                if var m = n.map {
                    if m["required"] == nil { m["required"] = .bool(true) }
                    return Node(.map(m), origin: n.origin)
                }
                return n
            }
            if node.string != nil { return Node(.seq([entry(node)]), origin: origin) }
            guard let items = node.seq else { throw fail("invalid type \(node.typeName) for env_file", node, path) }
            return Node(.seq(items.map(entry)), origin: origin)
        case .stringOrList:
            if node.string != nil { return Node(.seq([node]), origin: origin) }
            return node
        case .gpus:
            if node.string != nil {
                return Node(.seq([Node.object(["count": .string("all")], origin: origin)]), origin: origin)
            }
            return try recurse(node, path: path)
        case .serviceNetworks:
            guard let items = node.seq else { return node }
            var out = OrderedMap<Node>()
            for item in items {
                if let name = item.scalarText { out[name] = Node(.null, origin: item.origin) }
            }
            return Node(.map(out), origin: origin)
        case .volumeMount:
            guard let s = node.string else { return node }
            do {
                return try VolumeSpec.parse(s).node(origin: origin)
            } catch {
                throw fail(error.description, node, path)
            }
        case .deviceMapping:
            guard let s = node.string else { return node }
            let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 3 else {
                throw fail("confusing device mapping, please use long syntax: \(s)", node, path)
            }
            let source = parts[0]
            let target = parts.count > 1 && !parts[1].isEmpty ? parts[1] : source
            let permissions = parts.count > 2 ? parts[2] : "rwm"
            return Node.object(
                ["source": .string(source), "target": .string(target), "permissions": .string(permissions)],
                origin: origin)
        case .fileMount:
            if let s = node.string { return Node.object(["source": .string(s, origin: origin)], origin: origin) }
            guard node.map != nil else { throw fail("unsupported type \(node.typeName)", node, path) }
            return node
        case .ports:
            guard let items = node.seq else { throw fail("invalid type \(node.typeName) for port", node, path) }
            var out: [Node] = []
            for (i, item) in items.enumerated() {
                switch item.kind {
                case .int, .string:
                    let text = item.scalarText ?? ""
                    let mappings: [PortSpec.Mapping]
                    do {
                        mappings = try PortSpec.parse(text)
                    } catch {
                        throw fail(error.description, item, path.appending(i))
                    }
                    for p in mappings {
                        var m = OrderedMap<Node>()
                        m["mode"] = .string("ingress")
                        if !p.hostIP.isEmpty { m["host_ip"] = .string(p.hostIP) }
                        m["target"] = .int(Int64(p.target))
                        if !p.published.isEmpty { m["published"] = .string(p.published) }
                        m["protocol"] = .string(p.proto)
                        out.append(Node(.map(m), origin: item.origin))
                    }
                case .map(var m):
                    if let published = m["published"], case .int(let v) = published.kind {
                        m["published"] = .string(String(v), origin: published.origin)
                    }
                    out.append(Node(.map(m), origin: item.origin))
                default:
                    throw fail("invalid type \(item.typeName) for port", item, path.appending(i))
                }
            }
            return Node(.seq(out), origin: origin)
        case .ulimits:
            switch node.kind {
            case .map, .int: return node
            default: throw fail("invalid type \(node.typeName) for ulimits", node, path)
            }
        case .maybeExternal:
            guard node.map != nil else { return node }
            var resource = try recurse(node, path: path)
            guard let ext = resource["external"], let external = ext.map else { return resource }
            resource["external"] = Node(.bool(true), origin: ext.origin)
            if let extName = external["name"] {
                if let name = resource["name"] {
                    if name != extName {
                        throw fail("name and external.name conflict; only use name", node, path)
                    }
                } else {
                    resource["name"] = extName
                }
            }
            return resource
        case .include:
            if node.string != nil { return Node.object(["path": node], origin: origin) }
            return node
        case .keyValue:
            guard let items = node.seq else { return node }
            var out = OrderedMap<Node>()
            for item in items {
                guard let s = item.string, let eq = s.firstIndex(of: "=") else {
                    throw fail("invalid value \(item.scalarText ?? ""), expected key=value", item, path)
                }
                out[String(s[..<eq])] = .string(String(s[s.index(after: eq)...]), origin: item.origin)
            }
            return Node(.map(out), origin: origin)
        case .ssh:
            return node
        }
    }

    /// compose-go's OmitEmpty: null or empty `dns` entries mean nothing.
    static func omitEmptyDNS(_ dict: Node) -> Node {
        guard var services = dict["services"]?.map else { return dict }
        for (name, var service) in services {
            guard let dns = service["dns"]?.seq else { continue }
            service["dns"] = Node(.seq(dns.filter { !$0.isNull && $0.string != "" }), origin: service["dns"]?.origin)
            services[name] = service
        }
        var out = dict
        out["services"] = Node(.map(services), origin: dict["services"]?.origin)
        return out
    }

    static func dependsOnEntry(condition: String, required: Bool, restart: Bool?) -> OrderedMap<Node> {
        var m = OrderedMap<Node>()
        m["condition"] = .string(condition)
        if let restart { m["restart"] = .bool(restart) }
        m["required"] = .bool(required)
        return m
    }
}
