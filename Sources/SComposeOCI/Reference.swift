// SPDX-License-Identifier: Apache-2.0

/// An image reference, normalized as Docker does: `busybox` is
/// `docker.io/library/busybox:latest`, `localhost:5000/app@sha256:…` keeps its registry.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry host (and port), `docker.io` by default.
    public var domain: String
    /// The repository path, `library/busybox` for official Docker Hub images.
    public var path: String
    /// The tag; nil when the reference has only a digest.
    public var tag: String?
    /// The digest, when pinned.
    public var digest: Digest?

    /// Why a reference was rejected.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public var reference: String
        public var reason: String
        public var description: String { "invalid reference format \"\(reference)\": \(reason)" }
    }

    /// Parses and normalizes a reference; a missing tag becomes `latest` unless a digest is given.
    public init(parsing text: String) throws(Invalid) {
        var rest = Substring(text)
        if rest.isEmpty { throw Invalid(reference: text, reason: "empty") }
        if let at = rest.firstIndex(of: "@") {
            guard let d = Digest(String(rest[rest.index(after: at)...])) else {
                throw Invalid(reference: text, reason: "invalid digest")
            }
            digest = d
            rest = rest[..<at]
        }
        var name = rest
        if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            let t = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(t) else { throw Invalid(reference: text, reason: "invalid tag \"\(t)\"") }
            tag = t
            name = rest[..<colon]
        }
        var domain = "docker.io"
        var path = String(name)
        if let slash = name.firstIndex(of: "/") {
            let first = name[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: \.isUppercase) {
                domain = String(first)
                path = String(name[name.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = "docker.io" }
        if domain == "docker.io" && !path.contains("/") { path = "library/" + path }
        guard Self.isValidPath(path) else {
            throw Invalid(reference: text, reason: "repository name must be lowercase and made of [a-z0-9._-/]")
        }
        guard Self.isValidDomain(domain) else { throw Invalid(reference: text, reason: "invalid registry \"\(domain)\"") }
        if tag == nil && digest == nil { tag = "latest" }
        self.domain = domain
        self.path = path
    }

    /// `domain/path`.
    public var repository: String { "\(domain)/\(path)" }

    /// The full normalized form.
    public var description: String {
        var out = repository
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    /// The short form Docker shows (`busybox:latest`, `myorg/app:1`, `localhost:5000/app:1`).
    public var familiar: String {
        var out = familiarRepository
        if let tag { out += ":" + tag }
        if let digest { out += "@" + digest.description }
        return out
    }

    /// The repository as Docker shows it.
    public var familiarRepository: String {
        if domain == "docker.io" {
            return path.hasPrefix("library/") ? String(path.dropFirst(8)) : path
        }
        return repository
    }

    static func isValidTag(_ t: String) -> Bool {
        guard let first = t.unicodeScalars.first, t.unicodeScalars.count <= 128 else { return false }
        func word(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
        }
        return word(first) && t.unicodeScalars.allSatisfy { word($0) || $0 == "." || $0 == "-" }
    }

    static func isValidPath(_ p: String) -> Bool {
        guard !p.isEmpty, p.utf8.count <= 255 else { return false }
        for component in p.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = component.unicodeScalars.first, let last = component.unicodeScalars.last else { return false }
            func alnum(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "0" && c <= "9") }
            guard alnum(first), alnum(last) else { return false }
            guard component.unicodeScalars.allSatisfy({ alnum($0) || $0 == "." || $0 == "_" || $0 == "-" }) else {
                return false
            }
        }
        return true
    }

    static func isValidDomain(_ d: String) -> Bool {
        !d.isEmpty
            && d.unicodeScalars.allSatisfy {
                ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "-"
                    || $0 == ":" || $0 == "[" || $0 == "]"
            }
    }
}
