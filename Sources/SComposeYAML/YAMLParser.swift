// SPDX-License-Identifier: Apache-2.0
import CYAML

/// A YAML syntax or structure error with the position where it was found.
public struct YAMLError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, without the position.
    public var message: String
    /// Where, when known.
    public var mark: YAMLMark?

    /// Creates an error.
    public init(_ message: String, mark: YAMLMark?) {
        self.message = message
        self.mark = mark
    }

    public var description: String {
        if let mark { return "line \(mark.line), column \(mark.column): \(message)" }
        return message
    }
}

/// Parses YAML text with libyaml into `YAMLNode` documents.
public struct YAMLParser: Sendable {
    /// The most nodes one document may expand to through aliases: a "billion laughs" file
    /// becomes an error instead of exhausting memory.
    public var maxExpandedNodes: Int
    /// The deepest nesting accepted; deeper input is an error rather than a stack overflow later.
    public var maxDepth: Int

    /// Creates a parser with limits far above any real compose file.
    public init(maxExpandedNodes: Int = 1_000_000, maxDepth: Int = 500) {
        self.maxExpandedNodes = maxExpandedNodes
        self.maxDepth = maxDepth
    }

    /// Parses every document of a stream. An empty stream gives no documents.
    public func parse(_ text: String) throws(YAMLError) -> [YAMLNode] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        let result: Result<[YAMLNode], YAMLError> = bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return .success([]) }
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                return .failure(YAMLError("cannot initialize the YAML parser", mark: nil))
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            var builder = Builder(maxExpandedNodes: maxExpandedNodes, maxDepth: maxDepth)
            do throws(YAMLError) {
                while true {
                    var event = yaml_event_t()
                    guard yaml_parser_parse(&parser, &event) == 1 else {
                        return .failure(Self.parserError(&parser))
                    }
                    defer { yaml_event_delete(&event) }
                    if event.type == YAML_STREAM_END_EVENT { break }
                    try builder.handle(&event)
                }
            } catch {
                return .failure(error)
            }
            return .success(builder.documents)
        }
        return try result.get()
    }

    private static func parserError(_ parser: inout yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let mark = YAMLMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        if let context { return YAMLError("\(problem) \(context)", mark: mark) }
        return YAMLError(problem, mark: mark)
    }
}

/// Turns the event stream into trees. Iterative, so deep input cannot overflow the stack.
private struct Builder {
    /// An open collection. A struct mutated where it lies in `stack`: its array grows in
    /// place (popped into a pattern-bound copy, every append copied the whole collection,
    /// which made a mapping of n keys cost n²).
    struct Frame {
        enum Kind { case sequence, mapping }
        var kind: Kind
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var pendingKey: YAMLNode?
        var tag: String?
        var anchor: String?
        var mark: YAMLMark
    }

    let maxExpandedNodes: Int
    let maxDepth: Int
    var documents: [YAMLNode] = []
    var stack: [Frame] = []
    var anchors: [String: YAMLNode] = [:]
    var expanded = 0
    var root: YAMLNode?

    init(maxExpandedNodes: Int, maxDepth: Int) {
        self.maxExpandedNodes = maxExpandedNodes
        self.maxDepth = maxDepth
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    static func mark(_ m: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    mutating func handle(_ event: inout yaml_event_t) throws(YAMLError) {
        let mark = Self.mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
            expanded = 0
            root = nil
        case YAML_DOCUMENT_END_EVENT:
            documents.append(root ?? YAMLNode(.scalar("", .plain), mark: mark))
            root = nil
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value: String
            if let v = s.value {
                let raw = UnsafeRawBufferPointer(start: v, count: s.length)
                value = String(decoding: raw, as: UTF8.self)
            } else {
                value = ""
            }
            let style: YAMLScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let node = YAMLNode(.scalar(value, style), tag: Self.string(s.tag), mark: mark)
            try add(node, anchor: Self.string(s.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard var node = anchors[name] else {
                throw YAMLError("unknown anchor '\(name)' referenced", mark: mark)
            }
            node.mark = mark
            node.alias = name
            try add(node, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            try push(Frame(kind: .sequence, tag: Self.string(s.tag), anchor: Self.string(s.anchor), mark: mark), mark: mark)
        case YAML_MAPPING_START_EVENT:
            let m = event.data.mapping_start
            try push(Frame(kind: .mapping, tag: Self.string(m.tag), anchor: Self.string(m.anchor), mark: mark), mark: mark)
        case YAML_SEQUENCE_END_EVENT:
            guard let frame = stack.popLast(), frame.kind == .sequence else {
                throw YAMLError("unbalanced sequence", mark: mark)
            }
            try add(YAMLNode(.sequence(frame.items), tag: frame.tag, mark: frame.mark), anchor: frame.anchor, counted: true)
        case YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast(), frame.kind == .mapping else {
                throw YAMLError("unbalanced mapping", mark: mark)
            }
            let merged = try Self.applyMergeKeys(frame.pairs)
            try add(YAMLNode(.mapping(merged), tag: frame.tag, mark: frame.mark), anchor: frame.anchor, counted: true)
        default:
            break
        }
    }

    mutating func push(_ frame: Frame, mark: YAMLMark) throws(YAMLError) {
        if stack.count >= maxDepth {
            throw YAMLError("document nested deeper than \(maxDepth) levels", mark: mark)
        }
        stack.append(frame)
    }

    /// Adds a finished node to the open collection. `counted` collections were already
    /// charged for their children as those arrived; scalars and aliases are charged here.
    mutating func add(_ node: YAMLNode, anchor: String?, counted: Bool = false) throws(YAMLError) {
        expanded &+= counted ? 1 : node.weight
        if expanded > maxExpandedNodes || node.weight > maxExpandedNodes {
            throw YAMLError(
                "document expands to more than \(maxExpandedNodes) nodes (excessive aliasing)", mark: node.mark)
        }
        if let anchor { anchors[anchor] = node }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        switch stack[top].kind {
        case .sequence:
            stack[top].items.append(node)
        case .mapping:
            if let key = stack[top].pendingKey {
                stack[top].pendingKey = nil
                stack[top].pairs.append(YAMLPair(key: key, value: node))
            } else {
                stack[top].pendingKey = node
            }
        }
    }

    static func isMergeKey(_ node: YAMLNode) -> Bool {
        guard case .scalar(let text, let style) = node.content else { return false }
        if node.tag == YAMLTag.merge { return true }
        return text == "<<" && style == .plain && node.tag == nil
    }

    /// Applies `<<` merge keys the way go-yaml v3 does: explicit keys win over merged ones, and
    /// in `<<: [*a, *b]` the earlier mapping wins. Also rejects duplicate keys.
    static func applyMergeKeys(_ pairs: [YAMLPair]) throws(YAMLError) -> [YAMLPair] {
        var seen: [String: YAMLMark] = [:]
        var hasMerge = false
        for pair in pairs {
            if isMergeKey(pair.key) {
                hasMerge = true
                continue
            }
            if case .scalar(let text, _) = pair.key.content {
                if let first = seen[text] {
                    throw YAMLError("mapping key \"\(text)\" already defined at line \(first.line)", mark: pair.key.mark)
                }
                seen[text] = pair.key.mark
            }
        }
        guard hasMerge else { return pairs }
        var result: [YAMLPair] = []
        var defined = Set(seen.keys)
        for pair in pairs {
            guard isMergeKey(pair.key) else {
                result.append(pair)
                continue
            }
            var sources: [YAMLNode] = []
            switch pair.value.content {
            case .mapping:
                sources = [pair.value]
            case .sequence(let items):
                sources = items
            case .scalar:
                throw YAMLError("map merge requires map or sequence of maps as the value", mark: pair.value.mark)
            }
            for source in sources {
                guard case .mapping(let merged) = source.content else {
                    throw YAMLError("map merge requires map or sequence of maps as the value", mark: source.mark)
                }
                for entry in merged {
                    guard case .scalar(let text, _) = entry.key.content else {
                        result.append(entry)
                        continue
                    }
                    if defined.contains(text) { continue }
                    defined.insert(text)
                    result.append(entry)
                }
            }
        }
        return result
    }
}
