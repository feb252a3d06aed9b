// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeYAML

// The compose model's side of `SComposeOS.JSONValue`: floats in Go's form, and the value as a
// YAML node for `config`'s YAML output.
extension JSONValue {
    /// A float, written as Go's encoder writes it.
    public static func double(_ d: Double) -> JSONValue { .number(goNumberText(d)) }

    /// A float as Go's encoder prints it (integral values without a fraction).
    static func goNumberText(_ d: Double) -> String {
        if d.isNaN || d.isInfinite { return "null" }
        // Integral values below 1e21 print in full (past Int64's range too: 1e20).
        if d == d.rounded(), abs(d) < 1e21 { return (d < 0 ? "-" : "") + String(UInt128(abs(d))) }
        return GoNumber.formatFloat(d)
    }

    /// The number as an integer (a float's fraction dropped, as Go's decoder into an int).
    var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        return Int64(text) ?? Double(text).flatMap { Int64(exactly: $0.rounded(.towardZero)) }
    }

    /// The number as a float.
    var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// The same value as a YAML node tree for the emitter (strings tagged so they get quoted when needed).
    public func yamlNode() -> YAMLNode {
        switch self {
        case .null: return .scalar("null")
        case .bool(let b): return .scalar(b ? "true" : "false")
        case .number(let text): return .scalar(text)
        case .string(let s): return .scalar(s, tag: YAMLTag.str)
        case .array(let items): return YAMLNode(.sequence(items.map { $0.yamlNode() }))
        case .object(let pairs):
            return YAMLNode(.mapping(pairs.map { YAMLPair(key: .scalar($0.0, tag: YAMLTag.str), value: $0.1.yamlNode()) }))
        }
    }
}
