// SPDX-License-Identifier: Apache-2.0

/// A Dockerfile error, with the file and line it is about.
public struct DockerfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }

    public init(file: String = "Dockerfile", line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
}

/// The arguments of an instruction: the JSON (exec) form or the shell form.
public enum Arguments: Sendable, Equatable {
    case exec([String])
    case shell(String)
}

/// A here-document of RUN, COPY or ADD (`<<EOF` … `EOF`).
public struct Heredoc: Sendable, Equatable {
    public var name: String
    public var body: String
    /// Variables are expanded in the body (the name was not quoted).
    public var expand: Bool
    /// `<<-`: leading tabs were removed from the body's lines.
    public var chomp: Bool
}

/// One Dockerfile instruction.
public struct Instruction: Sendable, Equatable {
    /// Upper-cased: `FROM`, `RUN`, …
    public var keyword: String
    /// `--name=value` flags after the keyword (`--link` alone is "true").
    public var flags: [String: String]
    public var arguments: Arguments
    public var heredocs: [Heredoc]
    /// 1-based line where the instruction starts.
    public var line: Int
    /// The instruction as written, continuations joined (for history and messages).
    public var original: String
}

/// A parsed Dockerfile, with Docker's (BuildKit's) rules: parser directives, the escape
/// character, line continuations, comments, JSON and shell forms, flags and heredocs.
public struct Dockerfile: Sendable, Equatable {
    public var escape: Character = "\\"
    public var syntax: String?
    public var instructions: [Instruction] = []

    static let keywords: Set<String> = [
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
        "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    ]
    static let flagKeywords: Set<String> = ["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"]
    static let heredocKeywords: Set<String> = ["RUN", "COPY", "ADD"]

    public static func parse(_ text: String, file: String = "Dockerfile") throws(DockerfileError) -> Dockerfile {
        var result = Dockerfile()
        var lines = splitLines(text)
        if lines.last == "" { lines.removeLast() }
        var i = 0
        // Parser directives: `# key=value` lines at the very top.
        var seen: Set<String> = []
        while i < lines.count {
            let line = lines[i].trimmingWhitespace()
            guard line.hasPrefix("#") else { break }
            // BuildKit's form: `#`, a name of ASCII letters and digits, `=`, a non-empty
            // value, blanks allowed around each.
            let body = line.dropFirst().trimmingWhitespace()
            guard let eq = body.firstIndex(of: "=") else { break }
            let name = body[..<eq].trimmingWhitespace()
            let value = String(body[body.index(after: eq)...].trimmingWhitespace())
            guard let initial = name.first, initial.isASCII, initial.isLetter,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }), !value.isEmpty
            else { break }
            let key = name.lowercased()
            guard ["syntax", "escape", "check"].contains(key) else { break }
            guard seen.insert(key).inserted else {
                throw DockerfileError(file: file, line: i + 1, message: "only one \(key) parser directive can be used")
            }
            if key == "escape" {
                guard value == "\\" || value == "`" else {
                    throw DockerfileError(file: file, line: i + 1, message: "invalid escape token '\(value)' does not match ` or \\")
                }
                result.escape = value == "`" ? "`" : "\\"
            } else if key == "syntax" {
                result.syntax = value
            }
            i += 1
        }
        let escape = result.escape
        while i < lines.count {
            let startLine = i + 1
            let first = lines[i].trimmingWhitespace()
            i += 1
            if first.isEmpty || first.hasPrefix("#") { continue }
            // Join continuation lines; comment and blank lines inside are dropped.
            var logical = String(first)
            var continued = Self.endsWithEscape(logical, escape)
            if continued { logical = String(logical.dropLast()) }
            while continued && i < lines.count {
                let next = lines[i]
                i += 1
                let trimmed = next.trimmingWhitespace()
                if trimmed.hasPrefix("#") || trimmed.isEmpty { continue }
                var piece = String(next)
                while piece.last == " " || piece.last == "\t" { piece.removeLast() }
                continued = Self.endsWithEscape(piece, escape)
                if continued { piece.removeLast() }
                logical += piece
            }
            var instruction = try parseInstruction(logical, line: startLine, file: file, escape: escape)
            // Heredocs: their bodies follow the instruction's line.
            if heredocKeywords.contains(instruction.keyword), case .shell(let shellText) = instruction.arguments {
                for (name, expand, chomp) in Self.heredocMarkers(shellText) {
                    var body = ""
                    var closed = false
                    while i < lines.count {
                        var content = String(lines[i])
                        i += 1
                        if chomp { content = String(content.drop { $0 == "\t" }) }
                        if content == name {
                            closed = true
                            break
                        }
                        body += content + "\n"
                    }
                    guard closed else {
                        throw DockerfileError(file: file, line: startLine, message: "unterminated heredoc \(name)")
                    }
                    instruction.heredocs.append(Heredoc(name: name, body: body, expand: expand, chomp: chomp))
                }
            }
            result.instructions.append(instruction)
        }
        guard result.instructions.contains(where: { $0.keyword == "FROM" }) else {
            throw DockerfileError(
                file: file, line: max(1, result.instructions.first?.line ?? 1),
                message: "no build stage in current context: the Dockerfile has no FROM")
        }
        return result
    }

    static func endsWithEscape(_ s: String, _ escape: Character) -> Bool {
        var t = Substring(s)
        while t.last == " " || t.last == "\t" { t.removeLast() }
        return t.last == escape
    }

    static func parseInstruction(_ text: String, line: Int, file: String, escape: Character) throws(DockerfileError) -> Instruction {
        let trimmed = text.trimmingWhitespace()
        let keywordEnd = trimmed.firstIndex { $0 == " " || $0 == "\t" } ?? trimmed.endIndex
        let keyword = trimmed[..<keywordEnd].uppercased()
        guard keywords.contains(keyword) else {
            throw DockerfileError(file: file, line: line, message: "unknown instruction: \(trimmed[..<keywordEnd])")
        }
        var rest = trimmed[keywordEnd...].trimmingWhitespace()
        var flags: [String: String] = [:]
        if flagKeywords.contains(keyword) {
            while rest.hasPrefix("--") {
                let end = rest.firstIndex { $0 == " " || $0 == "\t" } ?? rest.endIndex
                let flag = rest[rest.index(rest.startIndex, offsetBy: 2)..<end]
                // A bare `--` ends the flags, as in BuildKit.
                if flag.isEmpty {
                    rest = rest[end...].trimmingWhitespace()
                    break
                }
                if let eq = flag.firstIndex(of: "=") {
                    let name = String(flag[..<eq]).lowercased()
                    let value = String(flag[flag.index(after: eq)...])
                    // Repeated flags (`--mount`) are kept together, one per line.
                    flags[name] = flags[name].map { $0 + "\n" + value } ?? value
                } else {
                    flags[String(flag).lowercased()] = "true"
                }
                rest = rest[end...].trimmingWhitespace()
            }
        }
        let needsArguments = !["HEALTHCHECK"].contains(keyword)
        if rest.isEmpty && needsArguments {
            throw DockerfileError(file: file, line: line, message: "\(keyword) requires at least one argument")
        }
        let arguments: Arguments
        if let words = jsonArray(String(rest)), ["CMD", "ENTRYPOINT", "RUN", "SHELL", "COPY", "ADD", "VOLUME"].contains(keyword) {
            arguments = .exec(words)
        } else {
            if keyword == "SHELL" {
                throw DockerfileError(file: file, line: line, message: "SHELL requires the arguments to be in JSON form")
            }
            arguments = .shell(String(rest))
        }
        return Instruction(keyword: keyword, flags: flags, arguments: arguments, heredocs: [], line: line, original: String(trimmed))
    }

    /// The heredoc markers of a shell-form line, in order: (name, expand, chomp).
    static func heredocMarkers(_ text: String) -> [(String, Bool, Bool)] {
        var out: [(String, Bool, Bool)] = []
        let chars = Array(text)
        var i = 0
        var quote: Character?
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q { quote = nil }
                i += 1
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                i += 1
                continue
            }
            // BuildKit only takes a word of the form `[digits]<<[-]name` with no other `<`:
            // `a<<b` and bash's `<<<` here-string are no heredocs.
            var wordStart = i
            while wordStart > 0, chars[wordStart - 1].isASCII, chars[wordStart - 1].isNumber { wordStart -= 1 }
            let startsWord = wordStart == 0 || chars[wordStart - 1] == " " || chars[wordStart - 1] == "\t"
            guard c == "<", startsWord, i + 1 < chars.count, chars[i + 1] == "<", i + 2 < chars.count, chars[i + 2] != "<" else {
                i += 1
                continue
            }
            var j = i + 2
            var chomp = false
            if j < chars.count && chars[j] == "-" {
                chomp = true
                j += 1
            }
            var expand = true
            var name = ""
            if j < chars.count && (chars[j] == "'" || chars[j] == "\"") {
                let q = chars[j]
                expand = false
                j += 1
                while j < chars.count && chars[j] != q {
                    name.append(chars[j])
                    j += 1
                }
                j += 1
            } else {
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" || chars[j] == "-" {
                    name.append(chars[j])
                    j += 1
                }
            }
            if !name.isEmpty { out.append((name, expand, chomp)) }
            i = j
        }
        return out
    }

    /// A JSON array of strings, or nil.
    public static func jsonArray(_ text: String) -> [String]? {
        let t = text.trimmingWhitespace()
        guard t.hasPrefix("["), t.hasSuffix("]") else { return nil }
        let chars = Array(t.dropFirst().dropLast())
        var out: [String] = []
        var i = 0
        func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\t" || chars[i] == "\n" { i += 1 } }
        skipSpace()
        if i == chars.count { return [] }
        while true {
            skipSpace()
            guard i < chars.count, chars[i] == "\"" else { return nil }
            i += 1
            var s = ""
            while true {
                guard i < chars.count else { return nil }
                let c = chars[i]
                i += 1
                if c == "\"" { break }
                if c == "\\" {
                    guard i < chars.count else { return nil }
                    let e = chars[i]
                    i += 1
                    switch e {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "r": s.append("\r")
                    case "b": s.append("\u{8}")
                    case "f": s.append("\u{c}")
                    case "/": s.append("/")
                    case "\\": s.append("\\")
                    case "\"": s.append("\"")
                    case "u":
                        guard i + 4 <= chars.count, let v = UInt32(String(chars[i..<i + 4]), radix: 16), let u = Unicode.Scalar(v) else {
                            return nil
                        }
                        s.unicodeScalars.append(u)
                        i += 4
                    default: return nil
                    }
                } else {
                    s.append(c)
                }
            }
            out.append(s)
            skipSpace()
            if i == chars.count { return out }
            guard chars[i] == "," else { return nil }
            i += 1
        }
    }

    // MARK: - Words

    /// A key and its value from ENV or LABEL.
    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: String
    }

    /// `KEY=VALUE KEY2="quoted value"`, or the legacy `KEY value with spaces` (ENV only).
    /// Quotes and escapes are kept in the values: substitution removes them later.
    public static func keyValuePairs(_ text: String, escape: Character, legacyAllowed: Bool) throws(DockerfileError) -> [KeyValue] {
        let words = splitWords(text, escape: escape, keepQuotes: true)
        guard let first = words.first else { return [] }
        if !first.contains("=") {
            guard legacyAllowed else {
                throw DockerfileError(line: 0, message: "LABEL requires KEY=VALUE pairs: \(text)")
            }
            // `ENV KEY value with spaces`: everything after the first word, as written.
            let trimmed = text.trimmingWhitespace()
            let end = trimmed.firstIndex { $0 == " " || $0 == "\t" } ?? trimmed.endIndex
            let value = trimmed[end...].trimmingWhitespace()
            guard !value.isEmpty else { throw DockerfileError(line: 0, message: "\(first) needs a value (KEY value or KEY=value)") }
            return [KeyValue(key: first, value: String(value))]
        }
        var out: [KeyValue] = []
        for word in words {
            guard let eq = word.firstIndex(of: "=") else {
                throw DockerfileError(line: 0, message: "syntax error - can't find = in \"\(word)\". Must be of the form: name=value")
            }
            out.append(KeyValue(key: Self.unquote(String(word[..<eq])), value: String(word[word.index(after: eq)...])))
        }
        return out
    }

    static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == "\"" || f == "'", s.last == f { return String(s.dropFirst().dropLast()) }
        return s
    }

    /// Splits on unquoted blanks; quotes (and escapes) are removed unless `keepQuotes`.
    public static func splitWords(_ text: String, escape: Character, keepQuotes: Bool = false) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var chars = text.makeIterator()
        while let c = chars.next() {
            if c == escape && quote != "'" {
                if keepQuotes { current.append(c) }
                if let n = chars.next() { current.append(n) }
                inWord = true
                continue
            }
            if let q = quote {
                if c == q {
                    quote = nil
                    if keepQuotes { current.append(c) }
                } else {
                    current.append(c)
                }
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                inWord = true
                if keepQuotes { current.append(c) }
                continue
            }
            if c == " " || c == "\t" || c == "\n" {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
                continue
            }
            current.append(c)
            inWord = true
        }
        if inWord { words.append(current) }
        return words
    }
}

/// Docker's substitution of `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
/// `${VAR+word}`, `${VAR:?message}` and `${VAR?message}` in instruction arguments. Single
/// quotes prevent substitution, the escape character makes the next character literal.
public struct WordExpander {
    let escape: Character
    let lookup: (String) -> String?

    public init(escape: Character, lookup: @escaping (String) -> String?) {
        self.escape = escape
        self.lookup = lookup
    }

    /// Expands one word; quotes are removed (unless `removeQuotes` is false).
    public func expand(_ word: String, removeQuotes: Bool = true) throws(DockerfileError) -> String {
        let words = try process(word, split: false, removeQuotes: removeQuotes)
        return words.first ?? ""
    }

    /// Expands, then splits on unquoted blanks (COPY sources, EXPOSE ports…).
    public func expandWords(_ text: String) throws(DockerfileError) -> [String] {
        try process(text, split: true, removeQuotes: true)
    }

    private func process(_ text: String, split: Bool, removeQuotes: Bool) throws(DockerfileError) -> [String] {
        let chars = Array(text)
        var i = 0
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        while i < chars.count {
            let c = chars[i]
            if c == escape && quote != "'" {
                if i + 1 < chars.count {
                    let next = chars[i + 1]
                    // Inside double quotes only `"`, `$` and the escape itself are escaped.
                    if quote == "\"" && next != "\"" && next != "$" && next != escape {
                        current.append(c)
                    } else if !removeQuotes {
                        current.append(c)
                    }
                    current.append(next)
                    i += 2
                } else {
                    current.append(c)
                    i += 1
                }
                inWord = true
                continue
            }
            if quote == nil && (c == "'" || c == "\"") {
                quote = c
                inWord = true
                if !removeQuotes { current.append(c) }
                i += 1
                continue
            }
            if let q = quote, c == q {
                quote = nil
                if !removeQuotes { current.append(c) }
                i += 1
                continue
            }
            if c == "$" && quote != "'" {
                let (value, next) = try variable(chars, i + 1)
                current += value
                // An unquoted expansion to nothing makes no word of its own.
                if !value.isEmpty || quote != nil { inWord = true }
                i = next
                continue
            }
            if split && quote == nil && (c == " " || c == "\t" || c == "\n") {
                if inWord { words.append(current) }
                current = ""
                inWord = false
                i += 1
                continue
            }
            current.append(c)
            inWord = true
            i += 1
        }
        if inWord || !split { words.append(current) }
        return words
    }

    private func isNameChar(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }

    /// The value of the variable reference starting after `$` at `start`; returns where it ends.
    private func variable(_ chars: [Character], _ start: Int) throws(DockerfileError) -> (String, Int) {
        guard start < chars.count else { return ("$", start) }
        if chars[start] == "{" {
            var j = start + 1
            var name = ""
            while j < chars.count, isNameChar(chars[j]) {
                name.append(chars[j])
                j += 1
            }
            guard j < chars.count, !name.isEmpty else {
                throw DockerfileError(line: 0, message: "missing '}' or invalid variable name in ${")
            }
            if chars[j] == "}" { return (lookup(name) ?? "", j + 1) }
            var op = String(chars[j])
            j += 1
            if op == ":" {
                guard j < chars.count else { throw DockerfileError(line: 0, message: "missing '}' in ${\(name)") }
                op += String(chars[j])
                j += 1
            }
            // The word runs to the matching brace; it is expanded itself.
            var depth = 1
            var word = ""
            while j < chars.count {
                let c = chars[j]
                if c == escape, j + 1 < chars.count {
                    word.append(c)
                    word.append(chars[j + 1])
                    j += 2
                    continue
                }
                if c == "{" { depth += 1 }
                if c == "}" {
                    depth -= 1
                    if depth == 0 { break }
                }
                word.append(c)
                j += 1
            }
            guard j < chars.count else { throw DockerfileError(line: 0, message: "missing '}' in ${\(name)") }
            let value = lookup(name)
            let set = value != nil
            let nonEmpty = !(value ?? "").isEmpty
            let result: String
            switch op {
            case ":-": result = nonEmpty ? value ?? "" : try expand(word)
            case "-": result = set ? value ?? "" : try expand(word)
            case ":+": result = nonEmpty ? try expand(word) : ""
            case "+": result = set ? try expand(word) : ""
            case ":?":
                guard nonEmpty else {
                    throw DockerfileError(line: 0, message: "\(name): \(word.isEmpty ? "is not allowed to be empty" : try expand(word))")
                }
                result = value ?? ""
            case "?":
                guard set else { throw DockerfileError(line: 0, message: "\(name): \(word.isEmpty ? "is not allowed to be unset" : try expand(word))") }
                result = value ?? ""
            default:
                throw DockerfileError(line: 0, message: "unsupported modifier (\(op)) in substitution")
            }
            return (result, j + 1)
        }
        var j = start
        var name = ""
        while j < chars.count, isNameChar(chars[j]) {
            name.append(chars[j])
            j += 1
        }
        guard !name.isEmpty else { return ("$", start) }
        return (lookup(name) ?? "", j)
    }
}

/// The lines of a text file. Swift reads `"\r\n"` as one Character, which a split on `"\n"`
/// never meets, so both ends of line are separators; a byte-order mark is dropped as
/// BuildKit and the `.dockerignore` reader do.
func splitLines(_ text: String) -> [Substring] {
    var body = Substring(text)
    if body.first == "\u{FEFF}" { body = body.dropFirst() }
    return body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map { line in
        line.hasSuffix("\r") ? line.dropLast() : line
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return Substring(s)
    }
}
