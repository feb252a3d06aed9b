// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeSpec
import SComposeYAML

/// The result of loading: the normalized model as a tree (what `config` prints) and its facts.
public struct LoadedProject: Sendable {
    /// The project name.
    public var name: String
    /// The project directory.
    public var workingDirectory: String
    /// The compose files, in merge order.
    public var files: [String]
    /// The interpolation variables.
    public var environment: [String: String]
    /// The normalized model.
    public var model: Node
    /// The model as `config` prints it, every value decoded to its canonical form.
    public var rendered: JSONValue = .null
    /// Whether `rendered` keeps the `x-` keys of services and resources
    /// (`ProjectOptions.renderExtensions`).
    public var renderedExtensions = false
    /// The typed model.
    public var project: ComposeProject
    /// Every profile some service declares (enabled or not), sorted.
    public var profiles: [String] = []
    /// Warnings for standard error.
    public var warnings: [String]
}

/// Loads compose files through the stages of compose-go: parse, interpolate, extends,
/// include, merge, unicity, validate, canonical, defaults, paths, normalize, profiles,
/// consistency and environment resolution.
public struct Loader {
    let options: ProjectOptions
    let parser = YAMLParser()
    var warnings: [String] = []
    var unsetVariables: [String] = []
    /// Documents already parsed (the project name is read before the files are loaded).
    var parsed: [String: [YAMLNode]] = [:]

    /// Creates a loader for these options.
    public init(options: ProjectOptions) {
        self.options = options
    }

    /// Discovers, reads and loads the project.
    public static func load(_ options: ProjectOptions) throws(LoaderError) -> LoadedProject {
        let details = try options.configDetails()
        var loader = Loader(options: options)
        return try loader.load(details)
    }

    /// Loads a project from already discovered files.
    public mutating func load(_ details: ConfigDetails) throws(LoaderError) -> LoadedProject {
        warnings = details.warnings
        let name = try projectName(details)
        // Compose exposes the final project name to interpolation.
        var env = details.environment
        env["COMPOSE_PROJECT_NAME"] = name
        var dict = try loadModel(
            files: details.files, workingDir: details.workingDirectory, environment: env, included: [])
        if dict.map?.isEmpty ?? true {
            throw LoaderError(.invalid, "empty compose file")
        }
        if options.normalize {
            dict["name"] = .string(name)
            dict = try Normalize.apply(dict, environment: env)
        }
        var project = LoadedProject(
            name: name, workingDirectory: details.workingDirectory,
            files: details.files.map(\.path).filter { $0 != options.commandLineOverride?.path },
            environment: env, model: dict,
            project: ComposeProject(name: name, workingDirectory: details.workingDirectory), warnings: [])
        var declared = Set<String>()
        for (_, service) in project.model["services"]?.map ?? OrderedMap() {
            for p in service["profiles"]?.seq ?? [] { if let name = p.scalarText { declared.insert(name) } }
        }
        project.profiles = declared.sorted()
        let disabled = Profiles.apply(&project, profiles: activeProfiles(env), services: options.services)
        if options.consistency { try Consistency.check(project.model, disabledServices: disabled) }
        try Environment.resolveServices(&project.model, environment: env, workingDir: details.workingDirectory)
        Normalize.dropUnusedResources(&project.model)
        project.rendered = try Render.project(project.model, extensions: options.renderExtensions)
        project.renderedExtensions = options.renderExtensions
        project.project = Binding.project(
            project.rendered, workingDirectory: details.workingDirectory, files: project.files)
        for variable in unsetVariables.uniqued() {
            warnings.append("The \"\(variable)\" variable is not set. Defaulting to a blank string.")
        }
        project.warnings = warnings
        return project
    }

    func activeProfiles(_ env: [String: String]) -> [String] {
        var profiles = options.profiles
        if profiles.isEmpty, let p = env["COMPOSE_PROFILES"], !p.isEmpty {
            profiles = p.split(separator: ",").map { String($0).trimmingSpaces() }
        }
        return profiles
    }

    // MARK: - Project name

    /// `-p`, then `COMPOSE_PROJECT_NAME`, then `name:` of the last file that sets it, then the directory.
    mutating func projectName(_ details: ConfigDetails) throws(LoaderError) -> String {
        var name: String
        var imperative = false
        if let p = options.projectName, !p.isEmpty {
            name = p
            imperative = true
        } else if let p = details.environment["COMPOSE_PROJECT_NAME"], !p.isEmpty {
            name = p
            imperative = true
        } else {
            name = ProjectName.normalize(Path.basename(details.workingDirectory))
        }
        if !imperative {
            var fromFiles = ""
            for file in details.files {
                guard let docs = try? parser.parse(file.content) else { continue }
                parsed[file.path] = docs
                for doc in docs {
                    guard case .mapping(let pairs) = doc.content else { continue }
                    for pair in pairs where pair.key.scalarText == "name" {
                        if let text = pair.value.scalarText { fromFiles = text }
                    }
                }
            }
            if options.interpolate {
                var unset: [String] = []
                let env = details.environment
                if let interpolated = try? Template.substitute(fromFiles, lookup: { env[$0] }, unset: &unset) {
                    fromFiles = interpolated
                }
            }
            let normalized = ProjectName.normalize(fromFiles)
            if !normalized.isEmpty { name = normalized }
        }
        if name.isEmpty { throw LoaderError(.invalid, "project name must not be empty") }
        if ProjectName.normalize(name) != name {
            throw LoaderError(
                .invalid,
                "invalid project name \"\(name)\": must consist only of lowercase alphanumeric characters, "
                    + "hyphens, and underscores as well as start with a letter or number")
        }
        return name
    }

    // MARK: - Files

    /// compose-go's `loadYamlModel`: every file merged in order, then defaults, validation,
    /// relative paths.
    mutating func loadModel(
        files: [ConfigFile], workingDir: String, environment: [String: String], included: [String]
    ) throws(LoaderError) -> Node {
        var dict = Node(.map(OrderedMap()))
        for file in files {
            dict = try loadFile(
                file, into: dict, workingDir: workingDir, environment: environment, included: included,
                forExtends: false)
        }
        dict = Defaults.apply(dict)
        try Validation.check(dict)
        if options.resolvePaths {
            dict = try RelativePaths.resolve(dict, workingDir: workingDir, home: options.environment["HOME"])
        }
        return dict
    }

    /// compose-go's `loadYamlFile` with `processRawYaml` for each document of the file.
    mutating func loadFile(
        _ file: ConfigFile, into base: Node, workingDir: String, environment: [String: String],
        included: [String], forExtends: Bool
    ) throws(LoaderError) -> Node {
        var dict = base
        var docs: [YAMLNode] = parsed[file.path] ?? []
        if parsed[file.path] == nil {
            do {
                docs = try parser.parse(file.content)
            } catch {
                throw LoaderError(
                    .invalid, "failed to parse \(file.path): \(error.message)",
                    origin: error.mark.map { Origin(file: file.path, mark: $0) })
            }
        }
        for doc in docs {
            var cfg = try Node.from(yaml: doc, file: file.path)
            guard cfg.map != nil else {
                if cfg.isNull && docs.count > 0 { continue }
                throw LoaderError(.invalid, "Top-level object must be a mapping", origin: cfg.origin)
            }
            if options.interpolate {
                var interpolation = Interpolation(lookup: { environment[$0] })
                cfg = try interpolation.apply(cfg)
                unsetVariables += interpolation.unset
            }
            var resetPaths: [ModelPath] = []
            // Most files have no merge tags; skip a whole-tree rebuild for them.
            if file.content.utf8.containsSequence("!reset".utf8) || file.content.utf8.containsSequence("!override".utf8) {
                let (stripped, paths) = Merge.extractDirectives(cfg)
                cfg = stripped ?? Node(.map(OrderedMap()))
                resetPaths = paths
            }
            if !forExtends {
                cfg = try Extends.apply(
                    cfg, file: file.path, workingDir: workingDir, loader: &self, environment: environment,
                    tracker: Extends.Tracker(), resetPaths: resetPaths)
            }
            for path in resetPaths { Merge.remove(path.components[...], from: &dict) }
            if !forExtends {
                cfg = try Include.apply(
                    cfg, file: file.path, workingDir: workingDir, environment: environment, included: included,
                    loader: &self)
            }
            dict = Merge.merge(dict, cfg)
            dict = Unicity.enforce(dict)
            if !forExtends {
                try Schema.validate(dict)
                if dict["version"] != nil {
                    warnings.append(
                        "\(file.path): the attribute `version` is obsolete, it will be ignored, "
                            + "please remove it to avoid potential confusion")
                    dict["version"] = nil
                }
            }
            dict = try Canonical.apply(dict)
            dict = Canonical.omitEmptyDNS(dict)
            dict = Unicity.enforce(dict)
        }
        return dict
    }
}

/// Project name rules.
public enum ProjectName {
    /// Lower-cased, only `[a-z0-9_-]` kept, leading `_`/`-` trimmed.
    public static func normalize(_ s: String) -> String {
        let kept = s.lowercased().unicodeScalars.filter {
            ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-"
        }
        return String(String.UnicodeScalarView(kept).drop(while: { $0 == "_" || $0 == "-" }))
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

extension String {
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = scalars.firstIndex(where: { !isSpace($0) }),
            let end = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[start...end])
    }
}

extension String.UTF8View {
    /// Whether the bytes contain `needle` (a plain byte search; String's `contains` works on
    /// characters and is far slower on whole files).
    func containsSequence(_ needle: String.UTF8View) -> Bool {
        let pattern = Array(needle)
        guard let first = pattern.first else { return true }
        return withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.count >= pattern.count else { return false }
            var i = 0
            let last = bytes.count - pattern.count
            while i <= last {
                if bytes[i] == first {
                    var j = 1
                    while j < pattern.count && bytes[i + j] == pattern[j] { j += 1 }
                    if j == pattern.count { return true }
                }
                i += 1
            }
            return false
        } ?? String(self).contains(String(needle))
    }
}
