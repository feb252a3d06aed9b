// SPDX-License-Identifier: Apache-2.0
import SComposeOS

/// Profiles: services without `profiles` are always on; others need one of theirs active
/// (`*` activates all); a service named on the command line brings its profiles along.
enum Profiles {
    /// Removes the disabled services and returns their names.
    static func apply(_ project: inout LoadedProject, profiles: [String], services selected: [String]) -> Set<String> {
        guard var services = project.model["services"]?.map else { return [] }
        var active = profiles
        for name in selected {
            guard let service = services[name] else { continue }
            for p in service["profiles"]?.seq ?? [] {
                if let s = p.scalarText { active.append(s) }
            }
        }
        var disabled: [String: Node] = [:]
        for (name, service) in services where !enabled(service, active) {
            disabled[name] = service
            services[name] = nil
        }
        project.model["services"] = Node(.map(services), origin: project.model["services"]?.origin)
        return Set(disabled.keys)
    }

    static func enabled(_ service: Node, _ active: [String]) -> Bool {
        let own = (service["profiles"]?.seq ?? []).compactMap(\.scalarText)
        if own.isEmpty { return true }
        return active.contains { $0 == "*" || own.contains($0) }
    }
}

/// compose-go's `checkConsistency`: references that must resolve and settings that must agree.
enum Consistency {
    /// Checks the model; `disabledServices` (removed by profiles) may be depended on when not required.
    static func check(_ model: Node, disabledServices: Set<String>) throws(LoaderError) {
        let services = model["services"]?.map ?? OrderedMap()
        let networks = model["networks"]?.map ?? OrderedMap()
        let volumes = model["volumes"]?.map ?? OrderedMap()
        let secrets = model["secrets"]?.map ?? OrderedMap()
        let configs = model["configs"]?.map ?? OrderedMap()
        func invalid(_ message: String, _ node: Node?) -> LoaderError {
            LoaderError(.invalid, message + ": invalid compose project", origin: node?.origin)
        }
        for (name, s) in services {
            let build = s["build"]
            if build == nil && (s["image"]?.string ?? "").isEmpty && s["provider"] == nil {
                throw invalid("service \"\(name)\" has neither an image nor a build context specified", s)
            }
            if let build, !(build["dockerfile_inline"]?.string ?? "").isEmpty,
                build["dockerfile"] != nil, build["dockerfile"]?.string != "Dockerfile" || build["dockerfile"]?.origin != nil
            {
                throw invalid("service \"\(name)\" declares mutualy exclusive dockerfile and dockerfile_inline", build)
            }
            if let platforms = build?["platforms"]?.seq, !platforms.isEmpty, let platform = s["platform"]?.string,
                !platform.isEmpty, !platforms.contains(where: { $0.string == platform })
            {
                throw invalid("service.build.platforms MUST include service.platform \"\(platform)\"", build)
            }
            if let mode = s["network_mode"]?.string, !mode.isEmpty, let nets = s["networks"]?.map, !nets.isEmpty {
                throw invalid("service \(name) declares mutually exclusive `network_mode` and `networks`", s["network_mode"])
            }
            // A top-level network named `x-…` is an extension, not a network (Compose's reading).
            for (net, value) in s["networks"]?.map ?? OrderedMap() where networks[net] == nil || net.hasPrefix("x-") {
                throw invalid("service \"\(name)\" refers to undefined network \(net)", value.origin == nil ? s : value)
            }
            if let test = s["healthcheck"]?["test"]?.seq, let first = test.first?.string,
                !["CMD", "CMD-SHELL", "NONE"].contains(first)
            {
                throw LoaderError(
                    .invalid, "healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"",
                    origin: s["healthcheck"]?["test"]?.origin)
            }
            for v in s["volumes"]?.seq ?? [] where v["type"]?.string == "volume" {
                if let source = v["source"]?.string, !source.isEmpty, volumes[source] == nil {
                    throw invalid("service \"\(name)\" refers to undefined volume \(source)", v)
                }
            }
            for secret in s["build"]?["secrets"]?.seq ?? [] {
                if let source = secret["source"]?.string, secrets[source] == nil {
                    throw invalid("service \"\(name)\" refers to undefined build secret \(source)", secret)
                }
            }
            for config in s["configs"]?.seq ?? [] {
                if let source = config["source"]?.string, configs[source] == nil {
                    throw invalid("service \"\(name)\" refers to undefined config \(source)", config)
                }
            }
            let models = model["models"]?.map ?? OrderedMap()
            for (m, value) in s["models"]?.map ?? OrderedMap() where models[m] == nil {
                throw invalid("service \"\(name)\" refers to undefined model \(m)", value.origin == nil ? s : value)
            }
            for secret in s["secrets"]?.seq ?? [] {
                if let source = secret["source"]?.string, secrets[source] == nil {
                    throw invalid("service \"\(name)\" refers to undefined secret \(source)", secret)
                }
            }
            for (dep, cfg) in s["depends_on"]?.map ?? OrderedMap() where services[dep] == nil {
                if disabledServices.contains(dep) && cfg["required"]?.bool == false { continue }
                throw invalid("service \"\(name)\" depends on undefined service \"\(dep)\"", cfg.origin == nil ? s : cfg)
            }
            let scale = s["scale"]?.int
            let replicas = s["deploy"]?["replicas"]?.int
            if let scale, let replicas, scale != replicas {
                throw invalid("services.\(name): can't set distinct values on 'scale' and 'deploy.replicas'", s["scale"])
            }
            if let scale, scale < 0 {
                throw invalid("services.\(name).scale: must be greater than or equal to 0", s["scale"])
            }
            if let replicas, replicas < 0 {
                throw invalid("services.\(name).deploy.replicas: must be greater than or equal to 0", s["deploy"])
            }
            if let limits = s["deploy"]?["resources"]?["limits"] {
                if let cpus = s["cpus"], cpus != Node(.int(0)), cpus != Node(.float(0)), let l = limits["cpus"],
                    Units.float(cpus) != Units.float(l)
                {
                    throw invalid(
                        "services.\(name): can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'", cpus)
                }
                if let mem = s["mem_limit"], let l = limits["memory"], (try? Units.bytes(mem)) != (try? Units.bytes(l)) {
                    throw invalid(
                        "services.\(name): can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'",
                        mem)
                }
                if let pids = s["pids_limit"]?.int, pids != 0, let l = limits["pids"]?.int, l != pids {
                    throw invalid(
                        "services.\(name): can't set distinct values on 'pids_limit' and 'deploy.resources.limits.pids'",
                        s["pids_limit"])
                }
            }
            if let mem = s["mem_reservation"], let l = s["deploy"]?["resources"]?["reservations"]?["memory"],
                (try? Units.bytes(mem)) != (try? Units.bytes(l))
            {
                throw invalid(
                    "services.\(name): can't set distinct values on 'mem_reservation' and "
                        + "'deploy.resources.reservations.memory'", mem)
            }
            if (scale ?? replicas ?? 1) > 1, let cn = s["container_name"]?.string, !cn.isEmpty {
                let attr = scale == nil ? "deploy.replicas" : "scale"
                throw invalid(
                    "services.\(attr): can't set container_name and \(name) as container name must be unique", s)
            }
            for w in s["develop"]?["watch"]?.seq ?? [] {
                let action = w["action"]?.string ?? ""
                if (w["target"]?.string ?? "").isEmpty && action != "rebuild" && action != "restart" {
                    throw invalid("services.\(name).develop.watch: target is required for non-rebuild actions", w)
                }
            }
        }
        for (name, secret) in secrets {
            if secret["external"]?.bool == true { continue }
            if (secret["file"]?.string ?? "").isEmpty && (secret["environment"]?.string ?? "").isEmpty {
                throw invalid("secret \"\(name)\" must declare either `file` or `environment`", secret)
            }
        }
        var containerNames: [String: String] = [:]
        for (name, s) in services {
            guard let cn = s["container_name"]?.string, !cn.isEmpty else { continue }
            if let other = containerNames[cn] {
                throw LoaderError(
                    .invalid, "services.\(name): container name \"\(cn)\" is already in use by service \(other)",
                    origin: s["container_name"]?.origin)
            }
            containerNames[cn] = name
        }
        try DependencyCycles.check(services)
    }
}

/// A cycle in `depends_on` is an error at the `depends_on` of the first service on it (in
/// the files' order), with Compose's wording.
enum DependencyCycles {
    static func check(_ services: OrderedMap<Node>) throws(LoaderError) {
        let graph = DependencyGraph(
            services.keys.map { name in (name, (services[name]?["depends_on"]?.map?.keys ?? []).filter { services[$0] != nil }) })
        do throws(DependencyGraphError) {
            try graph.validate()
        } catch {
            guard case .cycle(let cycle) = error, let first = cycle.first else { return }
            throw LoaderError(.cycle, error.description, origin: services[first]?["depends_on"]?.origin)
        }
    }
}

/// Folds `env_file` contents into `environment` (and `label_file` into `labels`) the way
/// `docker compose config` shows them.
enum Environment {
    static func resolveServices(_ model: inout Node, environment env: [String: String], workingDir: String)
        throws(LoaderError)
    {
        guard var services = model["services"]?.map else { return }
        for (name, var service) in services {
            let own = environment(of: service)
            var resolved = OrderedMap<Node>()
            for (k, v) in own { resolved[k] = v.isNull ? (env[k].map { .string($0) } ?? v) : v }
            if let files = service["env_file"]?.seq {
                var acc: [String: String] = [:]
                var order: [String] = []
                for (k, v) in resolved {
                    if let s = v.string {
                        acc[k] = s
                        order.append(k)
                    }
                }
                for file in files {
                    guard let path = file["path"]?.string else { continue }
                    if !FileSystem.exists(path) {
                        if file["required"]?.bool == false { continue }
                        throw LoaderError(
                            .notFound, "env file \(path) not found: stat \(path): no such file or directory",
                            origin: file.origin)
                    }
                    let format = file["format"]?.string ?? ""
                    let text: String
                    do {
                        text = try FileSystem.read(path)
                    } catch {
                        throw LoaderError(.notFound, error.description, origin: file.origin)
                    }
                    let known = acc
                    let entries: [Dotenv.Entry]
                    switch format {
                    case "":
                        do {
                            entries = try Dotenv.parse(text, lookup: { env[$0] ?? known[$0] })
                        } catch {
                            throw LoaderError(.invalid, "failed to read \(path): \(error)", origin: file.origin)
                        }
                    case "raw":
                        entries = try rawEntries(text, path: path, lookup: { env[$0] ?? known[$0] })
                    default:
                        throw LoaderError(.unsupported, "unsupported env_file format \"\(format)\"", origin: file.origin)
                    }
                    for e in entries {
                        if acc[e.key] == nil { order.append(e.key) }
                        acc[e.key] = e.value
                    }
                }
                var merged = OrderedMap<Node>()
                for k in order { if let v = acc[k] { merged[k] = .string(v) } }
                for (k, v) in resolved { merged[k] = v }
                resolved = merged
                service["env_file"] = nil
            }
            if !resolved.isEmpty || service["environment"] != nil {
                service["environment"] = resolved.isEmpty ? nil : Node(.map(resolved), origin: service["environment"]?.origin)
            }
            if let files = service["label_file"]?.seq {
                var labels: [String: String] = [:]
                var order: [String] = []
                for file in files {
                    guard let path = file.string else { continue }
                    let text: String
                    do {
                        text = try FileSystem.read(path)
                    } catch {
                        throw LoaderError(
                            .notFound, "label file \(path) not found: stat \(path): no such file or directory",
                            origin: file.origin)
                    }
                    let known = labels
                    do {
                        for e in try Dotenv.parse(text, lookup: { known[$0] }) {
                            if labels[e.key] == nil { order.append(e.key) }
                            labels[e.key] = e.value
                        }
                    } catch {
                        throw LoaderError(.invalid, "failed to read \(path): \(error)", origin: file.origin)
                    }
                }
                var merged = OrderedMap<Node>()
                for k in order { if let v = labels[k] { merged[k] = .string(v) } }
                for (k, v) in Labels.mapping(service["labels"]) { merged[k] = v }
                service["labels"] = merged.isEmpty ? nil : Node(.map(merged))
                service["label_file"] = nil
            }
            services[name] = service
        }
        model["services"] = Node(.map(services), origin: model["services"]?.origin)
    }

    /// A service's `environment` as a mapping (a list of `K=V` / `K` becomes one).
    static func environment(of service: Node) -> OrderedMap<Node> {
        Labels.mapping(service["environment"])
    }

    /// docker-cli's `--env-file` format: literal values, no quotes or interpolation.
    static func rawEntries(_ text: String, path: String, lookup: (String) -> String?) throws(LoaderError)
        -> [Dotenv.Entry]
    {
        var out: [Dotenv.Entry] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine.drop(while: { $0 == " " || $0 == "\t" }))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let eq = line.firstIndex(of: "=") {
                let key = String(line[..<eq])
                if key.isEmpty { throw LoaderError(.invalid, "no variable name on line '\(line)'") }
                if key.contains(" ") || key.contains("\t") {
                    throw LoaderError(.invalid, "variable '\(key)' contains whitespaces")
                }
                var value = String(line[line.index(after: eq)...])
                if value.hasSuffix("\r") { value.removeLast() }
                out.append(Dotenv.Entry(key: key, value: value))
            } else {
                let key = line.trimmingSpaces()
                if let v = lookup(key) { out.append(Dotenv.Entry(key: key, value: v)) }
            }
        }
        return out
    }
}

/// `KEY=VALUE` lists and mappings, as Compose reads environment, labels, annotations, args.
enum Labels {
    /// The mapping form: list items split at the first `=` (a bare `KEY` maps to null); scalar
    /// mapping values printed as Go prints them.
    static func mapping(_ node: Node?) -> OrderedMap<Node> {
        var out = OrderedMap<Node>()
        guard let node else { return out }
        switch node.kind {
        case .seq(let items):
            for item in items {
                guard let s = item.scalarText else { continue }
                if let eq = s.firstIndex(of: "=") {
                    out[String(s[..<eq])] = .string(String(s[s.index(after: eq)...]), origin: item.origin)
                } else {
                    out[s] = Node(.null, origin: item.origin)
                }
            }
        case .map(let m):
            for (k, v) in m {
                if v.isNull {
                    out[k] = v
                } else {
                    out[k] = .string(v.scalarText ?? Merge.goPrint(v), origin: v.origin)
                }
            }
        default:
            break
        }
        return out
    }
}
