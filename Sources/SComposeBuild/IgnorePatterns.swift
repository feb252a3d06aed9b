// SPDX-License-Identifier: Apache-2.0

/// A `.dockerignore` file with Docker's semantics: patterns as Go's `filepath.Match` (`*`
/// and `?` stay within a path element, `[a-z]`, `[^a]`, `\` escapes) plus `**` for any
/// number of directories; a pattern also excludes everything below what it matches; `!`
/// re-includes; the last matching pattern decides.
public struct DockerIgnore: Sendable {
    struct Pattern: Sendable {
        var parts: [String]
        var exclusion: Bool
    }

    let patterns: [Pattern]

    public init(_ text: String) {
        var out: [Pattern] = []
        for raw in splitLines(text) {
            var line = String(raw)
            if line.hasPrefix("#") { continue }
            line = String(line.trimmingWhitespace())
            if line.isEmpty { continue }
            var exclusion = false
            if line.hasPrefix("!") {
                exclusion = true
                line = String(line.dropFirst().trimmingWhitespace())
            }
            let parts = Self.clean(line)
            if parts.isEmpty { continue }
            out.append(Pattern(parts: parts, exclusion: exclusion))
        }
        patterns = out
    }

    /// As Go's `filepath.Clean`, split into elements; leading `/` and `./` mean the root, and
    /// `..` stops there.
    static func clean(_ path: String) -> [String] {
        var parts: [String] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(String(part))
        }
        return parts
    }

    /// Whether the context path (relative, `/`-separated) is left out of the build.
    public func excludes(_ relativePath: String, isDirectory: Bool = false) -> Bool {
        let path = relativePath.split(separator: "/").map(String.init)
        guard !path.isEmpty else { return false }
        var excluded = false
        for pattern in patterns {
            if Self.matchesSelfOrParent(pattern.parts, path) { excluded = !pattern.exclusion }
        }
        return excluded
    }

    /// True when nothing below the excluded directory can be re-included, so a walk may skip it.
    public func canSkipDirectory(_ relativePath: String) -> Bool {
        guard excludes(relativePath, isDirectory: true) else { return false }
        let path = relativePath.split(separator: "/").map(String.init)
        for pattern in patterns where pattern.exclusion {
            // An exception that could match something below this directory.
            if Self.couldMatchBelow(pattern.parts, path) { return false }
        }
        return true
    }

    /// The pattern matches the path or one of its parent directories.
    static func matchesSelfOrParent(_ pattern: [String], _ path: [String]) -> Bool {
        for end in stride(from: path.count, through: 1, by: -1) where match(pattern[...], path[..<end]) {
            return true
        }
        return false
    }

    static func couldMatchBelow(_ pattern: [String], _ dir: [String]) -> Bool {
        // The pattern's leading elements must be able to match the directory's path.
        var i = 0
        for element in dir {
            guard i < pattern.count else { return false }
            if pattern[i] == "**" { return true }
            if !matchElement(pattern[i], element) { return false }
            i += 1
        }
        return i < pattern.count
    }

    static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            // `**` takes zero or more elements.
            var p = path
            while true {
                if match(rest, p) { return true }
                guard !p.isEmpty else { return false }
                p = p.dropFirst()
            }
        }
        guard let element = path.first, matchElement(first, element) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// One path element against one pattern element (Go's `filepath.Match` without `/`).
    static func matchElement(_ pattern: String, _ name: String) -> Bool {
        matchChars(Array(pattern)[...], Array(name)[...])
    }

    private static func matchChars(_ p: ArraySlice<Character>, _ s: ArraySlice<Character>) -> Bool {
        guard let c = p.first else { return s.isEmpty }
        switch c {
        case "*":
            var rest = s
            while true {
                if matchChars(p.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        case "?":
            guard !s.isEmpty else { return false }
            return matchChars(p.dropFirst(), s.dropFirst())
        case "[":
            guard let ch = s.first else { return false }
            var i = p.index(after: p.startIndex)
            var negate = false
            // Go's filepath.Match negates with `^` only (`[!a]` is the set of `!` and `a`).
            if i < p.endIndex, p[i] == "^" {
                negate = true
                i = p.index(after: i)
            }
            var matched = false
            var first = true
            while i < p.endIndex, p[i] != "]" || first {
                first = false
                var lo = p[i]
                if lo == "\\", p.index(after: i) < p.endIndex {
                    i = p.index(after: i)
                    lo = p[i]
                }
                var hi = lo
                let next = p.index(after: i)
                if next < p.endIndex, p[next] == "-", p.index(after: next) < p.endIndex, p[p.index(after: next)] != "]" {
                    hi = p[p.index(after: next)]
                    i = p.index(after: next)
                }
                if lo <= ch && ch <= hi { matched = true }
                i = p.index(after: i)
            }
            guard i < p.endIndex else { return false }  // no closing bracket: a bad pattern matches nothing
            guard matched != negate else { return false }
            return matchChars(p[p.index(after: i)...], s.dropFirst())
        case "\\":
            let rest = p.dropFirst()
            guard let lit = rest.first, let ch = s.first, lit == ch else { return false }
            return matchChars(rest.dropFirst(), s.dropFirst())
        default:
            guard let ch = s.first, ch == c else { return false }
            return matchChars(p.dropFirst(), s.dropFirst())
        }
    }
}
