// SPDX-License-Identifier: Apache-2.0

/// `include`: other compose projects loaded with their own directory and `.env`, whose
/// resources are imported; a resource defined differently on both sides is an error.
enum Include {
    static func apply(
        _ cfg: Node, file: String, workingDir: String, environment: [String: String], included: [String],
        loader: inout Loader
    ) throws(LoaderError) -> Node {
        guard let entries = cfg["include"] else { return cfg }
        var model = cfg
        model["include"] = nil
        guard let items = entries.seq else {
            throw LoaderError(.invalid, "include must be a list", origin: entries.origin, path: "include")
        }
        let chain = included + [file]
        for (index, item) in items.enumerated() {
            let path = "include[\(index)]"
            var paths: [String] = []
            var projectDirectory: String?
            var envFiles: [String]?
            if let s = item.string {
                paths = [s]
            } else if let m = item.map {
                switch m["path"]?.kind {
                case .string(let s)?: paths = [s]
                case .seq(let list)?: paths = list.compactMap(\.scalarText)
                default:
                    throw LoaderError(.invalid, "include.path is required", origin: item.origin, path: path)
                }
                projectDirectory = m["project_directory"]?.string
                switch m["env_file"]?.kind {
                case .string(let s)?: envFiles = [s]
                case .seq(let list)?: envFiles = list.compactMap(\.scalarText)
                default: break
                }
            } else {
                throw LoaderError(.invalid, "invalid include entry", origin: item.origin, path: path)
            }
            guard !paths.isEmpty else { continue }
            let files = paths.map { Path.absolute($0, base: workingDir) }
            let main = files[0]
            let dir: String
            if let p = projectDirectory {
                dir = Path.absolute(p, base: workingDir)
            } else {
                dir = Path.dirname(main)
            }
            if chain.contains(main) {
                let cycle = (chain + [main])
                throw LoaderError(
                    .cycle,
                    "include cycle detected:\n\(cycle[0])\n include \(cycle.dropFirst().joined(separator: "\n include "))",
                    origin: item.origin)
            }
            var envPaths: [String] = []
            if let envFiles {
                for f in envFiles where f != "/dev/null" {
                    let abs = Path.absolute(f, base: workingDir)
                    if !FileSystem.exists(abs) {
                        throw LoaderError(.notFound, "stat \(abs): no such file or directory", origin: item.origin)
                    }
                    envPaths.append(abs)
                }
            } else {
                let f = Path.join(dir, ".env")
                if FileSystem.isFile(f) { envPaths = [f] }
            }
            let fromFile = try ProjectOptions.readEnvFiles(envPaths, base: environment, optional: false)
            var env = environment
            for (k, v) in fromFile where env[k] == nil { env[k] = v }
            var configs: [ConfigFile] = []
            for f in files {
                configs.append(ConfigFile(path: f, content: try FileSystem.readComposeFile(f, origin: item.origin)))
            }
            var nested = loader
            nested.warnings = []
            let imported = try nested.loadModel(files: configs, workingDir: dir, environment: env, included: chain)
            loader.warnings += nested.warnings
            loader.unsetVariables += nested.unsetVariables
            for key in ["services", "volumes", "networks", "secrets", "configs", "models"] {
                guard let from = imported[key]?.map else { continue }
                var to = model[key]?.map ?? OrderedMap()
                for (name, value) in from {
                    if let existing = to[name] {
                        if existing != value {
                            throw LoaderError(
                                .invalid, "\(key).\(name) conflicts with imported resource", origin: existing.origin)
                        }
                        continue
                    }
                    to[name] = value
                }
                model[key] = Node(.map(to), origin: model[key]?.origin)
            }
        }
        return model
    }
}
