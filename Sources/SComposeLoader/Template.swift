// SPDX-License-Identifier: Apache-2.0

/// Variable substitution in compose values: `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`,
/// nested templates in defaults, and `$$` for a literal `$`.
public enum Template {
    /// Why a template could not be substituted.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// `${` without a valid name or closing brace.
        case invalid(template: String)
        /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing (or empty).
        case missingRequired(variable: String, reason: String)

        public var description: String {
            switch self {
            case .invalid(let template): return "invalid template: \"\(template)\""
            case .missingRequired(let variable, let reason):
                if reason.isEmpty { return "required variable \(variable) is missing a value" }
                return "required variable \(variable) is missing a value: \(reason)"
            }
        }
    }

    /// Looks a variable up; nil when unset.
    public typealias Lookup = (String) -> String?

    /// Substitutes every template in `text`. `unset` collects names that were used but not set.
    public static func substitute(_ text: String, lookup: Lookup, unset: inout [String]) throws(Failure) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        let chars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                out.append("$")
                i += 2
            } else if isNameStart(next) {
                var j = i + 1
                while j < chars.count && isNameChar(chars[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(chars[(i + 1)..<j]))
                if let v = lookup(name) {
                    out.append(contentsOf: v.unicodeScalars)
                } else {
                    unset.append(name)
                }
                i = j
            } else if next == "{" {
                guard let close = closingBrace(chars, from: i) else {
                    throw .invalid(template: text)
                }
                let body = String(String.UnicodeScalarView(chars[(i + 2)..<close]))
                let value = try substituteBraced(body, template: text, lookup: lookup, unset: &unset)
                out.append(contentsOf: value.unicodeScalars)
                i = close + 1
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(out)
    }

    /// Finds the `}` closing the `${` at `start`, counting nested `${` (as compose-go does).
    private static func closingBrace(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var depth = 0
        var i = start
        while i < chars.count {
            if chars[i] == "}" {
                depth -= 1
                if depth == 0 { return i }
            } else if chars[i] == "$" && i + 1 < chars.count && chars[i + 1] == "{" {
                depth += 1
                i += 1
            }
            i += 1
        }
        return nil
    }

    private static func substituteBraced(
        _ body: String, template: String, lookup: Lookup, unset: inout [String]
    ) throws(Failure) -> String {
        let scalars = Array(body.unicodeScalars)
        guard let first = scalars.first, isNameStart(first) else { throw .invalid(template: template) }
        var j = 1
        while j < scalars.count && isNameChar(scalars[j]) { j += 1 }
        let name = String(String.UnicodeScalarView(scalars[0..<j]))
        if j == scalars.count {
            if let v = lookup(name) { return v }
            unset.append(name)
            return ""
        }
        var colon = false
        var k = j
        if scalars[k] == ":" {
            colon = true
            k += 1
        }
        guard k < scalars.count, ["-", "+", "?"].contains(scalars[k]) else {
            throw .invalid(template: template)
        }
        let op = scalars[k]
        let argument = String(String.UnicodeScalarView(scalars[(k + 1)...]))
        let value = lookup(name)
        let isSet = value != nil
        let nonEmpty = !(value ?? "").isEmpty
        // compose-go substitutes the argument before deciding, so errors inside it surface.
        let resolved = try substitute(argument, lookup: lookup, unset: &unset)
        switch op {
        case "-":
            if colon ? nonEmpty : isSet { return value ?? "" }
            return resolved
        case "+":
            if colon ? nonEmpty : isSet { return resolved }
            return ""
        default:
            if colon ? nonEmpty : isSet { return value ?? "" }
            throw .missingRequired(variable: name, reason: resolved)
        }
    }

    private static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
    }

    private static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        isNameStart(c) || (c >= "0" && c <= "9")
    }
}
