// SPDX-License-Identifier: Apache-2.0

/// An error of the loading pipeline, naming where the problem is.
public struct LoaderError: Error, Sendable, CustomStringConvertible {
    /// Kinds callers can switch on.
    public enum Kind: Sendable, Equatable {
        /// The file is not valid YAML or not a valid compose model.
        case invalid
        /// A file, service, network, volume, secret or config is missing.
        case notFound
        /// A reference loop (extends, include, depends_on).
        case cycle
        /// A valid construct scompose does not support.
        case unsupported
        /// A required variable is missing or a template is malformed.
        case interpolation
    }

    /// What kind of problem.
    public var kind: Kind
    /// The message, without position.
    public var message: String
    /// Where in a file, when known.
    public var origin: Origin?
    /// The model path, like `services.web.ports[1]`, when known.
    public var path: String?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, origin: Origin? = nil, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.origin = origin
        self.path = path
    }

    public var description: String {
        var out = ""
        if let origin { out += "\(origin): " }
        if let path, !path.isEmpty { out += "\(path): " }
        return out + message
    }
}

/// A model path like `services.web.ports[1]`, built while walking the tree.
public struct ModelPath: Sendable, Hashable, CustomStringConvertible {
    /// The components: keys and indices.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The components from the root.
    public var components: [Component]

    /// Creates a path.
    public init(_ components: [Component] = []) {
        self.components = components
    }

    /// This path extended by a key.
    public func appending(_ key: String) -> ModelPath { ModelPath(components + [.key(key)]) }
    /// This path extended by an index.
    public func appending(_ index: Int) -> ModelPath { ModelPath(components + [.index(index)]) }

    /// The keys, with indices as `[]`, for matching against path patterns.
    public var patternKeys: [String] {
        components.map {
            switch $0 {
            case .key(let k): return k
            case .index: return "[]"
            }
        }
    }

    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let k): out += out.isEmpty ? k : "." + k
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }
}
