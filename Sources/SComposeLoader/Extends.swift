// SPDX-License-Identifier: Apache-2.0

/// `extends`: a service starts from another service of the same or another file, merged
/// with the merge rules; chains are followed and loops are errors naming the loop.
enum Extends {
    struct Tracker {
        var chain: [(file: String, service: String)] = []

        func adding(file: String, service: String) throws(LoaderError) -> Tracker {
            var next = self
            next.chain.append((file, service))
            if chain.contains(where: { $0.file == file && $0.service == service }) {
                var lines = ["Circular reference:"]
                for (i, entry) in next.chain.enumerated() {
                    lines.append(i == 0 ? "  \(entry.service) in \(entry.file)" : "  extends \(entry.service) in \(entry.file)")
                }
                throw LoaderError(.cycle, lines.joined(separator: "\n"))
            }
            return next
        }
    }

    static func apply(
        _ cfg: Node, file: String, workingDir: String, loader: inout Loader, environment: [String: String],
        tracker: Tracker, resetPaths: [ModelPath]
    ) throws(LoaderError) -> Node {
        guard var services = cfg["services"]?.map else { return cfg }
        var context = Context(file: file, workingDir: workingDir, environment: environment, resetPaths: resetPaths)
        for name in services.keys {
            try context.resolve(name, in: &services, loader: &loader, tracker: tracker)
        }
        var out = cfg
        out["services"] = Node(.map(services), origin: cfg["services"]?.origin)
        return out
    }

    struct Context {
        var file: String
        var workingDir: String
        var environment: [String: String]
        /// `!reset`/`!override` paths of the extending document; they also cut the inherited values.
        var resetPaths: [ModelPath] = []

        /// Resolves `extends` of `name` in `services` (in place) and returns the result.
        @discardableResult
        mutating func resolve(
            _ name: String, in services: inout OrderedMap<Node>, loader: inout Loader, tracker: Tracker
        ) throws(LoaderError) -> Node? {
            guard let service = services[name] else { return nil }
            guard service.map != nil else {
                if service.isNull { return nil }
                throw LoaderError(.invalid, "services.\(name) must be a mapping", origin: service.origin)
            }
            guard let extends = service["extends"] else { return service }
            var ref: String
            var refFile: String?
            if let s = extends.string {
                ref = s
            } else if let m = extends.map {
                guard let s = m["service"]?.string else {
                    throw LoaderError(
                        .invalid, "extends.service is required", origin: extends.origin,
                        path: "services.\(name).extends")
                }
                ref = s
                refFile = m["file"]?.string
            } else {
                throw LoaderError(
                    .invalid, "services.\(name).extends must be a string or a mapping", origin: extends.origin)
            }
            var base: Node?
            var filename = file
            if let refFile {
                let local = Path.absolute(refFile, base: workingDir)
                var other = try Extends.servicesOf(
                    local, name: name, ref: ref, from: file, loader: &loader, environment: environment)
                var nested = Context(file: local, workingDir: Path.dirname(local), environment: environment)
                let next = try tracker.adding(file: local, service: name)
                base = try nested.resolve(ref, in: &other, loader: &loader, tracker: next)
                filename = local
                if var b = base {
                    b = RelativePaths.resolveService(b, workingDir: Path.dirname(local), home: environment["HOME"])
                    base = b
                }
            } else {
                guard services[ref] != nil else {
                    throw LoaderError(
                        .notFound, "cannot extend service \"\(name)\" in \(file): service \"\(ref)\" not found",
                        origin: extends.origin)
                }
                let next = try tracker.adding(file: filename, service: name)
                base = try resolve(ref, in: &services, loader: &loader, tracker: next)
            }
            _ = filename
            guard var source = base else { return service }
            for path in resetPaths {
                let c = path.components
                guard c.count > 2, c[0] == .key("services"), c[1] == .key(name) else { continue }
                Merge.remove(c.dropFirst(2), from: &source)
            }
            var merged = Merge.merge(source, service, path: ModelPath([.key("services"), .key("x")]))
            merged["extends"] = nil
            merged.origin = service.origin
            services[name] = merged
            return merged
        }
    }

    /// The services of another file, loaded (interpolated and canonical) but not validated.
    static func servicesOf(
        _ path: String, name: String, ref: String, from: String, loader: inout Loader,
        environment: [String: String]
    ) throws(LoaderError) -> OrderedMap<Node> {
        let content = try FileSystem.readComposeFile(path)
        let loaded = try loader.loadFile(
            ConfigFile(path: path, content: content), into: Node(.map(OrderedMap())),
            workingDir: Path.dirname(path), environment: environment, included: [], forExtends: true)
        guard let services = loaded["services"]?.map else {
            throw LoaderError(.invalid, "cannot extend service \"\(name)\" in \(path): no services section")
        }
        guard services[ref] != nil else {
            throw LoaderError(
                .notFound,
                "cannot extend service \"\(name)\" in \(from): service \"\(ref)\" not found in \(path)")
        }
        return services
    }
}
