// SPDX-License-Identifier: Apache-2.0

/// A pattern over model paths: literal keys, `[]` for any list index, `*` for either.
/// Special cases of the loader are tables keyed by these, not code spread over fields.
public struct PathPattern: Sendable, Hashable, CustomStringConvertible {
    /// The components.
    public var parts: [String]

    /// Parses `services.*.ports.[].target`.
    public init(_ text: String) {
        parts = text.split(separator: ".").map(String.init)
    }

    /// Whether `keys` (from `ModelPath.patternKeys`) matches exactly.
    public func matches(_ keys: [String]) -> Bool {
        guard keys.count == parts.count else { return false }
        for (p, k) in zip(parts, keys) where p != k {
            if p == "*" { continue }
            return false
        }
        return true
    }

    /// Whether a concrete path matches exactly.
    public func matches(_ path: ModelPath) -> Bool {
        let components = path.components
        guard components.count == parts.count else { return false }
        for i in 0..<parts.count {
            let p = parts[i]
            if p == "*" { continue }
            switch components[i] {
            case .key(let k): if p != k { return false }
            case .index: if p != "[]" { return false }
            }
        }
        return true
    }

    public var description: String { parts.joined(separator: ".") }
}

/// A table from path patterns to values, looked up by concrete path.
public struct PathTable<Value: Sendable>: Sendable {
    private var byLength: [Int: [(PathPattern, Value)]] = [:]

    /// Creates a table from pattern strings.
    public init(_ entries: [(String, Value)]) {
        for (text, value) in entries {
            let pattern = PathPattern(text)
            byLength[pattern.parts.count, default: []].append((pattern, value))
        }
    }

    /// The value for the first pattern matching `path`.
    public func lookup(_ path: ModelPath) -> Value? {
        guard let candidates = byLength[path.components.count] else { return nil }
        for (pattern, value) in candidates where pattern.matches(path) { return value }
        return nil
    }

    /// The value for the first pattern matching `keys`.
    public func lookup(_ keys: [String]) -> Value? {
        guard let candidates = byLength[keys.count] else { return nil }
        for (pattern, value) in candidates where pattern.matches(keys) { return value }
        return nil
    }
}
