// SPDX-License-Identifier: Apache-2.0
import SComposeYAML

/// A Kubernetes object's fields as a tree. Maps have no order of their own: they are written
/// with sorted keys, so the same project always gives the same bytes.
public indirect enum KubeNode: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case list([KubeNode])
    case map([String: KubeNode])
    /// A value users tune (image, replicas, a resource, a published port, a storage size): the
    /// value itself in manifests, `{{ .Values.<path> | toJson }}` in a Helm chart's templates
    /// with the value in `values.yaml`.
    case tunable([String], KubeNode)

    /// The node with tunable values replaced by their values.
    public var plain: KubeNode {
        switch self {
        case .string, .int, .bool: return self
        case .list(let items): return .list(items.map(\.plain))
        case .map(let pairs): return .map(pairs.mapValues(\.plain))
        case .tunable(_, let value): return value.plain
        }
    }

    /// The value at a key of a map.
    public subscript(key: String) -> KubeNode? {
        guard case .map(let pairs) = self else { return nil }
        return pairs[key]
    }
}

extension KubeNode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: KubeNode...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, KubeNode)...) {
        // A literal with a key twice is a programming error; the last one wins rather than trap.
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension KubeNode {
    /// A map of strings (labels, annotations, ConfigMap data).
    static func strings(_ values: [String: String]) -> KubeNode {
        .map(values.mapValues { .string($0) })
    }

    /// How `tunable` values are written.
    enum Style {
        /// The values themselves (manifests).
        case manifest
        /// Helm template expressions.
        case helm
    }

    /// The node as a YAML document, maps sorted by key. In Helm style each tunable value
    /// becomes an expression, written as it is.
    func yamlText(_ style: Style) -> String {
        YAMLEmitter().emit(Styled(node: self, style: style))
    }

    /// A node with the style it is written in: what the emitter walks (no `YAMLNode` tree is
    /// made for a thousand manifests).
    struct Styled: YAMLEmittable {
        var node: KubeNode
        var style: Style

        var yamlShape: YAMLShape<Styled> {
            switch node {
            case .string(let text): return .string(text)
            case .int(let value): return .verbatim(String(value))
            case .bool(let value): return .verbatim(value ? "true" : "false")
            case .list(let items): return .sequence(items.map { Styled(node: $0, style: style) })
            case .map(let pairs):
                // Keys are strings: written as such, `"on"`, `"80"` and the like are quoted.
                return .mapping(pairs.sorted { $0.key < $1.key }.map { (key: Styled(node: .string($0.key), style: style), value: Styled(node: $0.value, style: style)) })
            case .tunable(let path, let value):
                switch style {
                case .manifest: return Styled(node: value, style: style).yamlShape
                case .helm: return .verbatim("{{ " + HelmPath.expression(path) + " | toJson }}")
                }
            }
        }
    }

    /// Every tunable value of the tree, by its path (for `values.yaml`).
    func tunables(into values: inout [[String]: KubeNode]) {
        switch self {
        case .string, .int, .bool: return
        case .list(let items): for item in items { item.tunables(into: &values) }
        case .map(let pairs): for key in pairs.keys.sorted() { pairs[key]?.tunables(into: &values) }
        case .tunable(let path, let value): values[path] = value.plain
        }
    }
}

/// How a path into `values.yaml` is written in a template.
enum HelmPath {
    /// `.Values.a.b` when every step is a Go identifier, else `index .Values "a" "my-svc"`
    /// (a key with `-` cannot follow a dot in Go templates).
    static func expression(_ path: [String]) -> String {
        if path.allSatisfy(isIdentifier) { return ".Values." + path.joined(separator: ".") }
        return "index .Values " + path.map { YAMLEmitter.doubleQuoted($0) }.joined(separator: " ")
    }

    static func isIdentifier(_ text: String) -> Bool {
        func letter(_ c: Unicode.Scalar) -> Bool { c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c) }
        guard let first = text.unicodeScalars.first, letter(first) else { return false }
        return text.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }
}
