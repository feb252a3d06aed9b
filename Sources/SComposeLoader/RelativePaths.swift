// SPDX-License-Identifier: Apache-2.0

/// Makes the relative paths of a model absolute against the project directory (and `~` the
/// home directory): build contexts, env files, bind sources, secret and config files, …
enum RelativePaths {
    static func resolve(_ dict: Node, workingDir: String, home: String?) throws(LoaderError) -> Node {
        for (_, service) in dict["services"]?.map ?? OrderedMap() {
            for v in service["volumes"]?.seq ?? [] where v["type"]?.string == "bind" && (v["source"]?.string ?? "").isEmpty {
                throw LoaderError(
                    .invalid, "invalid mount config for type \"bind\": field Source must not be empty", origin: v.origin)
            }
        }
        var dict = dict
        if var services = dict["services"]?.map {
            for (name, service) in services {
                services[name] = resolveService(service, workingDir: workingDir, home: home)
            }
            dict["services"] = Node(.map(services), origin: dict["services"]?.origin)
        }
        for key in ["secrets", "configs"] {
            guard var resources = dict[key]?.map else { continue }
            for (name, var r) in resources {
                if let f = r["file"]?.string {
                    r["file"] = .string(maybeUnixPath(f, workingDir, home), origin: r["file"]?.origin)
                }
                resources[name] = r
            }
            dict[key] = Node(.map(resources), origin: dict[key]?.origin)
        }
        if var volumes = dict["volumes"]?.map {
            for (name, var v) in volumes {
                if v["driver"]?.string == "local", var opts = v["driver_opts"], opts["o"]?.string == "bind",
                    let device = opts["device"]?.string
                {
                    opts["device"] = .string(maybeUnixPath(device, workingDir, home))
                    v["driver_opts"] = opts
                }
                volumes[name] = v
            }
            dict["volumes"] = Node(.map(volumes), origin: dict["volumes"]?.origin)
        }
        return dict
    }

    static func resolveService(_ service: Node, workingDir: String, home: String?) -> Node {
        guard service.map != nil else { return service }
        var service = service
        if var build = service["build"], build.map != nil {
            if let context = build["context"]?.string, !isRemoteContext(context) {
                build["context"] = .string(absPath(context, workingDir, home), origin: build["context"]?.origin)
            }
            if var contexts = build["additional_contexts"]?.map {
                for (k, v) in contexts {
                    if let s = v.string, !isRemoteContext(s), !s.hasPrefix("docker-image://") {
                        contexts[k] = .string(absPath(s, workingDir, home), origin: v.origin)
                    }
                }
                build["additional_contexts"] = Node(.map(contexts))
            }
            if var ssh = build["ssh"]?.map {
                for (k, v) in ssh {
                    if let s = v.string { ssh[k] = .string(maybeUnixPath(s, workingDir, home), origin: v.origin) }
                }
                build["ssh"] = Node(.map(ssh))
            }
            service["build"] = build
        }
        if let files = service["env_file"]?.seq {
            service["env_file"] = Node(
                .seq(
                    files.map { f in
                        guard let p = f["path"]?.string else { return f }
                        var f = f
                        f["path"] = .string(absPath(p, workingDir, home), origin: f["path"]?.origin)
                        return f
                    }), origin: service["env_file"]?.origin)
        }
        if let files = service["label_file"]?.seq {
            service["label_file"] = Node(
                .seq(files.map { f in f.string.map { .string(absPath($0, workingDir, home), origin: f.origin) } ?? f }),
                origin: service["label_file"]?.origin)
        }
        if var extends = service["extends"], let file = extends["file"]?.string, !isRemote(file) {
            extends["file"] = .string(absPath(file, workingDir, home))
            service["extends"] = extends
        }
        if var develop = service["develop"], let watch = develop["watch"]?.seq {
            develop["watch"] = Node(
                .seq(
                    watch.map { w in
                        guard let p = w["path"]?.string else { return w }
                        var w = w
                        w["path"] = .string(absPath(p, workingDir, home))
                        return w
                    }))
            service["develop"] = develop
        }
        if let volumes = service["volumes"]?.seq {
            service["volumes"] = Node(
                .seq(
                    volumes.map { v in
                        guard v["type"]?.string == "bind", let s = v["source"]?.string else { return v }
                        var v = v
                        v["source"] = .string(maybeUnixPath(s, workingDir, home), origin: v["source"]?.origin)
                        return v
                    }), origin: service["volumes"]?.origin)
        }
        return service
    }

    static func isRemote(_ s: String) -> Bool {
        s.contains("://") || s.hasPrefix("git@") || s.hasPrefix("github.com/")
    }

    static func isRemoteContext(_ s: String) -> Bool {
        isRemote(s) || s.hasPrefix("service:")
    }

    static func expandUser(_ p: String, _ home: String?) -> String {
        guard p.hasPrefix("~"), let home else { return p }
        return Path.join(home, String(p.dropFirst()))
    }

    static func absPath(_ p: String, _ workingDir: String, _ home: String?) -> String {
        if p.isEmpty { return p }
        if p.hasPrefix("~") { return expandUser(p, home) }
        if Path.isAbsolute(p) { return p }
        return Path.join(workingDir, p)
    }

    static func maybeUnixPath(_ p: String, _ workingDir: String, _ home: String?) -> String {
        let expanded = expandUser(p, home)
        if Path.isAbsolute(expanded) || isWindowsAbsolute(expanded) { return expanded }
        return Path.join(workingDir, expanded)
    }

    static func isWindowsAbsolute(_ p: String) -> Bool {
        if p.hasPrefix("\\\\") { return true }
        let c = Array(p)
        return c.count >= 3 && c[0].isLetter && c[1] == ":" && (c[2] == "\\" || c[2] == "/")
    }
}
