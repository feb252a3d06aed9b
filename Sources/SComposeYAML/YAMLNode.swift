// SPDX-License-Identifier: Apache-2.0

/// A position in a YAML source, 1-based like editors show it.
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column number.
    public var column: Int

    /// Creates a mark.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written: quoting matters because only plain scalars are typed
/// (`"8080"` stays a string, `8080` becomes an integer).
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A key/value entry of a YAML mapping, in source order.
public struct YAMLPair: Sendable {
    /// The key node (a scalar in every compose file, but YAML allows any node).
    public var key: YAMLNode
    /// The value node.
    public var value: YAMLNode

    /// Creates a pair.
    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// One node of a parsed YAML document: aliases are already expanded and `<<` merge keys
/// already applied; tags, scalar styles and source positions are kept.
public struct YAMLNode: Sendable {
    /// What the node holds.
    public enum Content: Sendable {
        case scalar(String, YAMLScalarStyle)
        case sequence([YAMLNode])
        case mapping([YAMLPair])
    }

    /// The node's content.
    public var content: Content
    /// The explicit tag, as written after expansion of `!!` (e.g. `!reset`,
    /// `tag:yaml.org,2002:str`), or nil when the node had none.
    public var tag: String?
    /// Where the node starts.
    public var mark: YAMLMark
    /// Number of nodes in this subtree once aliases are expanded; bounds alias bombs.
    public var weight: Int
    /// The anchor name when this node was written as an alias (`*name`).
    public var alias: String?

    /// Creates a node; the weight is computed from the children.
    public init(_ content: Content, tag: String? = nil, mark: YAMLMark = YAMLMark(line: 0, column: 0)) {
        self.content = content
        self.tag = tag
        self.mark = mark
        switch content {
        case .scalar: weight = 1
        case .sequence(let items): weight = items.reduce(1) { $0 &+ $1.weight }
        case .mapping(let pairs): weight = pairs.reduce(1) { $0 &+ $1.key.weight &+ $1.value.weight }
        }
    }

    /// A plain or quoted scalar node.
    public static func scalar(_ text: String, style: YAMLScalarStyle = .plain, tag: String? = nil) -> YAMLNode {
        YAMLNode(.scalar(text, style), tag: tag)
    }

    /// The scalar text when the node is a scalar.
    public var scalarText: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }
}

/// The standard tags of the YAML core schema, as libyaml reports them after `!!` expansion.
public enum YAMLTag {
    public static let str = "tag:yaml.org,2002:str"
    public static let int = "tag:yaml.org,2002:int"
    public static let float = "tag:yaml.org,2002:float"
    public static let bool = "tag:yaml.org,2002:bool"
    public static let null = "tag:yaml.org,2002:null"
    public static let merge = "tag:yaml.org,2002:merge"
    public static let map = "tag:yaml.org,2002:map"
    public static let seq = "tag:yaml.org,2002:seq"
    public static let binary = "tag:yaml.org,2002:binary"
    public static let timestamp = "tag:yaml.org,2002:timestamp"
}
