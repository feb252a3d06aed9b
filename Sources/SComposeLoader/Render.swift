// SPDX-License-Identifier: Apache-2.0
import SComposeOS

/// Renders the normalized model as Docker Compose prints it (`config --format json|yaml`),
/// decoding each value through its field's type as compose-go's structs do.
public enum Render {
    /// The printable model, with keys in the order they were written (JSON text sorts them).
    ///
    /// With `extensions`, the `x-*` keys of services and nested objects are kept too: Compose's
    /// YAML output shows them, its JSON output does not.
    public static func project(_ model: Node, extensions: Bool = false) throws(LoaderError) -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        pairs.append(("name", .string(model["name"]?.string ?? "")))
        var services: [(String, JSONValue)] = []
        for (name, service) in model["services"]?.map ?? OrderedMap() {
            var s = service
            s["extends"] = nil
            s["env_file"] = nil
            s["label_file"] = nil
            services.append(
                (name, try render(s, OutputModel.service, path: "services[\(name)]", extensions: extensions) ?? .object([])))
        }
        pairs.append(("services", .object(services)))
        let resources: [(String, OutType)] = [
            ("networks", OutputModel.network), ("volumes", OutputModel.volume), ("secrets", OutputModel.fileObject),
            ("configs", OutputModel.fileObject),
        ]
        for (key, type) in resources {
            guard let m = model[key]?.map, !m.isEmpty else { continue }
            var out: [(String, JSONValue)] = []
            for (name, value) in m {
                var v = value
                if key == "secrets" || (key == "configs" && v["environment"] != nil) { v["content"] = nil }
                out.append((name, try render(v, type, path: "\(key)[\(name)]", extensions: extensions) ?? .object([])))
            }
            pairs.append((key, .object(out)))
        }
        for (key, value) in model.map ?? OrderedMap() where key.hasPrefix("x-") {
            pairs.append((key, raw(value)))
        }
        return .object(pairs)
    }

    /// The model's text, as `docker compose config` prints it: with interpolation on,
    /// every `$` is doubled so the output reads back as the same model.
    public static func text(_ value: JSONValue, format: OutputFormat, escapeDollars: Bool) -> String {
        var text: String
        switch format {
        case .json:
            text = value.text() + "\n"
        case .yaml:
            text = YAMLText.render(value)
        }
        if escapeDollars { text = doublingDollars(text) }
        return text
    }

    /// Every `$` written as `$$`.
    static func doublingDollars(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 {
            out.append(byte)
            if byte == UInt8(ascii: "$") { out.append(byte) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Output formats of `config`.
    public enum OutputFormat: String, Sendable {
        case json, yaml
    }

    static func raw(_ node: Node) -> JSONValue {
        switch node.kind {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d): return .double(d)
        case .string(let s): return .string(s)
        case .seq(let items): return .array(items.map(raw))
        case .map(let m): return .object(m.map { ($0.key, raw($0.value)) })
        }
    }

    static func fail(_ node: Node, _ path: String, _ message: String) -> LoaderError {
        LoaderError(
            .invalid, "decoding failed due to the following error(s):\n\n'\(path)' \(message)", origin: node.origin)
    }

    /// Renders `node` as `type`; nil means the Go zero value (left out by `omitempty`).
    static func render(_ node: Node, _ type: OutType, path: String, extensions: Bool = false) throws(LoaderError)
        -> JSONValue?
    {
        switch type {
        case .raw:
            return raw(node)
        case .pointer(let inner):
            if node.isNull { return nil }
            return try render(node, inner, path: path, extensions: extensions) ?? zero(inner)
        case .structure(let fields):
            guard let m = node.map else {
                if node.isNull { return .object([]) }
                throw fail(node, path, "expected a map, got '\(node.typeName)'")
            }
            var out: [(Int, String, JSONValue)] = []
            for (key, value) in m {
                guard let (fieldType, always) = fields.fields[key], let index = fields.position[key] else { continue }
                let printed = fields.printedNames[key] ?? key
                let rendered = try render(value, fieldType, path: "\(path).\(key)", extensions: extensions)
                if let rendered, !isEmpty(rendered, fieldType) || always {
                    out.append((index, printed, rendered))
                } else if always {
                    out.append((index, printed, rendered ?? zero(fieldType)))
                }
            }
            for key in fields.alwaysFields where m[key] == nil {
                guard let (fieldType, _) = fields.fields[key], let index = fields.position[key] else { continue }
                out.append((index, fields.printedNames[key] ?? key, zero(fieldType)))
            }
            out.sort { $0.0 < $1.0 }
            var result = out.map { ($0.1, $0.2) }
            if extensions {
                for (key, value) in m where key.hasPrefix("x-") { result.append((key, raw(value))) }
            }
            return .object(result)
        case .list(let inner):
            guard let items = node.seq else {
                if node.isNull { return nil }
                throw fail(node, path, "source data must be an array or slice, got \(node.typeName)")
            }
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() {
                out.append(try render(item, inner, path: "\(path)[\(i)]", extensions: extensions) ?? zero(inner))
            }
            return .array(out)
        case .dict(let inner), .dictOfPointers(let inner):
            guard let m = node.map else {
                if node.isNull { return nil }
                throw fail(node, path, "expected a map, got '\(node.typeName)'")
            }
            var out: [(String, JSONValue)] = []
            for (key, value) in m {
                if case .dictOfPointers = type, value.isNull {
                    out.append((key, .null))
                    continue
                }
                out.append((key, try render(value, inner, path: "\(path)[\(key)]", extensions: extensions) ?? zero(inner)))
            }
            return .object(out.sorted { $0.0 < $1.0 })
        case .string:
            if node.isNull { return nil }
            guard let s = node.scalarText else { throw fail(node, path, "expected type 'string', got \(node.typeName)") }
            return s.isEmpty ? nil : .string(s)
        case .bool:
            switch node.kind {
            case .bool(let b): return b ? .bool(true) : nil
            case .string(let s):
                switch s.lowercased() {
                case "true", "y", "yes", "on": return .bool(true)
                case "false", "n", "no", "off": return nil
                default: throw fail(node, path, "invalid boolean: \(s)")
                }
            case .null: return nil
            default: throw fail(node, path, "expected type 'bool', got \(node.typeName)")
            }
        case .int:
            switch node.kind {
            case .int(let i): return i == 0 ? nil : .int(i)
            case .float(let d):
                // Int64(d) would trap on infinities, NaN and values past Int64's range.
                guard d.isFinite, d > -9.223_372_036_854_775_808e18, d < 9.223_372_036_854_775_808e18 else {
                    throw fail(node, path, "cannot parse '\(node.scalarText ?? String(d))' as int: out of range")
                }
                return d == 0 ? nil : .int(Int64(d))
            case .string(let s):
                guard let i = Int64(s) else { throw fail(node, path, "cannot parse '\(s)' as int") }
                return i == 0 ? nil : .int(i)
            case .null: return nil
            default: throw fail(node, path, "expected type 'int', got \(node.typeName)")
            }
        case .float:
            let d = Units.float(node)
            guard let d else {
                if node.isNull { return nil }
                throw fail(node, path, "cannot parse '\(node.scalarText ?? "")' as float")
            }
            // compose-go keeps these as float32: print the float32's shortest form.
            let f = Float(d)
            if f == 0 { return nil }
            if f == f.rounded(), abs(f) < 1e9 { return .int(Int64(f)) }
            return .double(Double("\(f)") ?? d)
        case .unitBytes:
            switch node.kind {
            case .int(let i): return i == 0 ? nil : .string(String(i))
            case .string:
                do {
                    let v = try Units.bytes(node)
                    return v == 0 ? nil : .string(String(v))
                } catch {
                    throw fail(node, path, error.message)
                }
            default: return nil
            }
        case .duration:
            if node.isNull { return nil }
            let text = node.scalarText ?? ""
            do {
                let ns = try Units.duration(text)
                return ns == 0 ? nil : .string(Units.formatDuration(ns))
            } catch {
                throw fail(node, path, error.message)
            }
        case .shellCommand:
            switch node.kind {
            case .null: return .null
            case .string(let s):
                do {
                    return .array(try ShellWords.split(s).map(JSONValue.string))
                } catch {
                    throw fail(node, path, "invalid command line string")
                }
            case .seq(let items): return .array(items.map { .string($0.scalarText ?? "") })
            default: return .array([.string(node.scalarText ?? "")])
            }
        case .healthTest:
            switch node.kind {
            case .null: return nil
            case .string(let s): return .array([.string("CMD-SHELL"), .string(s)])
            case .seq(let items): return items.isEmpty ? nil : .array(items.map { .string($0.scalarText ?? "") })
            default: return nil
            }
        case .stringList, .stringOrNumberList:
            switch node.kind {
            case .null: return nil
            case .string(let s): return .array([.string(s)])
            case .seq(let items): return items.isEmpty ? nil : .array(items.map { .string($0.scalarText ?? "") })
            default: return .array([.string(node.scalarText ?? "")])
            }
        case .mappingWithEquals:
            var out: [(String, JSONValue)] = []
            for (k, v) in Labels.mapping(node) {
                if k.hasSuffix(" ") { throw fail(node, path, "environment variable \(k) is declared with a trailing space") }
                out.append((k, v.isNull ? .null : .string(v.scalarText ?? "")))
            }
            return out.isEmpty ? nil : .object(out.sorted { $0.0 < $1.0 })
        case .mapping:
            var out: [(String, JSONValue)] = []
            for (k, v) in Labels.mapping(node) { out.append((k, .string(v.isNull ? "" : (v.scalarText ?? "")))) }
            return out.isEmpty ? nil : .object(out.sorted { $0.0 < $1.0 })
        case .hostsList:
            let hosts = try HostsList.entries(node, path: path)
            return hosts.isEmpty ? nil : .array(hosts.map(JSONValue.string))
        case .fileMode:
            let value: Int64
            switch node.kind {
            case .int(let i): value = i
            case .string(let s):
                guard let v = Int64(s, radix: 8) else { throw fail(node, path, "invalid file mode \(s)") }
                value = v
            default: return nil
            }
            return .string("0" + String(value, radix: 8))
        case .deviceCount:
            switch node.kind {
            case .int(let i): return i == 0 ? nil : .int(i)
            case .string(let s):
                if s.lowercased() == "all" { return .int(-1) }
                guard let i = Int64(s) else {
                    throw fail(node, path, "invalid value \"\(s)\", the only value allowed is 'all' or a number")
                }
                return i == 0 ? nil : .int(i)
            default: return nil
            }
        case .ulimit:
            switch node.kind {
            case .int(let i): return i == 0 ? .object([]) : .int(i)
            case .map(let m):
                var out: [(String, JSONValue)] = []
                for key in ["soft", "hard"] {
                    if let v = m[key], let i = v.int ?? v.string.flatMap({ Int64($0) }), i != 0 { out.append((key, .int(i))) }
                }
                return .object(out)
            default: return .object([])
            }
        case .multiOptions:
            guard let m = node.map else { return nil }
            var out: [(String, JSONValue)] = []
            for (k, v) in m {
                let items = v.seq ?? [v]
                out.append((k, .array(items.map { .string($0.scalarText ?? "") })))
            }
            return out.isEmpty ? nil : .object(out)
        case .ssh:
            switch node.kind {
            case .map(let m):
                var out: [JSONValue] = []
                for (k, v) in m {
                    if !v.isNull {
                        throw LoaderError(
                            .unsupported,
                            "json: error calling MarshalJSON for type types.SSHKey: invalid character ':' after top-level value",
                            origin: node.origin)
                    }
                    out.append(.string(k))
                }
                return out.isEmpty ? nil : .array(out)
            case .seq(let items):
                var out: [JSONValue] = []
                for item in items {
                    guard let s = item.string else { continue }
                    if s.contains("=") {
                        throw LoaderError(
                            .unsupported,
                            "json: error calling MarshalJSON for type types.SSHKey: invalid character ':' after top-level value",
                            origin: item.origin)
                    }
                    out.append(.string(s))
                }
                return out.isEmpty ? nil : .array(out)
            default: return nil
            }
        }
    }

    static func zero(_ type: OutType) -> JSONValue {
        switch type {
        case .structure(let fields):
            return .object(
                fields.order.compactMap { key in
                    guard let (type, always) = fields.fields[key], always else { return nil }
                    return (fields.printedNames[key] ?? key, zero(type))
                })
        case .bool: return .bool(false)
        case .int, .float, .deviceCount: return .int(0)
        case .string: return .string("")
        case .shellCommand: return .null
        default: return .null
        }
    }

    static func isEmpty(_ value: JSONValue, _ type: OutType) -> Bool {
        if case .pointer = type { return false }
        if case .structure = type { return false }
        if case .ulimit = type { return false }
        switch value {
        case .null: return true
        case .bool(let b): return !b
        case .number(let text): return Double(text) == 0
        case .string(let s): return s.isEmpty
        case .array(let a): return a.isEmpty
        case .object(let o): return o.isEmpty
        }
    }
}

/// `extra_hosts` as compose-go reads and prints it: sorted `host=ip` lines.
enum HostsList {
    static func entries(_ node: Node, path: String) throws(LoaderError) -> [String] {
        var out: [String] = []
        func add(_ host: String, _ ips: String) throws(LoaderError) {
            if host.isEmpty || host.contains(":") || host.contains("=") {
                throw LoaderError(.invalid, "bad host name '\(host)'", origin: node.origin, path: path)
            }
            for ip in ips.split(separator: ",", omittingEmptySubsequences: false) {
                var ip = String(ip)
                if ip.hasPrefix("[") && ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
                out.append("\(host)=\(ip)")
            }
        }
        switch node.kind {
        case .map(let m):
            for (k, v) in m {
                switch v.kind {
                case .seq(let items): for item in items { try add(k, item.scalarText ?? "") }
                case .null: try add(k, "")
                default: try add(k, v.scalarText ?? "")
                }
            }
        case .seq(let items):
            for item in items {
                guard let s = item.scalarText else { continue }
                if let eq = s.firstIndex(of: "=") {
                    try add(String(s[..<eq]), String(s[s.index(after: eq)...]))
                } else if let colon = s.firstIndex(of: ":") {
                    try add(String(s[..<colon]), String(s[s.index(after: colon)...]))
                } else {
                    throw LoaderError(.invalid, "invalid additional host, missing IP: \(s)", origin: item.origin, path: path)
                }
            }
        default:
            break
        }
        return out.sorted()
    }
}
