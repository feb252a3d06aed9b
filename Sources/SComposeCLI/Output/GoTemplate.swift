// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS

/// The part of Go's text/template that `--format` strings use in scripts: `{{.Field}}`,
/// `{{json .}}`, `{{json .Field}}`, `\t` and `\n`, and a leading `table` for aligned columns
/// under a header.
enum GoTemplate {
    /// Renders `template` for each row (a JSON object as `--format json` prints it).
    static func render(_ template: String, rows: [JSONValue]) throws -> String {
        let unescaped = template.replacingEscapes()
        if unescaped.hasPrefix("table") {
            let body = String(unescaped.dropFirst(5).drop { $0 == " " })
            let columns = body.split(separator: "\t").map(String.init)
            let header = columns.map { column in
                fields(column).map { $0.isEmpty ? "" : headerName($0) }.joined(separator: " ")
            }
            let cells = try rows.map { row in try columns.map { try line($0, row) } }
            return Table.render(header: header, rows: cells)
        }
        return try rows.map { try line(unescaped, $0) + "\n" }.joined()
    }

    /// One row through a template without `table`.
    static func line(_ template: String, _ row: JSONValue) throws -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstRange(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw CLIError("template: unclosed action in \"\(template)\"")
            }
            let action = rest[open.upperBound..<close.lowerBound].trimmingSpaces
            out += try evaluate(String(action), row)
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    static func evaluate(_ action: String, _ row: JSONValue) throws -> String {
        let words = action.split(separator: " ").map(String.init)
        if words.count == 2, words[0] == "json" {
            if words[1] == "." { return row.compactText() }
            return try value(words[1], row).compactText()
        }
        guard words.count == 1 else { throw CLIError("template: unsupported action \"{{\(action)}}\"") }
        let v = try value(words[0], row)
        switch v {
        case .string(let s): return s
        case .null: return "<no value>"
        default: return v.compactText()
        }
    }

    static func value(_ path: String, _ row: JSONValue) throws -> JSONValue {
        guard path.hasPrefix(".") else { throw CLIError("template: unsupported action \"{{\(path)}}\"") }
        var v = row
        for key in path.dropFirst().split(separator: ".") {
            guard let next = v[String(key)] else {
                throw CLIError("template: can't evaluate field \(key)")
            }
            v = next
        }
        return v
    }

    /// The fields a column uses (`{{.Name}}` → `Name`).
    static func fields(_ column: String) -> [String] {
        var out: [String] = []
        var rest = Substring(column)
        while let open = rest.firstRange(of: "{{."), let close = rest[open.upperBound...].firstRange(of: "}}") {
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// Docker's column titles: `ID` → `CONTAINER ID`, `RunningFor` → `CREATED`, else upper case.
    static func headerName(_ field: String) -> String {
        switch field {
        case "ID": return "CONTAINER ID"
        case "RunningFor": return "CREATED"
        case "CreatedAt": return "CREATED AT"
        default: return field.uppercased()
        }
    }
}

extension String {
    /// `\t` and `\n` written in a shell argument, as docker reads them.
    fileprivate func replacingEscapes() -> String {
        var out = ""
        var escaped = false
        for ch in self {
            if escaped {
                out += ch == "t" ? "\t" : ch == "n" ? "\n" : "\\" + String(ch)
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else {
                out.append(ch)
            }
        }
        return escaped ? out + "\\" : out
    }
}
