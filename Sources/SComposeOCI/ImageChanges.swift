// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials

/// Dockerfile instructions given to `image import --change` (CMD, ENTRYPOINT, ENV, WORKDIR,
/// USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL), applied to an image's config.
public struct ImageChanges: Sendable, Equatable {
    /// The instructions as written.
    public var lines: [String]

    public init(_ lines: [String] = []) {
        self.lines = lines
    }

    /// Applies the instructions in order.
    public func apply(to config: inout ImageConfig.ContainerDefaults) throws(OCIError) {
        for line in lines {
            let trimmed = line.drop(while: { $0 == " " })
            guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw .invalid("invalid change \"\(line)\": missing arguments")
            }
            let keyword = trimmed[..<space].uppercased()
            let rest = String(trimmed[space...].drop(while: { $0 == " " || $0 == "\t" }))
            switch keyword {
            case "CMD": config.Cmd = try Self.command(rest, line)
            case "ENTRYPOINT": config.Entrypoint = try Self.command(rest, line)
            case "WORKDIR": config.WorkingDir = rest
            case "USER": config.User = rest
            case "STOPSIGNAL": config.StopSignal = rest
            case "ENV":
                var env = config.Env ?? []
                for (k, v) in try Self.pairs(rest, line) {
                    env.removeAll { $0.hasPrefix(k + "=") }
                    env.append("\(k)=\(v)")
                }
                config.Env = env
            case "LABEL":
                var labels = config.Labels ?? [:]
                for (k, v) in try Self.pairs(rest, line) { labels[k] = v }
                config.Labels = labels
            case "EXPOSE":
                var ports = config.ExposedPorts ?? [:]
                for p in rest.split(separator: " ") {
                    let port = p.contains("/") ? String(p) : "\(p)/tcp"
                    ports[port] = ImageConfig.Empty()
                }
                config.ExposedPorts = ports
            case "VOLUME":
                var volumes = config.Volumes ?? [:]
                let list = (try? Self.jsonArray(rest)) ?? rest.split(separator: " ").map(String.init)
                for v in list { volumes[v] = ImageConfig.Empty() }
                config.Volumes = volumes
            default:
                throw .invalid("invalid change \"\(line)\": \(keyword) is not supported by import")
            }
        }
    }

    static func jsonArray(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    /// JSON form `["a", "b"]` as is; shell form becomes `/bin/sh -c …`.
    static func command(_ text: String, _ line: String) throws(OCIError) -> [String] {
        if text.hasPrefix("[") {
            guard let list = try? jsonArray(text) else { throw .invalid("invalid change \"\(line)\": bad JSON array") }
            return list
        }
        return ["/bin/sh", "-c", text]
    }

    /// `k=v k2="v 2"` or the legacy `k v`.
    static func pairs(_ text: String, _ line: String) throws(OCIError) -> [(String, String)] {
        guard text.contains("=") else {
            guard let space = text.firstIndex(of: " ") else { throw .invalid("invalid change \"\(line)\"") }
            return [(String(text[..<space]), String(text[text.index(after: space)...]))]
        }
        var out: [(String, String)] = []
        var current = ""
        var quote: Character?
        var words: [String] = []
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == " " {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { words.append(current) }
        for w in words {
            guard let eq = w.firstIndex(of: "=") else { throw .invalid("invalid change \"\(line)\": \(w) has no =") }
            out.append((String(w[..<eq]), String(w[w.index(after: eq)...])))
        }
        return out
    }
}
