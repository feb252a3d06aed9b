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
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(into: &out, level: 0, indent: Array(indent.utf8), sortKeys: sortKeys)
        return String(decoding: out, as: UTF8.self)
    }

    /// JSON on one line, keys in their order (as `docker … --format json` prints rows).
    public func compactText() -> String {
        var out: [UInt8] = []
        writeCompact(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func writeCompact(into out: inout [UInt8]) {
        switch self {
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.writeCompact(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.quote(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.writeCompact(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        default:
            write(into: &out, level: 0, indent: [], sortKeys: false)
        }
    }

    private func write(into out: inout [UInt8], level: Int, indent: [UInt8], sortKeys: Bool) {
        func pad(_ n: Int) {
            for _ in 0..<n { out.append(contentsOf: indent) }
        }
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: JSONValue.number(d).utf8)
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(contentsOf: "[\n".utf8)
            for (i, item) in items.enumerated() {
                pad(level + 1)
                item.write(into: &out, level: level + 1, indent: indent, sortKeys: sortKeys)
                if i < items.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            pad(level)
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            if pairs.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            let ordered = sortKeys ? pairs.sorted { $0.0 < $1.0 } : pairs
            out.append(contentsOf: "{\n".utf8)
            for (i, (k, v)) in ordered.enumerated() {
                pad(level + 1)
                JSONValue.quote(k, into: &out)
                out.append(contentsOf: ": ".utf8)
                v.write(into: &out, level: level + 1, indent: indent, sortKeys: sortKeys)
                if i < ordered.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            pad(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A float as Go's encoder prints it (integral values without a fraction).
    static func number(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        // Integral values below 1e21 print in full (past Int64's range too: 1e20).
        if d == d.rounded(), abs(d) < 1e21 { return (d < 0 ? "-" : "") + String(UInt128(abs(d))) }
        return GoNumber.formatFloat(d)
    }

    /// A JSON string literal.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        quote(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
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
