// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeYAML

/// Byte sizes, durations and numbers in the forms compose files write them.
public enum Units {
    /// A unit that could not be parsed.
    public struct Failure: Error, Sendable {
        public var message: String
    }

    /// A number from an int, float or numeric string.
    public static func float(_ node: Node) -> Double? {
        switch node.kind {
        case .int(let i): return Double(i)
        case .float(let d): return d
        case .string(let s): return Double(s.trimmingSpaces())
        default: return nil
        }
    }

    /// Bytes from an int or a size string (`512m`, `1gb`, `1.5GiB`), binary multiples as
    /// go-units' RAMInBytes.
    public static func bytes(_ node: Node) throws(Failure) -> Int64 {
        switch node.kind {
        case .int(let i): return i
        case .string(let s): return try bytes(s)
        default: return 0
        }
    }

    /// Parses a size string as go-units' RAMInBytes.
    public static func bytes(_ s: String) throws(Failure) -> Int64 {
        let chars = Array(s)
        var split = chars.count
        while split > 0, let c = chars[split - 1].asciiValue, !(c >= 48 && c <= 57) && c != 46 && c != 32 {
            split -= 1
        }
        // The number part runs up to the last digit, dot or space.
        var numberPart = String(chars[0..<split])
        var suffix = String(chars[split...]).lowercased()
        if numberPart.hasSuffix(" ") {
            numberPart.removeLast()
        }
        guard !numberPart.isEmpty, !numberPart.hasSuffix(" "), let size = Double(numberPart), size >= 0 else {
            throw Failure(message: "invalid size: '\(s)'")
        }
        if suffix.hasPrefix(" ") { suffix.removeFirst() }
        let multipliers: [String: Double] = [
            "": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1_048_576, "mb": 1_048_576, "mib": 1_048_576,
            "g": 1_073_741_824, "gb": 1_073_741_824, "gib": 1_073_741_824, "t": 1_099_511_627_776,
            "tb": 1_099_511_627_776, "tib": 1_099_511_627_776, "p": 1_125_899_906_842_624,
            "pb": 1_125_899_906_842_624, "pib": 1_125_899_906_842_624,
        ]
        guard let m = multipliers[suffix] else { throw Failure(message: "invalid suffix: '\(suffix)'") }
        let v = size * m
        guard v < 9.2e18 else { throw Failure(message: "invalid size: '\(s)'") }
        return Int64(v)
    }

    /// Nanoseconds from a duration string (`1m30s`, `1.5s`, `2d`, `500ms`), as str2duration parses.
    public static func duration(_ s: String) throws(Failure) -> Int64 {
        var chars = Array(s.unicodeScalars)[...]
        let original = s
        var negative = false
        if let f = chars.first, f == "-" || f == "+" {
            negative = f == "-"
            chars = chars.dropFirst()
        }
        if chars.count == 1 && chars.first == "0" { return 0 }
        if chars.isEmpty { throw Failure(message: "time: invalid duration \"\(original)\"") }
        var total: Double = 0
        while !chars.isEmpty {
            var intPart = ""
            while let c = chars.first, c >= "0" && c <= "9" {
                intPart.unicodeScalars.append(c)
                chars = chars.dropFirst()
            }
            var fracPart = ""
            if chars.first == "." {
                chars = chars.dropFirst()
                while let c = chars.first, c >= "0" && c <= "9" {
                    fracPart.unicodeScalars.append(c)
                    chars = chars.dropFirst()
                }
            }
            if intPart.isEmpty && fracPart.isEmpty { throw Failure(message: "time: invalid duration \"\(original)\"") }
            var unit = ""
            while let c = chars.first, c != "." && !(c >= "0" && c <= "9") {
                unit.unicodeScalars.append(c)
                chars = chars.dropFirst()
            }
            if unit.isEmpty { throw Failure(message: "time: missing unit in duration \"\(original)\"") }
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            case "d": scale = 86400e9
            case "w": scale = 604800e9
            default: throw Failure(message: "time: unknown unit \"\(unit)\" in duration \"\(original)\"")
            }
            let value = Double(intPart.isEmpty ? "0" : intPart) ?? 0
            let frac = fracPart.isEmpty ? 0 : (Double("0." + fracPart) ?? 0)
            total += (value + frac) * scale
        }
        let ns = Int64(total.rounded())
        return negative ? -ns : ns
    }

    /// Go's `time.Duration.String()`.
    public static func formatDuration(_ ns: Int64) -> String {
        if ns == 0 { return "0s" }
        let negative = ns < 0
        let u = ns.magnitude
        var out: String
        if u < 1_000_000_000 {
            let (unit, div): (String, UInt64) =
                u < 1000 ? ("ns", 1) : u < 1_000_000 ? ("µs", 1000) : ("ms", 1_000_000)
            out = fraction(u, div) + unit
        } else {
            let hours = u / 3_600_000_000_000
            let minutes = (u / 60_000_000_000) % 60
            let rest = u % 60_000_000_000
            out = ""
            if hours > 0 { out += "\(hours)h" }
            if hours > 0 || minutes > 0 { out += "\(minutes)m" }
            out += fraction(rest, 1_000_000_000) + "s"
        }
        return negative ? "-" + out : out
    }

    private static func fraction(_ v: UInt64, _ div: UInt64) -> String {
        let whole = v / div
        var frac = v % div
        if frac == 0 { return String(whole) }
        var digits = String(frac)
        let width = String(div).count - 1
        digits = String(repeating: "0", count: width - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        frac = 0
        return "\(whole).\(digits)"
    }
}

/// Splits a command string into words like go-shellwords (no expansion): quotes group,
/// backslashes escape, and an unquoted `;`, `&`, `|`, `<` or `>` ends the command.
public enum ShellWords {
    /// The string could not be split.
    public struct Failure: Error, Sendable {}

    /// Splits `s` into words.
    public static func split(_ s: String) throws(Failure) -> [String] {
        var words: [String] = []
        var current = ""
        var hasWord = false
        var single = false
        var double = false
        var escaped = false
        var dollarDepth = 0
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            defer { i += 1 }
            if escaped {
                current.append(c)
                hasWord = true
                escaped = false
                continue
            }
            if c == "\\" {
                if single {
                    current.append(c)
                } else {
                    escaped = true
                }
                continue
            }
            if c == " " || c == "\t" || c == "\r" || c == "\n" {
                if single || double || dollarDepth > 0 {
                    current.append(c)
                } else if hasWord {
                    words.append(current)
                    current = ""
                    hasWord = false
                }
                continue
            }
            if c == "'" && !double {
                single.toggle()
                hasWord = true
                continue
            }
            if c == "\"" && !single {
                double.toggle()
                hasWord = true
                continue
            }
            if !single && !double {
                if c == "$" && i + 1 < chars.count && chars[i + 1] == "(" {
                    dollarDepth += 1
                    current.append(c)
                    current.append("(")
                    hasWord = true
                    i += 1
                    continue
                }
                if dollarDepth > 0 {
                    if c == ")" { dollarDepth -= 1 }
                    current.append(c)
                    continue
                }
                if c == "`" { throw Failure() }
                if c == "(" { throw Failure() }
                if c == ";" || c == "&" || c == "|" || c == "<" || c == ">" {
                    if hasWord { words.append(current) }
                    return words
                }
            }
            current.append(c)
            hasWord = true
        }
        if single || double || escaped || dollarDepth > 0 { throw Failure() }
        if hasWord { words.append(current) }
        return words
    }
}

/// YAML text of the printed model (block style, Compose's key order for the top level).
enum YAMLText {
    static func render(_ value: JSONValue) -> String {
        YAMLEmitter().emit(ordered(value, top: true).yamlNode())
    }

    /// Compose prints YAML from structs: fields in Go's order (as rendered), maps sorted;
    /// `command`/`entrypoint` null and an empty `ipam` are left out.
    static func ordered(_ value: JSONValue, top: Bool) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map { ordered($0, top: false) })
        case .object(let pairs):
            var kept = pairs.filter { key, v in
                if key == "command" || key == "entrypoint", case .null = v { return false }
                // yaml omits empty structs that JSON prints.
                if ["ipam", "placement", "resources", "exec"].contains(key), case .object(let o) = v,
                    o.allSatisfy({ if case .null = $0.1 { return true } else { return false } })
                {
                    return false
                }
                return true
            }
            if top {
                let order = ["name", "services", "networks", "volumes", "secrets", "configs"]
                kept.sort { a, b in
                    let ia = order.firstIndex(of: a.0) ?? order.count
                    let ib = order.firstIndex(of: b.0) ?? order.count
                    return ia != ib ? ia < ib : a.0 < b.0
                }
                return .object(kept.map { key, v in
                    // Services, networks, … are maps: sorted by name.
                    if case .object(let entries) = v {
                        return (key, .object(entries.sorted { $0.0 < $1.0 }.map { ($0.0, ordered($0.1, top: false)) }))
                    }
                    return (key, ordered(v, top: false))
                })
            }
            return .object(kept.map { ($0.0, ordered($0.1, top: false)) })
        default:
            return value
        }
    }
}
