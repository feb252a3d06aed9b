// SPDX-License-Identifier: Apache-2.0

/// Writes `YAMLNode` trees as block-style YAML in the shape Docker Compose prints
/// (two-space indentation, sequences indented under their key, strings quoted only
/// when a plain scalar would read back as something else).
///
/// Scalars tagged `YAMLTag.str` are strings and get quoted when needed; untagged
/// scalars (numbers, booleans, null) are written as they are.
public struct YAMLEmitter: Sendable {
    /// Creates an emitter.
    public init() {}

    /// Renders one document, ending with a newline.
    @inlinable
    public func emit<Node: YAMLEmittable>(_ node: Node) -> String {
        var out = ""
        out.reserveCapacity(1024)
        switch node.yamlShape {
        case .mapping(let pairs) where !pairs.isEmpty:
            writeMapping(pairs[...], indent: 0, into: &out)
        case .sequence(let items) where !items.isEmpty:
            writeSequence(items, indent: 0, into: &out)
        case let shape:
            out += inline(shape, indent: 0)
            out += "\n"
        }
        return out
    }

    /// Indentation, appended in place: large outputs are made of many short lines, and a
    /// temporary string per line cost more than the text itself.
    @usableFromInline
    func pad(_ n: Int, into out: inout String) {
        out += n < Self.pads.count ? Self.pads[n] : String(repeating: " ", count: n)
    }

    @usableFromInline
    static let pads = (0..<48).map { String(repeating: " ", count: $0) }

    @inlinable
    func writeMapping<Node: YAMLEmittable>(_ pairs: ArraySlice<(key: Node, value: Node)>, indent: Int, into out: inout String) {
        for pair in pairs {
            pad(indent, into: &out)
            writeEntry(pair, indent: indent, into: &out)
        }
    }

    /// Writes `key: value` whose first line is already indented.
    @inlinable
    func writeEntry<Node: YAMLEmittable>(_ pair: (key: Node, value: Node), indent: Int, into out: inout String) {
        out += key(pair.key.yamlShape)
        out += ":"
        switch pair.value.yamlShape {
        case .mapping(let p) where !p.isEmpty:
            out += "\n"
            writeMapping(p[...], indent: indent + 2, into: &out)
        case .sequence(let s) where !s.isEmpty:
            out += "\n"
            writeSequence(s, indent: indent + 2, into: &out)
        case let shape:
            out += " "
            out += inline(shape, indent: indent + 2)
            out += "\n"
        }
    }

    @inlinable
    func writeSequence<Node: YAMLEmittable>(_ items: [Node], indent: Int, into out: inout String) {
        for item in items {
            pad(indent, into: &out)
            out += "-"
            switch item.yamlShape {
            case .mapping(let p) where !p.isEmpty:
                out += " "
                writeEntry(p[0], indent: indent + 2, into: &out)
                writeMapping(p.dropFirst(), indent: indent + 2, into: &out)
            case .sequence(let s) where !s.isEmpty:
                out += "\n"
                writeSequence(s, indent: indent + 2, into: &out)
            case let shape:
                out += " "
                out += inline(shape, indent: indent + 2)
                out += "\n"
            }
        }
    }

    /// A key: its text as a string (whatever its tag), `{}` or `[]` for a collection.
    @inlinable
    func key<Node>(_ shape: YAMLShape<Node>) -> String {
        switch shape {
        case .string(let text), .verbatim(let text): return Self.scalar(text, indent: 0, literal: nil)
        case .mapping: return "{}"
        case .sequence: return "[]"
        }
    }

    @inlinable
    func inline<Node>(_ shape: YAMLShape<Node>, indent: Int) -> String {
        switch shape {
        case .mapping: return "{}"
        case .sequence: return "[]"
        case .verbatim(let text): return text
        case .string(let text): return Self.scalar(text, indent: indent, literal: literal)
        }
    }

    /// A string scalar the way go-yaml writes it: double quotes when it would read back as
    /// another type, a literal block for multi-line text, single quotes when plain style is not
    /// allowed, double quotes for control characters.
    @usableFromInline
    static func scalar(_ text: String, indent: Int, literal: ((String, Int) -> String)?) -> String {
        if text.isEmpty || ScalarResolver.resolvePlain(text).isTyped || (text.utf8.count <= 3 && yaml11Words.contains(text)) {
            return doubleQuoted(text)
        }
        var newline = false
        var control = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x7f {
            if byte == UInt8(ascii: "\n") { newline = true } else if byte != UInt8(ascii: "\t") { control = true }
        }
        if newline, let literal, literalFriendly(text) { return literal(text, indent) }
        if newline || control { return doubleQuoted(text) }
        if needsQuotesAsString(text) { return "'" + text.replacing("'", with: "''") + "'" }
        return text
    }

    /// YAML 1.1 booleans go-yaml still quotes so older readers keep them strings.
    static let yaml11Words: Set<String> = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ]

    @usableFromInline
    func literal(_ text: String, indent: Int) -> String {
        var chomp = "-"
        var body = text
        if text.hasSuffix("\n") {
            chomp = ""
            body.removeLast()
            if body.hasSuffix("\n") {
                chomp = "+"
            }
        }
        let indicator = body.first == " " ? "2" : ""
        var out = "|" + indicator + chomp
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            out += "\n"
            if !line.isEmpty {
                pad(indent, into: &out)
                out += line
            }
        }
        return out
    }

    private static func literalFriendly(_ text: String) -> Bool {
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" { return false }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.hasSuffix(" ") {
            return false
        }
        return true
    }

    /// Whether a string must be quoted so that it reads back as the same string.
    public static func needsQuotes(_ text: String) -> Bool {
        if text.isEmpty { return true }
        if ScalarResolver.resolvePlain(text).isTyped { return true }
        return needsQuotesAsString(text)
    }

    /// `needsQuotes` for a text already known to read back as a string.
    private static func needsQuotesAsString(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return true }
        if first == " " || last == " " || first == "\t" || last == "\t" { return true }
        if Self.isIndicator(first) {
            // `-foo`, `:foo` and `?foo` are fine plain unless followed by a space.
            if first == "-" || first == "?" || first == ":" {
                let second = text.unicodeScalars.dropFirst().first
                if second == nil || second == " " { return true }
                if text == "---" || text.hasPrefix("--- ") { return true }
            } else {
                return true
            }
        }
        // One pass over the bytes for `: `, ` #`, a final `:` and control characters (ASCII
        // bytes: no byte of a multi-byte character is below 0x80); substring searches made this
        // the most of the time of writing a large manifest set.
        var previous: UInt8 = 0
        var nonASCII = false
        for byte in text.utf8 {
            if (previous == UInt8(ascii: ":") && byte == UInt8(ascii: " ")) || (previous == UInt8(ascii: " ") && byte == UInt8(ascii: "#")) {
                return true
            }
            if byte < 0x20 || byte == 0x7f { return true }
            if byte >= 0x80 { nonASCII = true }
            previous = byte
        }
        if previous == UInt8(ascii: ":") { return true }
        return nonASCII && text.unicodeScalars.contains("\u{FEFF}")
    }

    /// YAML's indicator characters, which a plain scalar may not start with (with exceptions).
    private static func isIndicator(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "-", "?", ":", ",", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`": return true
        default: return false
        }
    }

    /// A double-quoted YAML scalar with the escapes YAML defines.
    public static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\x" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// A tree `YAMLEmitter` writes as it walks it, without first copying it into `YAMLNode`s.
public protocol YAMLEmittable {
    /// The node, one level deep.
    var yamlShape: YAMLShape<Self> { get }
}

/// One level of a tree, as `YAMLEmitter` writes it.
public enum YAMLShape<Node> {
    /// A string: quoted when a plain scalar would read back as something else.
    case string(String)
    /// Written as it is: numbers, booleans, null, template expressions.
    case verbatim(String)
    case sequence([Node])
    /// Entries in the order they are written.
    case mapping([(key: Node, value: Node)])
}

extension YAMLNode: YAMLEmittable {
    /// Scalars tagged `YAMLTag.str` are strings; other scalars are written as they are.
    public var yamlShape: YAMLShape<YAMLNode> {
        switch content {
        case .scalar(let text, _): return tag == YAMLTag.str ? .string(text) : .verbatim(text)
        case .sequence(let items): return .sequence(items)
        case .mapping(let pairs): return .mapping(pairs.map { (key: $0.key, value: $0.value) })
        }
    }
}
