// SPDX-License-Identifier: Apache-2.0
import SComposeYAML
import Synchronization

/// Where a value came from: a file and a position in it.
///
/// The file is kept as a number into a process-wide table of names, so that copying nodes
/// (which every loading stage does) does not retain a string per node.
public struct Origin: Sendable, Hashable, CustomStringConvertible {
    private let fileID: Int32
    /// The position in that file.
    public var mark: YAMLMark

    /// Creates an origin.
    public init(file: String, mark: YAMLMark) {
        self.fileID = FileNames.id(for: file)
        self.mark = mark
    }

    /// The file's path as the user named it (or as found).
    public var file: String { FileNames.name(for: fileID) }

    public var description: String { "\(file):\(mark.line):\(mark.column)" }
}

/// Interned file names for `Origin`.
enum FileNames {
    private static let table = Mutex<(names: [String], ids: [String: Int32])>(([], [:]))

    static func id(for name: String) -> Int32 {
        table.withLock { t in
            if let id = t.ids[name] { return id }
            let id = Int32(t.names.count)
            t.names.append(name)
            t.ids[name] = id
            return id
        }
    }

    static func name(for id: Int32) -> String {
        table.withLock { t in Int(id) < t.names.count ? t.names[Int(id)] : "" }
    }
}

/// A map that keeps insertion order; compose output order follows it where Compose's does.
/// Small maps (most of a compose file) are searched linearly, which beats hashing; large ones
/// get a hash index.
public struct OrderedMap<Value>: Sequence {
    private var entries: [(key: String, value: Value)] = []
    /// The keys again, in order: the linear search compares strings without copying each
    /// entry (a key and a whole node) out of `entries`.
    private var keyList: [String] = []
    private var index: [String: Int]?
    private static var indexThreshold: Int { 16 }

    /// Creates an empty map.
    public init() {}

    /// Number of entries.
    public var count: Int { entries.count }
    /// True when there are no entries.
    public var isEmpty: Bool { entries.isEmpty }
    /// The keys in order.
    public var keys: [String] { keyList }
    /// The values in key order.
    public var values: [Value] { entries.map(\.value) }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        for i in keyList.indices where keyList[i] == key { return i }
        return nil
    }

    private mutating func rebuildIndex() {
        guard entries.count > Self.indexThreshold else {
            index = nil
            return
        }
        var built: [String: Int] = [:]
        built.reserveCapacity(entries.count)
        for (i, key) in keyList.enumerated() { built[key] = i }
        index = built
    }

    /// Reads, replaces (keeping the position), appends, or removes (with nil) an entry.
    public subscript(key: String) -> Value? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let i = position(of: key) {
                if let newValue {
                    entries[i].value = newValue
                } else {
                    entries.remove(at: i)
                    keyList.remove(at: i)
                    rebuildIndex()
                }
            } else if let newValue {
                entries.append((key, newValue))
                keyList.append(key)
                if index != nil {
                    index?[key] = entries.count - 1
                } else if entries.count > Self.indexThreshold {
                    rebuildIndex()
                }
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: Value)]> {
        entries.makeIterator()
    }

    /// Changes every value in place (no rehashing, no reallocation when uniquely held).
    public mutating func updateValues<E: Error>(_ body: (String, inout Value) throws(E) -> Void) throws(E) {
        for i in entries.indices {
            try body(entries[i].key, &entries[i].value)
        }
    }

    /// Sorts keys in place.
    public mutating func sortKeys() {
        entries.sort { $0.key < $1.key }
        keyList = entries.map(\.key)
        rebuildIndex()
    }

    /// Applies a transform to every value, keeping order.
    public func mapValues<T>(_ transform: (Value) throws -> T) rethrows -> OrderedMap<T> {
        // The keys are already unique: no lookups.
        var out = OrderedMap<T>()
        out.entries = try entries.map { ($0.key, try transform($0.value)) }
        out.keyList = keyList
        out.index = index
        return out
    }
}

extension OrderedMap: Sendable where Value: Sendable {}
extension OrderedMap: Equatable where Value: Equatable {
    /// Same keys and values, in any order (like Go's `reflect.DeepEqual` on maps).
    public static func == (lhs: OrderedMap, rhs: OrderedMap) -> Bool {
        lhs.count == rhs.count && lhs.allSatisfy { rhs[$0.key] == $0.value }
    }
}

/// The untyped tree the loading stages work on, like compose-go's `map[string]any`,
/// with the source position of every value so errors can name file, line and column.
public struct Node: Sendable, Equatable {
    /// The value.
    public enum Kind: Sendable, Equatable {
        case null
        case bool(Bool)
        case int(Int64)
        case float(Double)
        case string(String)
        case seq([Node])
        case map(OrderedMap<Node>)
    }

    /// Merge directives written as YAML tags.
    public enum Directive: Sendable, Equatable {
        /// `!reset`: drop the value inherited from earlier files.
        case reset
        /// `!override`: replace instead of merging.
        case override
    }

    /// The value.
    public var kind: Kind
    /// Where it was written, when it came from a file.
    public var origin: Origin?
    /// A merge directive written on it.
    public var directive: Directive?

    /// Creates a node.
    public init(_ kind: Kind, origin: Origin? = nil, directive: Directive? = nil) {
        self.kind = kind
        self.origin = origin
        self.directive = directive
    }

    public static func == (lhs: Node, rhs: Node) -> Bool { lhs.kind == rhs.kind }

    /// Changes each child in place: values of a mapping (with their key) or items of a sequence (key nil).
    mutating func updateChildren<E: Error>(_ body: (ModelPath.Component, inout Node) throws(E) -> Void) throws(E) {
        switch kind {
        case .map(var m):
            kind = .null  // drop the second reference so the storage is mutated in place
            defer { kind = .map(m) }
            try m.updateValues { (key: String, value: inout Node) throws(E) in try body(.key(key), &value) }
        case .seq(var items):
            kind = .null
            defer { kind = .seq(items) }
            for i in items.indices { try body(.index(i), &items[i]) }
        default:
            break
        }
    }

    // MARK: - Convenience

    public static var null: Node { Node(.null) }
    public static func string(_ s: String, origin: Origin? = nil) -> Node { Node(.string(s), origin: origin) }
    public static func int(_ i: Int64) -> Node { Node(.int(i)) }
    public static func bool(_ b: Bool) -> Node { Node(.bool(b)) }
    public static func seq(_ items: [Node], origin: Origin? = nil) -> Node { Node(.seq(items), origin: origin) }
    public static func map(_ m: OrderedMap<Node>, origin: Origin? = nil) -> Node { Node(.map(m), origin: origin) }
    public static func object(_ pairs: KeyValuePairs<String, Node>, origin: Origin? = nil) -> Node {
        var m = OrderedMap<Node>()
        for (k, v) in pairs { m[k] = v }
        return Node(.map(m), origin: origin)
    }

    public var isNull: Bool { if case .null = kind { return true } else { return false } }
    public var string: String? { if case .string(let s) = kind { return s } else { return nil } }
    public var map: OrderedMap<Node>? { if case .map(let m) = kind { return m } else { return nil } }
    public var seq: [Node]? { if case .seq(let s) = kind { return s } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = kind { return b } else { return nil } }
    public var int: Int64? { if case .int(let i) = kind { return i } else { return nil } }

    /// Reads a key of a mapping.
    public subscript(key: String) -> Node? {
        get { map?[key] }
        set {
            guard case .map(var m) = kind else { return }
            m[key] = newValue
            kind = .map(m)
        }
    }

    /// The scalar as text the way Go's `fmt.Sprint` prints it (for values that compose
    /// turns into strings, like environment values and labels).
    public var scalarText: String? {
        switch kind {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .float(let d): return GoNumber.formatFloat(d)
        case .bool(let b): return b ? "true" : "false"
        case .null, .seq, .map: return nil
        }
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch kind {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .float: return "number"
        case .string: return "string"
        case .seq: return "array"
        case .map: return "object"
        }
    }
}

extension Node {
    /// Builds the loader tree from a YAML node: scalars typed as go-yaml v3 types them,
    /// mapping keys made strings, `!reset` and `!override` recorded.
    public static func from(yaml: YAMLNode, file: String) throws(LoaderError) -> Node {
        var aliases = AliasTracker()
        let template = Origin(file: file, mark: yaml.mark)
        var path: [String] = []
        return try from(yaml: yaml, file: template, path: &path, aliases: &aliases)
    }

    /// compose-go rejects an alias used inside (or around) another use of the same anchor,
    /// which it reports as a cycle; the paths are compared as dotted strings, as it does.
    struct AliasTracker {
        var visited: [String: [String]] = [:]

        mutating func visit(_ anchor: String, at path: [String], origin: Origin) throws(LoaderError) {
            let current = path.joined(separator: ".")
            for previous in visited[anchor] ?? [] where previous != current {
                if current.hasPrefix(previous + ".") || previous.hasPrefix(current + ".") {
                    throw LoaderError(
                        .invalid,
                        "failed to parse \(origin.file): cycle detected: node at path \(current) references node at path \(previous)",
                        origin: origin)
                }
            }
            visited[anchor, default: []].append(current)
        }
    }

    static func from(yaml: YAMLNode, file: Origin, path: inout [String], aliases: inout AliasTracker) throws(LoaderError)
        -> Node
    {
        var origin = file
        origin.mark = yaml.mark
        if let anchor = yaml.alias { try aliases.visit(anchor, at: path, origin: origin) }
        var directive: Directive?
        switch yaml.tag {
        case "!reset": directive = .reset
        case "!override": directive = .override
        default: break
        }
        switch yaml.content {
        case .scalar(let text, let style):
            let tag = directive == nil ? yaml.tag : nil
            let kind: Kind
            switch ScalarResolver.resolve(text, style: style, tag: tag) {
            case .null: kind = .null
            case .bool(let b): kind = .bool(b)
            case .int(let i): kind = .int(i)
            case .uint(let u): kind = .float(Double(u))
            case .float(let d): kind = .float(d)
            case .string(let s): kind = .string(s)
            }
            return Node(kind, origin: origin, directive: directive)
        case .sequence(let items):
            var out: [Node] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                path.append(String(i))
                defer { path.removeLast() }
                out.append(try from(yaml: item, file: file, path: &path, aliases: &aliases))
            }
            return Node(.seq(out), origin: origin, directive: directive)
        case .mapping(let pairs):
            var m = OrderedMap<Node>()
            for pair in pairs {
                var keyOrigin = file
                keyOrigin.mark = pair.key.mark
                let key: String
                switch pair.key.content {
                case .scalar(let text, let style):
                    // go-yaml gives typed keys for `1:` or `true:`; compose-go rejects them.
                    guard case .string = ScalarResolver.resolve(text, style: style, tag: pair.key.tag) else {
                        throw LoaderError(.invalid, "non-string key: \(text)", origin: keyOrigin)
                    }
                    key = text
                default:
                    throw LoaderError(.invalid, "mapping keys must be scalars", origin: keyOrigin)
                }
                path.append(key)
                defer { path.removeLast() }
                m[key] = try from(yaml: pair.value, file: file, path: &path, aliases: &aliases)
            }
            return Node(.map(m), origin: origin, directive: directive)
        }
    }
}
