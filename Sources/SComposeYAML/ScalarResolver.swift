// SPDX-License-Identifier: Apache-2.0

/// The type a YAML scalar resolves to, following go-yaml v3 as Docker Compose uses it:
/// YAML 1.2 core booleans and nulls (`yes`/`on` stay strings), integers with Go's base
/// prefixes (`0x`, `0o`, `0b`, and 1.1-style `0755`), floats, and timestamps left as strings.
public enum ResolvedScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)

    /// True for everything but strings.
    public var isTyped: Bool {
        if case .string = self { return false }
        return true
    }
}

/// Resolves scalars to types.
public enum ScalarResolver {
    /// Resolves a scalar from its text, style and tag.
    public static func resolve(_ text: String, style: YAMLScalarStyle, tag: String?) -> ResolvedScalar {
        switch tag {
        case YAMLTag.str?: return .string(text)
        case YAMLTag.null?: return .null
        case YAMLTag.bool?, YAMLTag.int?, YAMLTag.float?:
            let plain = resolvePlain(text)
            return plain
        default: break
        }
        if style != .plain { return .string(text) }
        return resolvePlain(text)
    }

    /// Resolves a plain (unquoted) scalar.
    public static func resolvePlain(_ text: String) -> ResolvedScalar {
        guard let first = text.utf8.first else { return .null }
        // Every word below is at most six bytes and starts with one of these: most scalars
        // (names, paths, images) skip the string comparisons, which dominated large files.
        let mayBeWord = text.utf8.count <= 6
            && (first == UInt8(ascii: "~") || first == UInt8(ascii: "n") || first == UInt8(ascii: "N")
                || first == UInt8(ascii: "t") || first == UInt8(ascii: "T") || first == UInt8(ascii: "f")
                || first == UInt8(ascii: "F") || first == UInt8(ascii: ".") || first == UInt8(ascii: "+")
                || first == UInt8(ascii: "-"))
        if mayBeWord {
            switch text {
            case "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
            case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
            case ".nan", ".NaN", ".NAN": return .float(.nan)
            default: break
            }
        }
        let startsNumeric = (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
            || first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
        guard startsNumeric else { return .string(text) }
        let plain = text.replacingUnderscores()
        if let v = GoNumber.parseInt(plain) { return .int(v) }
        if let v = GoNumber.parseUInt(plain) { return .uint(v) }
        if GoNumber.isYAMLFloat(plain), let d = Double(plain) { return .float(d) }
        return .string(text)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        guard contains("_") else { return self }
        return String(unicodeScalars.filter { $0 != "_" }.map(Character.init))
    }
}

/// Number parsing with Go's `strconv` rules, which compose files are typed by.
public enum GoNumber {
    /// `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b`, a leading `0` for octal, or decimal.
    public static func parseInt(_ s: String) -> Int64? {
        var text = Substring(s)
        var negative = false
        if text.first == "+" || text.first == "-" {
            negative = text.first == "-"
            text = text.dropFirst()
        }
        guard let magnitude = parseMagnitude(text) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// `strconv.ParseUint(s, 0, 64)`.
    public static func parseUInt(_ s: String) -> UInt64? {
        if s.hasPrefix("+") || s.hasPrefix("-") { return nil }
        return parseMagnitude(Substring(s))
    }

    private static func parseMagnitude(_ text: Substring) -> UInt64? {
        var digits = text
        var radix = 10
        let lower = text.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            digits = text.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            digits = text.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            digits = text.dropFirst(2)
        } else if text.count > 1 && text.hasPrefix("0") {
            radix = 8
            digits = text.dropFirst(1)
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isHexDigit) }) else { return nil }
        return UInt64(digits, radix: radix)
    }

    /// go-yaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
    public static func isYAMLFloat(_ s: String) -> Bool {
        var bytes = Array(s.utf8)[...]
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        if let f = bytes.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        var mantissaDigits = 0
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            while let b = bytes.first, isDigit(b) {
                mantissaDigits += 1
                bytes = bytes.dropFirst()
            }
            if mantissaDigits == 0 { return false }
        } else {
            while let b = bytes.first, isDigit(b) {
                mantissaDigits += 1
                bytes = bytes.dropFirst()
            }
            if mantissaDigits == 0 { return false }
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                while let b = bytes.first, isDigit(b) { bytes = bytes.dropFirst() }
            }
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let f = bytes.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            var expDigits = 0
            while let b = bytes.first, isDigit(b) {
                expDigits += 1
                bytes = bytes.dropFirst()
            }
            if expDigits == 0 { return false }
        }
        return bytes.isEmpty
    }

    /// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, as `fmt.Sprint` prints a float64.
    public static func formatFloat(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        // Swift's description is the shortest round-trip representation, like Go's -1 precision;
        // only the exponent form differs.
        var text = "\(d)"
        let exponent = Int((log10Magnitude(d)).rounded(.down))
        // %v uses %e when the exponent is < -4 or >= the precision: 6 for shortest output,
        // or the digit count when every digit is before the point.
        let digitCount = shortestDigits(d).count
        let eprec = (6 > digitCount && digitCount >= exponent + 1) ? digitCount : 6
        if exponent < -4 || exponent >= eprec {
            // Go: mantissa with minimal digits, "e+NN"/"e-NN" with at least two exponent digits.
            let digits = shortestDigits(d)
            var mantissa = String(digits.first ?? "0")
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let expText = String(abs(exponent))
            text = (d < 0 ? "-" : "") + mantissa + "e" + (exponent < 0 ? "-" : "+")
                + (expText.count < 2 ? "0" + expText : expText)
            return text
        }
        if text.hasSuffix(".0") { text.removeLast(2) }
        if text.contains("e") {
            // Swift switched to exponent form where Go would not (|exp| < 21): expand it.
            let digits = shortestDigits(d)
            text = expand(digits: digits, exponent: exponent, negative: d < 0)
        }
        return text
    }

    private static func log10Magnitude(_ d: Double) -> Double {
        var m = abs(d)
        var e = 0.0
        while m >= 10 {
            m /= 10
            e += 1
        }
        while m < 1 {
            m *= 10
            e -= 1
        }
        return e
    }

    /// The significant digits of the shortest round-trip representation.
    private static func shortestDigits(_ d: Double) -> String {
        let text = "\(abs(d))"
        var mantissa = text
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) { mantissa = String(text[..<e]) }
        var digits = mantissa.replacingOccurrences(of: ".")
        while digits.hasPrefix("0") { digits.removeFirst() }
        while digits.hasSuffix("0") { digits.removeLast() }
        return digits.isEmpty ? "0" : digits
    }

    private static func expand(digits: String, exponent: Int, negative: Bool) -> String {
        var out = negative ? "-" : ""
        if exponent < 0 {
            out += "0." + String(repeating: "0", count: -exponent - 1) + digits
        } else if digits.count <= exponent + 1 {
            out += digits + String(repeating: "0", count: exponent + 1 - digits.count)
        } else {
            let idx = digits.index(digits.startIndex, offsetBy: exponent + 1)
            out += digits[..<idx] + "." + digits[idx...]
        }
        return out
    }
}

extension String {
    fileprivate func replacingOccurrences(of dot: Character) -> String {
        String(filter { $0 != dot })
    }
}
