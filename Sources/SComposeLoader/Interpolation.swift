// SPDX-License-Identifier: Apache-2.0
import SComposeYAML

/// Substitutes variables in every string value of a file's tree, then casts the values at
/// typed paths (ports' `target`, `privileged`, …) from string to their type, as compose-go does,
/// so that `privileged: ${PRIV}` validates as a boolean.
public struct Interpolation {
    /// How a typed path converts its string.
    public enum Cast: Sendable {
        case int, float, bool
    }

    /// The paths whose strings are cast after substitution.
    public static let casts = PathTable<Cast>([
        ("services.*.cpu_count", .int),
        ("services.*.cpu_percent", .float),
        ("services.*.cpu_period", .int),
        ("services.*.cpu_quota", .int),
        ("services.*.cpu_rt_period", .int),
        ("services.*.cpu_rt_runtime", .int),
        ("services.*.cpus", .float),
        ("services.*.cpu_shares", .int),
        ("services.*.init", .bool),
        ("services.*.deploy.replicas", .int),
        ("services.*.deploy.update_config.parallelism", .int),
        ("services.*.deploy.update_config.max_failure_ratio", .float),
        ("services.*.deploy.rollback_config.parallelism", .int),
        ("services.*.deploy.rollback_config.max_failure_ratio", .float),
        ("services.*.deploy.restart_policy.max_attempts", .int),
        ("services.*.deploy.placement.max_replicas_per_node", .int),
        ("services.*.healthcheck.retries", .int),
        ("services.*.healthcheck.disable", .bool),
        ("services.*.oom_kill_disable", .bool),
        ("services.*.oom_score_adj", .int),
        ("services.*.pids_limit", .int),
        ("services.*.ports.[].target", .int),
        ("services.*.privileged", .bool),
        ("services.*.read_only", .bool),
        ("services.*.scale", .int),
        ("services.*.stdin_open", .bool),
        ("services.*.tty", .bool),
        ("services.*.ulimits.*", .int),
        ("services.*.ulimits.*.hard", .int),
        ("services.*.ulimits.*.soft", .int),
        ("services.*.volumes.[].read_only", .bool),
        ("services.*.volumes.[].volume.nocopy", .bool),
        ("networks.*.external", .bool),
        ("networks.*.internal", .bool),
        ("networks.*.attachable", .bool),
        ("networks.*.enable_ipv4", .bool),
        ("networks.*.enable_ipv6", .bool),
        ("volumes.*.external", .bool),
        ("secrets.*.external", .bool),
        ("configs.*.external", .bool),
    ])

    /// The variables.
    public var lookup: (String) -> String?
    /// Names used but not set, in order of use (Compose warns about them).
    public private(set) var unset: [String] = []

    /// Creates an interpolation over a variable lookup.
    public init(lookup: @escaping (String) -> String?) {
        self.lookup = lookup
    }

    /// Interpolates a whole file tree.
    public mutating func apply(_ node: Node, path: ModelPath = ModelPath()) throws(LoaderError) -> Node {
        var node = node
        switch node.kind {
        case .string(let s):
            let value: String
            do {
                value = try Template.substitute(s, lookup: lookup, unset: &unset)
            } catch {
                switch error {
                case .invalid:
                    throw LoaderError(
                        .interpolation,
                        "invalid interpolation format for \(path). You may need to escape any $ with another $. \(s)",
                        origin: node.origin)
                case .missingRequired:
                    throw LoaderError(
                        .interpolation, "error while interpolating \(path): \(error)", origin: node.origin)
                }
            }
            node.kind = .string(value)
            if path.components.count <= 6, let cast = Self.casts.lookup(path) {
                node.kind = try Self.cast(value, cast, path: path, origin: node.origin)
            }
        case .seq, .map:
            try node.updateChildren { (component, child: inout Node) throws(LoaderError) in
                child = try apply(child, path: ModelPath(path.components + [component]))
            }
        default:
            break
        }
        return node
    }

    static func cast(_ value: String, _ cast: Cast, path: ModelPath, origin: Origin?) throws(LoaderError) -> Node.Kind {
        func fail(_ why: String) -> LoaderError {
            LoaderError(
                .invalid, "error while interpolating \(path): failed to cast to expected type: \(why)", origin: origin)
        }
        switch cast {
        case .int:
            guard let i = Int64(value) else {
                throw fail("strconv.Atoi: parsing \"\(value)\": invalid syntax")
            }
            return .int(i)
        case .float:
            guard GoNumber.isYAMLFloat(value) || Double(value) != nil, let d = Double(value) else {
                throw fail("strconv.ParseFloat: parsing \"\(value)\": invalid syntax")
            }
            return .float(d)
        case .bool:
            switch value.lowercased() {
            case "true", "yes", "y", "on": return .bool(true)
            case "false", "no", "n", "off": return .bool(false)
            default: throw fail("invalid boolean: \(value)")
            }
        }
    }
}

