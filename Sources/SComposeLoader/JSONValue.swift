// SPDX-License-Identifier: Apache-2.0
import SComposeYAML

/// A JSON value with ordered object keys, and its text form.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of a key of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// JSON text with two-space indentation and keys sorted, as Go's encoder prints maps.
    public func text(indent: String = "  ", sortKeys: Bool = true) -> String {
        var out = ""
        write(into: &out, level: 0, indent: indent, sortKeys: sortKeys)
        return out
    }

    private func write(into out: inout String, level: Int, indent: String, sortKeys: Bool) {
        let pad = String(repeating: indent, count: level + 1)
        let closePad = String(repeating: indent, count: level)
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSONValue.number(d)
        case .string(let s): out += JSONValue.quote(s)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(into: &out, level: level + 1, indent: indent, sortKeys: sortKeys)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let pairs):
            if pairs.isEmpty {
                out += "{}"
                return
            }
            let ordered = sortKeys ? pairs.sorted { $0.0 < $1.0 } : pairs
            out += "{\n"
            for (i, (k, v)) in ordered.enumerated() {
                out += pad + JSONValue.quote(k) + ": "
                v.write(into: &out, level: level + 1, indent: indent, sortKeys: sortKeys)
                out += i == ordered.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        }
    }

    /// A float as Go's encoder prints it (integral values without a fraction).
    static func number(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        if d == d.rounded(), abs(d) < 1e21 { return String(Int64(d)) }
        return GoNumber.formatFloat(d)
    }

    /// A JSON string literal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The same value as a YAML node tree for the emitter (strings tagged so they get quoted when needed).
    public func yamlNode() -> YAMLNode {
        switch self {
        case .null: return .scalar("null")
        case .bool(let b): return .scalar(b ? "true" : "false")
        case .int(let i): return .scalar(String(i))
        case .double(let d): return .scalar(JSONValue.number(d))
        case .string(let s): return .scalar(s, tag: YAMLTag.str)
        case .array(let items): return YAMLNode(.sequence(items.map { $0.yamlNode() }))
        case .object(let pairs):
            return YAMLNode(.mapping(pairs.map { YAMLPair(key: .scalar($0.0, tag: YAMLTag.str), value: $0.1.yamlNode()) }))
        }
    }
}
