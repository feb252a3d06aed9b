// SPDX-License-Identifier: Apache-2.0

/// Parses `.env` files as Docker Compose does: `KEY=value` and `KEY: value`, optional
/// `export`, `#` comments (inline only after a space on unquoted values), single quotes
/// (literal), double quotes (escapes and `${VAR}` expansion, may span lines), and a bare
/// `KEY` that inherits from the environment.
public enum Dotenv {
    /// An env-file syntax error with its line.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The 1-based line.
        public var line: Int
        /// What is wrong.
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// One parsed entry, in file order.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: String
    }

    /// Parses `text`. `lookup` resolves variables not defined earlier in the file and bare keys.
    public static func parse(_ text: String, lookup: @escaping (String) -> String?) throws(Failure) -> [Entry] {
        var parser = Parser(chars: Array(text.unicodeScalars), lookup: lookup)
        return try parser.run()
    }

    private struct Parser {
        let chars: [Unicode.Scalar]
        let lookup: (String) -> String?
        var pos = 0
        var line = 1
        var values: [String: String] = [:]
        var entries: [Entry] = []

        init(chars: [Unicode.Scalar], lookup: @escaping (String) -> String?) {
            self.chars = chars
            self.lookup = lookup
        }

        static func isSpace(_ c: Unicode.Scalar) -> Bool {
            c == " " || c == "\t" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" || c == "\u{85}" || c == "\u{A0}"
        }

        mutating func skipToStatement() -> Bool {
            while pos < chars.count {
                let c = chars[pos]
                if c == "\n" {
                    line += 1
                    pos += 1
                } else if Self.isSpace(c) {
                    pos += 1
                } else if c == "#" {
                    while pos < chars.count && chars[pos] != "\n" { pos += 1 }
                } else {
                    return true
                }
            }
            return false
        }

        mutating func run() throws(Failure) -> [Entry] {
            while skipToStatement() {
                try statement()
            }
            return entries
        }

        func text(_ from: Int, _ to: Int) -> String {
            String(String.UnicodeScalarView(chars[from..<to]))
        }

        mutating func statement() throws(Failure) {
            // `export KEY=...`
            if chars.count - pos > 6 && text(pos, pos + 6) == "export" && Self.isSpace(chars[pos + 6]) {
                pos += 6
                while pos < chars.count && Self.isSpace(chars[pos]) { pos += 1 }
            }
            let start = pos
            var key = ""
            var inherited = false
            var found = false
            while pos < chars.count {
                let c = chars[pos]
                if c == "=" || c == ":" || c == "\n" {
                    key = text(start, pos)
                    inherited = c == "\n"
                    found = true
                    pos += 1
                    if inherited { line += 1 }
                    break
                }
                if Self.isSpace(c) || c == "_" || c == "." || c == "-" || c == "[" || c == "]"
                    || c.properties.isAlphabetic || c.properties.numericType != nil
                {
                    pos += 1
                    continue
                }
                var end = start
                while end < chars.count && chars[end] != "\n" { end += 1 }
                throw Failure(
                    line: line,
                    message: "unexpected character \"\(Character(c))\" in variable name \"\(text(start, end))\"")
            }
            if !found {
                key = text(start, pos)
                inherited = true
            }
            key = String(key.unicodeScalars.reversed().drop(while: { Self.isSpace($0) }).reversed().map(Character.init))
            if key.isEmpty {
                throw Failure(line: line, message: "zero length string")
            }
            if key.unicodeScalars.contains(where: { Self.isSpace($0) }) {
                throw Failure(line: line, message: "invalid variable name \"\(key)\"")
            }
            if inherited {
                if let v = lookup(key) { set(key, v) }
                return
            }
            while pos < chars.count && Self.isSpace(chars[pos]) { pos += 1 }
            let value = try valueText()
            set(key, value)
        }

        mutating func set(_ key: String, _ value: String) {
            if values[key] == nil {
                entries.append(Entry(key: key, value: value))
            } else if let i = entries.firstIndex(where: { $0.key == key }) {
                entries[i].value = value
            }
            values[key] = value
        }

        mutating func expand(_ value: String) throws(Failure) -> String {
            var unset: [String] = []
            let known = values
            let outer = lookup
            do {
                return try Template.substitute(value, lookup: { outer($0) ?? known[$0] }, unset: &unset)
            } catch {
                throw Failure(line: line, message: error.description)
            }
        }

        mutating func valueText() throws(Failure) -> String {
            guard pos < chars.count, chars[pos] == "'" || chars[pos] == "\"" else {
                let start = pos
                while pos < chars.count && chars[pos] != "\n" { pos += 1 }
                var raw = text(start, pos)
                if let r = raw.firstRange(of: " #") { raw = String(raw[..<r.lowerBound]) }
                raw = String(
                    raw.unicodeScalars.reversed().drop(while: { Self.isSpace($0) || $0 == "\n" }).reversed()
                        .map(Character.init))
                return try expand(raw)
            }
            let quote = chars[pos]
            let startLine = line
            var i = pos + 1
            var out = String.UnicodeScalarView()
            var escaped = false
            while i < chars.count {
                let c = chars[i]
                if c == "\n" { line += 1 }
                if c != quote {
                    if !escaped && c == "\\" {
                        escaped = true
                        i += 1
                        continue
                    }
                    if escaped {
                        escaped = false
                        out.append("\\")
                    }
                    out.append(c)
                    i += 1
                    continue
                }
                if escaped {
                    escaped = false
                    out.append(c)
                    i += 1
                    continue
                }
                pos = i + 1
                let value = String(out)
                if quote == "\"" { return try expand(Self.expandEscapes(value)) }
                return value
            }
            var end = pos
            while end < chars.count && chars[end] != "\n" { end += 1 }
            throw Failure(line: startLine, message: "unterminated quoted value \(text(pos, end))")
        }

        /// Shell-like escapes of double-quoted values; `\$` becomes `$$` so it stays literal.
        static func expandEscapes(_ s: String) -> String {
            guard s.contains("\\") else { return s }
            let cs = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            var i = 0
            while i < cs.count {
                let c = cs[i]
                guard c == "\\", i + 1 < cs.count else {
                    out.append(c)
                    i += 1
                    continue
                }
                let n = cs[i + 1]
                switch n {
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "v": out.append("\u{0B}")
                case "$": out.append(contentsOf: "$$".unicodeScalars)
                default: out.append(n)
                }
                i += 2
            }
            return String(out)
        }
    }
}
