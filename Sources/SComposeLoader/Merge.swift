// SPDX-License-Identifier: Apache-2.0

/// Merges a later compose file (or extending service) into an earlier one with the
/// compose-spec rules: mappings merge key by key, sequences append, scalars are replaced,
/// and the paths in `specials` have rules of their own.
public enum Merge {
    enum Rule: Sendable {
        case toSequence, override, dependsOn, networks, extraHosts, logging, build, ulimit, ipamConfig
    }

    static let specials = PathTable<Rule>([
        ("networks.*.ipam.config", .ipamConfig),
        ("networks.*.labels", .toSequence),
        ("volumes.*.labels", .toSequence),
        ("services.*.annotations", .toSequence),
        ("services.*.build", .build),
        ("services.*.build.args", .toSequence),
        ("services.*.build.additional_contexts", .toSequence),
        ("services.*.build.extra_hosts", .extraHosts),
        ("services.*.build.labels", .toSequence),
        ("services.*.command", .override),
        ("services.*.depends_on", .dependsOn),
        ("services.*.deploy.labels", .toSequence),
        ("services.*.dns", .toSequence),
        ("services.*.dns_opt", .toSequence),
        ("services.*.dns_search", .toSequence),
        ("services.*.entrypoint", .override),
        ("services.*.env_file", .toSequence),
        ("services.*.label_file", .toSequence),
        ("services.*.environment", .toSequence),
        ("services.*.extra_hosts", .extraHosts),
        ("services.*.healthcheck.test", .override),
        ("services.*.labels", .toSequence),
        ("services.*.volumes.[].volume.labels", .toSequence),
        ("services.*.logging", .logging),
        ("services.*.networks", .networks),
        ("services.*.models", .networks),
        ("services.*.sysctls", .toSequence),
        ("services.*.tmpfs", .toSequence),
        ("services.*.ulimits.*", .ulimit),
    ])

    /// Merges `override` into `base`.
    public static func merge(_ base: Node, _ override: Node, path: ModelPath = ModelPath()) -> Node {
        if let rule = specials.lookup(path) {
            return apply(rule, base, override, path: path)
        }
        if override.isNull { return base }
        switch (base.kind, override.kind) {
        case (.map(let b), .map(let o)):
            return Node(.map(mergeMappings(b, o, path: path)), origin: base.origin)
        case (.seq(let b), .seq(let o)):
            return Node(.seq(b + o), origin: base.origin)
        default:
            return override
        }
    }

    static func mergeMappings(_ base: OrderedMap<Node>, _ other: OrderedMap<Node>, path: ModelPath) -> OrderedMap<Node> {
        var out = base
        for (key, value) in other {
            guard let existing = out[key] else {
                out[key] = value
                continue
            }
            out[key] = merge(existing, value, path: path.appending(key))
        }
        return out
    }

    static func apply(_ rule: Rule, _ base: Node, _ other: Node, path: ModelPath) -> Node {
        switch rule {
        case .override, .ulimit:
            return other
        case .toSequence:
            return Node(.seq(toSequence(base) + toSequence(other)), origin: other.origin ?? base.origin)
        case .extraHosts:
            let left = toSequence(base)
            let right = toSequence(other).filter { !left.contains($0) }
            return Node(.seq(left + right), origin: base.origin)
        case .dependsOn:
            let defaults = Node.object(["condition": .string("service_started"), "required": .bool(true)])
            let b = toMapping(base, defaultValue: defaults)
            let o = toMapping(other, defaultValue: defaults)
            return Node(.map(mergeMappings(b, o, path: path)), origin: base.origin)
        case .networks:
            let b = toMapping(base, defaultValue: nil)
            let o = toMapping(other, defaultValue: nil)
            return Node(.map(mergeMappings(b, o, path: path)), origin: base.origin)
        case .logging:
            guard let b = base.map, let o = other.map else { return other.isNull ? base : other }
            let d1 = o["driver"]
            let d2 = b["driver"]
            if d1 == nil || d2 == nil || d1 == d2 {
                return Node(.map(mergeMappings(b, o, path: path)), origin: base.origin)
            }
            return other
        case .build:
            func toBuild(_ n: Node) -> OrderedMap<Node> {
                if let s = n.string {
                    var m = OrderedMap<Node>()
                    m["context"] = .string(s, origin: n.origin)
                    return m
                }
                return n.map ?? OrderedMap()
            }
            return Node(.map(mergeMappings(toBuild(base), toBuild(other), path: path)), origin: base.origin)
        case .ipamConfig:
            return Node(.seq(mergeIPAMConfig(base.seq ?? [], other.seq ?? [], path: path)), origin: base.origin)
        }
    }

    static func mergeIPAMConfig(_ base: [Node], _ other: [Node], path: ModelPath) -> [Node] {
        var configs: [Node] = []
        func subnet(_ n: Node) -> Node? { n.map?["subnet"] }
        for original in base {
            let right = original.map ?? OrderedMap()
            for override in other {
                let left = override.map ?? OrderedMap()
                if left["subnet"] != right["subnet"] {
                    if !configs.contains(where: { subnet($0) == left["subnet"] }) {
                        configs.append(Node(.map(left), origin: override.origin))
                        continue
                    }
                }
                let merged = mergeMappings(right, left, path: path)
                if let i = configs.firstIndex(where: { subnet($0) == merged["subnet"] }) {
                    configs[i] = Node(.map(merged), origin: original.origin)
                } else {
                    configs.append(Node(.map(merged), origin: original.origin))
                }
            }
        }
        return configs
    }

    /// A mapping or list of `KEY=VALUE` written as a list (mappings sorted by key, as compose-go does).
    static func toSequence(_ node: Node) -> [Node] {
        switch node.kind {
        case .seq(let items): return items
        case .string: return [node]
        case .map(let m):
            var out: [Node] = []
            for (k, v) in m {
                switch v.kind {
                case .null: out.append(.string(k, origin: v.origin))
                case .seq(let items):
                    for item in items { out.append(.string("\(k)=\(item.scalarText ?? "")", origin: item.origin)) }
                default: out.append(.string("\(k)=\(goPrint(v))", origin: v.origin))
                }
            }
            return out.sorted { ($0.string ?? "") < ($1.string ?? "") }
        default: return []
        }
    }

    /// A list of names or a mapping, as a mapping (list entries get `defaultValue`).
    static func toMapping(_ node: Node, defaultValue: Node?) -> OrderedMap<Node> {
        switch node.kind {
        case .map(let m): return m
        case .seq(let items):
            var out = OrderedMap<Node>()
            for item in items {
                if let name = item.scalarText { out[name] = defaultValue ?? .null }
            }
            return out
        default: return OrderedMap()
        }
    }

    /// What Go's `fmt.Sprintf("%v")` prints for a decoded YAML value.
    static func goPrint(_ node: Node) -> String {
        if let s = node.scalarText { return s }
        switch node.kind {
        case .null: return "<nil>"
        case .seq(let items): return "[" + items.map(goPrint).joined(separator: " ") + "]"
        case .map(let m):
            let keys = m.keys.sorted()
            return "map[" + keys.map { "\($0):\(goPrint(m[$0] ?? .null))" }.joined(separator: " ") + "]"
        default: return ""
        }
    }
}

// MARK: - !reset and !override

extension Merge {
    /// Takes `!reset` and `!override` out of a file's tree: returns the tree without `!reset`
    /// values, and the paths whose earlier values must be removed before merging.
    static func extractDirectives(_ node: Node, path: ModelPath = ModelPath()) -> (Node?, [ModelPath]) {
        switch node.directive {
        case .reset?: return (nil, [path])
        case .override?:
            var n = node
            n.directive = nil
            return (n, [path])
        case nil: break
        }
        var paths: [ModelPath] = []
        switch node.kind {
        case .map(let m):
            var out = OrderedMap<Node>()
            for (k, v) in m {
                let (child, p) = extractDirectives(v, path: path.appending(k))
                paths += p
                if let child { out[k] = child }
            }
            return (Node(.map(out), origin: node.origin), paths)
        case .seq(let items):
            var out: [Node] = []
            // compose-go records list items by index but never matches them when applying, so a
            // tagged item only affects the current file's list.
            for (i, item) in items.enumerated() {
                let (child, p) = extractDirectives(item, path: path.appending(i))
                if item.directive == nil { paths += p }
                if let child { out.append(child) }
            }
            return (Node(.seq(out), origin: node.origin), paths)
        default:
            return (node, [])
        }
    }

    /// Removes the value at `path` from `node`.
    static func remove(_ path: ArraySlice<ModelPath.Component>, from node: inout Node) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        switch (first, node.kind) {
        case (.key(let k), .map(var m)):
            if rest.isEmpty {
                m[k] = nil
            } else if var child = m[k] {
                remove(rest, from: &child)
                m[k] = child
            }
            node.kind = .map(m)
        case (.index(let i), .seq(var items)) where i < items.count:
            if rest.isEmpty {
                items.remove(at: i)
            } else {
                remove(rest, from: &items[i])
            }
            node.kind = .seq(items)
        default:
            break
        }
    }
}
