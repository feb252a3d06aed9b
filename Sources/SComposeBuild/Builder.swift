// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Builds images from Dockerfiles into the image store, with a layer cache: each step that
/// changes files is keyed on its parent's key, the instruction (after substitution), the
/// build arguments it sees and a checksum of the files it reads, so an unchanged rebuild
/// reuses every layer and a change rebuilds from the first step that sees it.
public struct Builder: Sendable {
    public let store: ImageStore
    /// Where build scratch space and the cache live (`$SCOMPOSE_ROOT`).
    public let stateRoot: String
    /// Finds a base image, pulling it when missing or when `pull` is set.
    public var resolveImage: @Sendable (_ name: String, _ pull: Bool) throws -> ImageRecord
    /// Progress lines (`#3 [web 2/4] RUN …`).
    public var output: @Sendable (String) -> Void

    public init(
        store: ImageStore, stateRoot: String, resolveImage: @escaping @Sendable (String, Bool) throws -> ImageRecord,
        output: @escaping @Sendable (String) -> Void
    ) {
        self.store = store
        self.stateRoot = stateRoot
        self.resolveImage = resolveImage
        self.output = output
    }

    var cacheDir: String { stateRoot + "/buildcache" }
    var scratchRoot: String { stateRoot + "/tmp" }

    /// Builds the request's target stage and names the image with its tags.
    public func build(_ request: BuildRequest) throws -> ImageRecord {
        let text: String
        let file: String
        if let inline = request.dockerfileInline {
            text = inline
            file = "Dockerfile"
        } else {
            let name = request.dockerfile ?? "Dockerfile"
            let path = name.hasPrefix("/") ? name : request.context + "/" + name
            do {
                text = String(decoding: try Files.read(path), as: UTF8.self)
            } catch {
                throw BuildError("failed to read dockerfile: open \(name): no such file or directory")
            }
            file = name
        }
        var st = stat()
        guard stat(request.context, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BuildError("unable to prepare context: path \"\(request.context)\" not found")
        }
        let dockerfile = try Dockerfile.parse(text, file: file)
        try Files.makeDirectories(cacheDir)
        try Files.makeDirectories(scratchRoot)
        let run = BuildRun(builder: self, request: request, dockerfile: dockerfile)
        return try run.execute()
    }
}

/// One stage's image as the build goes: its config, layers and cache key.
struct StageState {
    var config: ImageConfig
    var layers: [Descriptor]
    var key: Digest
    /// Build arguments in scope (declared by ARG in this stage).
    var args: [String: String] = [:]
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    var cmdSetHere = false

    var defaults: ImageConfig.ContainerDefaults {
        get { config.config ?? .init() }
        set { config.config = newValue }
    }

    var env: [String] { defaults.Env ?? [] }

    func envValue(_ name: String) -> String? {
        for entry in env.reversed() where entry.hasPrefix(name + "=") { return String(entry.dropFirst(name.count + 1)) }
        return nil
    }

    mutating func setEnv(_ name: String, _ value: String) {
        var list = env.filter { !$0.hasPrefix(name + "=") && $0 != name }
        list.append(name + "=" + value)
        defaults.Env = list
    }

    /// The time of the newest history entry: metadata steps take it, so that an unchanged
    /// rebuild gives the same config and so the same image ID.
    var lastCreated: String { config.history?.last?.created ?? config.created ?? "1970-01-01T00:00:00Z" }

    mutating func addHistory(_ createdBy: String, created: String? = nil, empty: Bool) {
        let entry = ImageConfig.History(
            created: created ?? lastCreated, createdBy: createdBy, comment: "buildkit.dockerfile.v0", emptyLayer: empty ? true : nil)
        config.history = (config.history ?? []) + [entry]
    }
}

/// The Docker "predefined" arguments: usable without an ARG line and kept out of history.
let predefinedArgs: Set<String> = [
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
    "all_proxy",
]

final class BuildRun {
    let builder: Builder
    let request: BuildRequest
    let dockerfile: Dockerfile
    var stepNumber = 0
    var stages: [Stage] = []
    var results: [Int: StageState] = [:]
    var globalArgs: [String: String] = [:]
    /// The stage being built (COPY --from may name only earlier ones).
    var currentStage = 0
    lazy var context: SourceTree? = openContext()

    struct Stage {
        var index: Int
        var name: String?
        var base: String
        var platform: String?
        var instructions: [Instruction]
        var from: Instruction
    }

    init(builder: Builder, request: BuildRequest, dockerfile: Dockerfile) {
        self.builder = builder
        self.request = request
        self.dockerfile = dockerfile
    }

    var store: ImageStore { builder.store }

    func say(_ line: String) { builder.output(line) }

    func expander(_ lookup: @escaping (String) -> String?) -> WordExpander {
        WordExpander(escape: dockerfile.escape, lookup: lookup)
    }

    func fail(_ instruction: Instruction, _ message: String) -> BuildError {
        BuildError("\(request.dockerfile ?? "Dockerfile"):\(instruction.line): \(message)")
    }

    // MARK: - Stages

    func execute() throws -> ImageRecord {
        try splitStages()
        let targetIndex: Int
        if let target = request.target {
            guard let i = stages.firstIndex(where: { $0.name?.lowercased() == target.lowercased() }) else {
                throw BuildError("failed to solve: target stage \"\(target)\" could not be found")
            }
            targetIndex = i
        } else {
            targetIndex = stages.count - 1
        }
        let needed = try neededStages(targetIndex)
        for index in needed.sorted() {
            results[index] = try buildStage(stages[index], multiStage: stages.count > 1)
        }
        guard var final = results[targetIndex] else { throw BuildError("failed to solve: no stage was built") }
        if !request.labels.isEmpty {
            var labels = final.defaults.Labels ?? [:]
            for (k, v) in request.labels { labels[k] = v }
            final.defaults.Labels = labels
        }
        return try export(final)
    }

    /// Splits the instructions into stages; the ARGs before the first FROM are global.
    func splitStages() throws {
        var current: Stage?
        for instruction in dockerfile.instructions {
            if instruction.keyword == "FROM" {
                if let current { stages.append(current) }
                let words = try expander { self.globalArgs[$0] }.expandWords(shellText(instruction))
                guard let image = words.first else { throw fail(instruction, "FROM requires at least one argument") }
                var name: String?
                if words.count == 3 && words[1].lowercased() == "as" {
                    name = words[2].lowercased()
                } else if words.count != 1 {
                    throw fail(instruction, "FROM requires either one or three arguments")
                }
                let platform = try instruction.flags["platform"].map { try expander { self.globalArgs[$0] }.expand($0) }
                current = Stage(
                    index: stages.count, name: name, base: image, platform: platform, instructions: [], from: instruction)
            } else if current != nil {
                current?.instructions.append(instruction)
            } else if instruction.keyword == "ARG" {
                for (name, value) in try argDeclarations(instruction) {
                    let expanded = try value.map { try expander { self.globalArgs[$0] }.expand($0) }
                    if let given = request.args[name] {
                        globalArgs[name] = given
                    } else if let expanded {
                        globalArgs[name] = expanded
                    }
                }
            } else {
                throw fail(instruction, "no build stage in current context: \(instruction.keyword) must follow a FROM")
            }
        }
        if let current { stages.append(current) }
        guard !stages.isEmpty else { throw BuildError("failed to solve: the Dockerfile has no FROM: no build stage in current context") }
    }

    func stageIndex(_ reference: String, before: Int) -> Int? {
        if let n = Int(reference), n >= 0, n < before { return n }
        return stages[..<before].lastIndex { $0.name == reference.lowercased() }
    }

    /// The target and the stages it reads (FROM a stage, COPY --from, RUN --mount=from=),
    /// transitively.
    func neededStages(_ target: Int) throws -> Set<Int> {
        var needed: Set<Int> = []
        var queue = [target]
        while let i = queue.popLast() {
            guard needed.insert(i).inserted else { continue }
            let stage = stages[i]
            if let base = stageIndex(stage.base, before: i), Int(stage.base) == nil { queue.append(base) }
            for instruction in stage.instructions {
                var froms: [String] = []
                if instruction.keyword == "COPY" || instruction.keyword == "ADD", let from = instruction.flags["from"] {
                    froms.append(from)
                }
                if instruction.keyword == "RUN", let mounts = instruction.flags["mount"] {
                    // `RUN --mount=…,from=stage`.
                    for field in mounts.split(whereSeparator: { $0 == "\n" || $0 == "," }) where field.lowercased().hasPrefix("from=") {
                        froms.append(String(field.dropFirst(5)))
                    }
                }
                for from in froms {
                    let expanded = try expander { self.globalArgs[$0] }.expand(from)
                    if let dep = stageIndex(expanded, before: i) { queue.append(dep) }
                }
            }
        }
        return needed
    }

    func stageLabel(_ stage: Stage, multiStage: Bool) -> String {
        var parts: [String] = []
        if let name = request.name { parts.append(name) }
        if multiStage { parts.append(stage.name ?? "stage-\(stage.index)") }
        return parts.joined(separator: " ")
    }

    static let shownKeywords: Set<String> = ["RUN", "COPY", "ADD", "WORKDIR"]
    /// Part of every cache key: a builder that makes steps differently starts a new cache.
    static let cacheVersion = "scompose-build-2"

    func buildStage(_ stage: Stage, multiStage: Bool) throws -> StageState {
        currentStage = stage.index
        let label = stageLabel(stage, multiStage: multiStage)
        let total = 1 + stage.instructions.filter { Self.shownKeywords.contains($0.keyword) }.count
        var shown = 1
        func prefix() -> String { "[" + (label.isEmpty ? "" : label + " ") + "\(shown)/\(total)]" }
        var state = try baseState(stage, title: "\(prefix()) FROM \(stage.base)")
        // As BuildKit: a stage whose base has no PATH gets the default one.
        if state.envValue("PATH") == nil { state.setEnv("PATH", String(defaultPath.dropFirst(5))) }
        // The base image's ONBUILD triggers run first, then are dropped.
        if let triggers = state.defaults.OnBuild, !triggers.isEmpty {
            state.defaults.OnBuild = nil
            for trigger in triggers {
                let parsed = try Dockerfile.parse("FROM scratch\n" + trigger, file: "ONBUILD")
                for instruction in parsed.instructions.dropFirst() {
                    try apply(instruction, to: &state, title: "[\(label.isEmpty ? "" : label + " ")ONBUILD] \(instruction.original)")
                }
            }
        }
        for instruction in stage.instructions {
            var title = ""
            if Self.shownKeywords.contains(instruction.keyword) {
                shown += 1
                title = "\(prefix()) \(instruction.original)"
            }
            try apply(instruction, to: &state, title: title)
        }
        return state
    }

    func baseState(_ stage: Stage, title: String) throws -> StageState {
        if stage.base.lowercased() == "scratch" {
            var config = ImageConfig(architecture: Platform.host.architecture, os: "linux", rootfs: .init(diffIDs: []))
            config.config = .init()
            return StageState(config: config, layers: [], key: Digest(of: Array("scratch \(Self.cacheVersion)".utf8)))
        }
        if let index = stageIndex(stage.base, before: stage.index), Int(stage.base) == nil, var state = results[index] {
            state.args = [:]
            state.cmdSetHere = false
            return state
        }
        let number = nextStep()
        say("#\(number) \(title)")
        let started = Clock.nowNanoseconds()
        let record: ImageRecord
        do {
            record = try builder.resolveImage(stage.base, request.pull)
        } catch {
            throw BuildError("failed to solve: \(stage.base): \(error)")
        }
        let manifest = try store.manifest(record)
        let config = try store.config(record)
        say("#\(number) DONE \(elapsed(since: started))")
        return StageState(
            config: config, layers: manifest.layers, key: Digest(of: Array("image \(record.manifest) \(Self.cacheVersion)".utf8)))
    }

    func nextStep() -> Int {
        stepNumber += 1
        return stepNumber
    }

    func elapsed(since start: Int64) -> String {
        let tenths = (Clock.nowNanoseconds() - start) / 100_000_000
        return "\(tenths / 10).\(tenths % 10)s"
    }

    // MARK: - Instructions

    /// What substitution sees: the stage's ENV over its ARGs.
    func lookup(_ state: StageState) -> (String) -> String? {
        { name in state.envValue(name) ?? state.args[name] }
    }

    func shellText(_ instruction: Instruction) -> String {
        switch instruction.arguments {
        case .shell(let text): return text
        case .exec(let words): return words.joined(separator: " ")
        }
    }

    /// `ARG a=1 b` → [(a, "1"), (b, nil)].
    func argDeclarations(_ instruction: Instruction) throws -> [(String, String?)] {
        let words = try Dockerfile.splitWords(shellText(instruction), escape: dockerfile.escape)
        guard !words.isEmpty else { throw fail(instruction, "ARG requires at least one argument") }
        return words.map { word in
            if let eq = word.firstIndex(of: "=") {
                return (String(word[..<eq]), String(word[word.index(after: eq)...]))
            }
            return (word, nil)
        }
    }

    func apply(_ instruction: Instruction, to state: inout StageState, title: String) throws {
        do {
            try applyInstruction(instruction, to: &state, title: title)
        } catch let error as DockerfileError {
            // Substitution and word errors know no line: the instruction's is theirs.
            throw error.line == 0 ? fail(instruction, error.message) : BuildError(error.description)
        }
    }

    func applyInstruction(_ instruction: Instruction, to state: inout StageState, title: String) throws {
        let expand = expander(lookup(state))
        switch instruction.keyword {
        case "ARG":
            for (name, value) in try argDeclarations(instruction) {
                if let given = request.args[name] {
                    state.args[name] = given
                } else if let value {
                    state.args[name] = try expand.expand(value)
                } else if let global = globalArgs[name] {
                    state.args[name] = global
                }
            }
            state.key = chain(state.key, "ARG " + state.args.keys.sorted().map { "\($0)=\(state.args[$0] ?? "")" }.joined(separator: " "))
        case "ENV":
            let pairs = try Dockerfile.keyValuePairs(shellText(instruction), escape: dockerfile.escape, legacyAllowed: true)
            guard !pairs.isEmpty else { throw fail(instruction, "ENV requires at least one argument") }
            var shown: [String] = []
            for pair in pairs {
                let value = try expander(lookup(state)).expand(pair.value)
                state.setEnv(pair.key, value)
                shown.append("\(pair.key)=\(value)")
            }
            metadata(&state, "ENV " + shown.joined(separator: " "))
        case "LABEL":
            // BuildKit reads LABEL as ENV: `LABEL key value` is one pair too.
            let pairs = try Dockerfile.keyValuePairs(shellText(instruction), escape: dockerfile.escape, legacyAllowed: true)
            var labels = state.defaults.Labels ?? [:]
            var shown: [String] = []
            for pair in pairs {
                let key = try expand.expand(pair.key)
                let value = try expand.expand(pair.value)
                labels[key] = value
                shown.append("\(key)=\(value)")
            }
            state.defaults.Labels = labels
            metadata(&state, "LABEL " + shown.joined(separator: " "))
        case "MAINTAINER":
            state.config.author = shellText(instruction)
            metadata(&state, "MAINTAINER " + shellText(instruction))
        case "EXPOSE":
            var ports = state.defaults.ExposedPorts ?? [:]
            var shown: [String] = []
            for word in try expand.expandWords(shellText(instruction)) {
                let port = word.contains("/") ? word.lowercased() : word + "/tcp"
                ports[port] = ImageConfig.Empty()
                shown.append(port)
            }
            state.defaults.ExposedPorts = ports
            metadata(&state, "EXPOSE map[" + shown.map { $0 + ":{}" }.joined(separator: " ") + "]")
        case "VOLUME":
            var volumes = state.defaults.Volumes ?? [:]
            let paths: [String]
            switch instruction.arguments {
            case .exec(let words): paths = try words.map { try expand.expand($0) }
            case .shell(let text): paths = try expand.expandWords(text)
            }
            guard !paths.isEmpty else { throw fail(instruction, "VOLUME requires at least one argument") }
            for path in paths { volumes[path] = ImageConfig.Empty() }
            state.defaults.Volumes = volumes
            metadata(&state, "VOLUME [" + paths.joined(separator: " ") + "]")
        case "USER":
            let user = try expand.expand(String(shellText(instruction).trimmingWhitespace()))
            guard !user.isEmpty else { throw fail(instruction, "USER requires exactly one argument") }
            state.defaults.User = user
            metadata(&state, "USER " + user)
        case "STOPSIGNAL":
            let signal = try expand.expand(String(shellText(instruction).trimmingWhitespace()))
            state.defaults.StopSignal = signal
            metadata(&state, "STOPSIGNAL " + signal)
        case "SHELL":
            guard case .exec(let words) = instruction.arguments, !words.isEmpty else {
                throw fail(instruction, "SHELL requires the arguments to be in JSON form")
            }
            state.defaults.Shell = words
            metadata(&state, "SHELL " + Self.jsonList(words))
        case "CMD":
            let command = commandLine(instruction, state)
            state.defaults.Cmd = command
            state.cmdSetHere = true
            metadata(&state, "CMD " + Self.jsonList(command))
        case "ENTRYPOINT":
            let command = commandLine(instruction, state)
            state.defaults.Entrypoint = command
            // An inherited CMD would be passed to the new entrypoint: Docker drops it.
            if !state.cmdSetHere { state.defaults.Cmd = nil }
            metadata(&state, "ENTRYPOINT " + Self.jsonList(command))
        case "HEALTHCHECK":
            state.defaults.Healthcheck = try healthcheck(instruction, state)
            metadata(&state, "HEALTHCHECK " + shellText(instruction))
        case "ONBUILD":
            let trigger = String(shellText(instruction).trimmingWhitespace())
            let keyword = trigger.split(separator: " ").first.map { $0.uppercased() } ?? ""
            guard !["ONBUILD", "FROM", "MAINTAINER"].contains(keyword) else {
                throw fail(instruction, "\(keyword) isn't allowed as an ONBUILD trigger")
            }
            state.defaults.OnBuild = (state.defaults.OnBuild ?? []) + [trigger]
            metadata(&state, "ONBUILD " + trigger)
        case "WORKDIR":
            var path = try expand.expand(String(shellText(instruction).trimmingWhitespace()))
            guard !path.isEmpty else { throw fail(instruction, "WORKDIR requires exactly one argument") }
            path = Self.join(state.defaults.WorkingDir ?? "/", path)
            state.defaults.WorkingDir = path
            try layerStep(&state, title: title, keyText: "WORKDIR " + path, history: "WORKDIR " + path) { space, _, _ in
                try withRoot(space) { root in _ = close(try Copier(destRoot: root, owners: .fixed(uid: 0, gid: 0), mode: nil).makeDirectories(path)) }
            }
        case "RUN":
            try runStep(instruction, &state, title: title)
        case "COPY", "ADD":
            try copyStep(instruction, &state, title: title)
        case "FROM":
            throw fail(instruction, "FROM inside a stage")
        default:
            throw fail(instruction, "unknown instruction: \(instruction.keyword)")
        }
    }

    func chain(_ key: Digest, _ text: String) -> Digest {
        Digest(of: Array((key.description + "\n" + text).utf8))
    }

    func metadata(_ state: inout StageState, _ createdBy: String) {
        state.key = chain(state.key, createdBy)
        state.addHistory(createdBy, empty: true)
    }

    static func jsonList(_ words: [String]) -> String {
        "[" + words.map { JSONText.quote($0) }.joined(separator: " ") + "]"
    }

    /// `path` (absolute, or relative to `base`) as a clean absolute path.
    static func join(_ base: String, _ path: String) -> String {
        "/" + DockerIgnore.clean(path.hasPrefix("/") ? path : base + "/" + path).joined(separator: "/")
    }

    func shell(_ state: StageState) -> [String] { state.defaults.Shell ?? ["/bin/sh", "-c"] }

    /// CMD and ENTRYPOINT: the JSON form as it is, the shell form through the stage's SHELL.
    func commandLine(_ instruction: Instruction, _ state: StageState) -> [String] {
        switch instruction.arguments {
        case .exec(let words): return words
        case .shell(let text): return shell(state) + [text]
        }
    }

    func healthcheck(_ instruction: Instruction, _ state: StageState) throws -> ImageConfig.HealthConfig {
        var health = ImageConfig.HealthConfig()
        let text = String(shellText(instruction).trimmingWhitespace())
        if text.uppercased() == "NONE" {
            health.Test = ["NONE"]
            return health
        }
        guard text.uppercased().hasPrefix("CMD") else { throw fail(instruction, "HEALTHCHECK requires CMD or NONE") }
        let rest = String(text.dropFirst(3).trimmingWhitespace())
        if let words = Dockerfile.jsonArray(rest) {
            health.Test = ["CMD"] + words
        } else {
            health.Test = ["CMD-SHELL", rest]
        }
        func duration(_ flag: String) throws -> Int64? {
            guard let value = instruction.flags[flag] else { return nil }
            guard let nanos = Self.parseDuration(value) else { throw fail(instruction, "invalid --\(flag) \(value)") }
            return nanos
        }
        health.Interval = try duration("interval")
        health.Timeout = try duration("timeout")
        health.StartPeriod = try duration("start-period")
        health.StartInterval = try duration("start-interval")
        if let retries = instruction.flags["retries"] {
            guard let n = Int(retries), n >= 0 else { throw fail(instruction, "invalid --retries \(retries)") }
            health.Retries = n
        }
        return health
    }

    /// Go durations: `30s`, `1m30s`, `500ms`, `1h`.
    static func parseDuration(_ text: String) -> Int64? {
        var total: Double = 0
        var number = ""
        var unit = ""
        func flush() -> Bool {
            guard let value = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            return true
        }
        for c in text {
            if c.isNumber || c == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(c)
            } else {
                unit.append(c)
            }
        }
        guard !number.isEmpty, flush() else { return text == "0" ? 0 : nil }
        return Int64(total)
    }

    // MARK: - Layer steps

    /// Scratch space of a step: the overlay's upper and work directories, and the stage's
    /// layers below them (lowest first).
    struct StepSpace {
        var base: String
        var upper: String { base + "/upper" }
        var work: String { base + "/work" }
        var layers: [String]
    }

    /// Runs `body` for a step that changes files, unless the cache has the step's result;
    /// what `body` leaves in the upper directory becomes the stage's next layer.
    func layerStep(
        _ state: inout StageState, title: String, keyText: String, history: String,
        body: (_ space: StepSpace, _ number: Int, _ started: Int64) throws -> Void
    ) throws {
        let key = chain(state.key, keyText)
        let number = nextStep()
        if !title.isEmpty { say("#\(number) \(title)") }
        if !request.noCache, let cached = loadCache(key) {
            state.config = cached.config
            state.layers = cached.layers
            state.key = key
            say("#\(number) CACHED")
            return
        }
        let started = Clock.nowNanoseconds()
        let space = StepSpace(base: try scratch(), layers: try snapshots(state))
        defer { Files.removeTree(space.base) }
        try Files.makeDirectories(space.upper)
        try Files.makeDirectories(space.work)
        try body(space, number, started)
        try commitLayer(&state, upper: space.upper, history: history)
        state.key = key
        try saveCache(key, state)
        if !title.isEmpty { say("#\(number) DONE \(elapsed(since: started))") }
    }

    /// `body` on the step's root file system: the layers with the upper directory on top,
    /// assembled on a mount that only our descriptor keeps (nothing stays mounted if we die).
    func withRoot<T>(_ space: StepSpace, _ body: (Int32) throws -> T) throws -> T {
        let root: Int32
        do {
            root = try Overlay(layers: space.layers, upper: space.upper, work: space.work).openDetached(under: space.base, flags: O_RDONLY)
        } catch {
            throw BuildError(
                error.message(assemble: "cannot assemble the stage's file system", open: "cannot open the stage's file system"))
        }
        defer { close(root) }
        return try body(root)
    }

    /// The upper directory's content becomes the stage's next layer (none if it is empty).
    func commitLayer(_ state: inout StageState, upper: String, history: String) throws {
        let created = Clock.rfc3339Now()
        guard !Files.list(upper).isEmpty else {
            state.addHistory(history, created: created, empty: true)
            return
        }
        let layer = try LayerWriter().write(directory: upper, into: store.content)
        let diffIDs = state.config.rootfs.diff_ids + [layer.digest]
        guard let chainID = Digest.chainIDs(diffIDs).last else { return }
        _ = try store.adoptSnapshot(directory: upper, chainID: chainID, size: layer.size)
        state.config.rootfs.diff_ids = diffIDs
        state.layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size))
        state.addHistory(history, created: created, empty: false)
    }

    func snapshots(_ state: StageState) throws -> [String] {
        let chain = Digest.chainIDs(state.config.rootfs.diff_ids)
        guard chain.count == state.layers.count else { throw BuildError("the base image's layers do not match its config") }
        return try zip(state.layers, chain).map { try store.ensureSnapshot(layer: $0.digest, chainID: $1).path }
    }

    func scratch() throws -> String {
        let path = builder.scratchRoot + "/build-" + Digest.random().hex.prefix(16)
        try Files.makeDirectories(path)
        return path
    }

    // MARK: - Cache

    struct CacheEntry: Codable {
        var config: Digest
        var layers: [Descriptor]
    }

    func loadCache(_ key: Digest) -> (config: ImageConfig, layers: [Descriptor])? {
        guard let text = try? Files.read(builder.cacheDir + "/" + key.hex),
            let entry = try? StateJSONDecoder().decode(CacheEntry.self, from: text),
            store.content.has(entry.config), entry.layers.allSatisfy({ store.content.has($0.digest) }),
            let bytes = try? store.content.read(entry.config),
            let config = try? StateJSONDecoder().decode(ImageConfig.self, from: bytes)
        else { return nil }
        return (config, entry.layers)
    }

    func saveCache(_ key: Digest, _ state: StageState) throws {
        let config = try store.content.ingest(try ImageStore.encode(state.config))
        try Files.writeAtomically(builder.cacheDir + "/" + key.hex, try ImageStore.encode(CacheEntry(config: config, layers: state.layers)))
    }

    // MARK: - Export

    func export(_ final: StageState) throws -> ImageRecord {
        var state = final
        let number = nextStep()
        let started = Clock.nowNanoseconds()
        say("#\(number) exporting to image")
        state.config.created = state.lastCreated
        let configBytes = try ImageStore.encode(state.config)
        let configDigest = try store.content.ingest(configBytes)
        let manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: state.layers)
        let manifestDigest = try store.content.ingest(try ImageStore.encode(manifest))
        let size = state.layers.reduce(Int64(0)) { $0 + $1.size }
        let created = state.config.created ?? Clock.rfc3339Now()
        say("#\(number) writing image \(configDigest) done")
        var record = try store.add(manifest: manifestDigest, config: configDigest, created: created, size: size, reference: nil)
        for tag in request.tags {
            let reference: ImageReference
            do {
                reference = try ImageReference(parsing: tag)
            } catch {
                throw BuildError("invalid tag \"\(tag)\": \(error)")
            }
            record = try store.add(manifest: manifestDigest, config: configDigest, created: created, size: size, reference: reference)
            say("#\(number) naming to \(reference.description) done")
        }
        say("#\(number) DONE \(elapsed(since: started))")
        return record
    }

    // MARK: - Context

    func openContext() -> SourceTree? {
        let fd = open(request.context, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let ignoreText = (try? Files.read(request.context + "/.dockerignore")).map { String(decoding: $0, as: UTF8.self) }
        return SourceTree(rootFD: fd, ignore: ignoreText.map { DockerIgnore($0) }, label: "build context")
    }
}
