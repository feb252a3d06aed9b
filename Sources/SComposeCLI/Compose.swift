// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Dispatch
import FoundationEssentials
import SComposeEngine
import SComposeLoader
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Shared by the verbs that act on a project's containers.
enum ProjectContext {
    static func engine() -> Engine {
        var engine = Engine(root: StateRoot.path, shimPath: shimPath) { text in
            Console.error(text.split(separator: "\n", omittingEmptySubsequences: false).map { " " + $0 }.joined(separator: "\n"))
        }
        engine.buildOutput = { Console.error($0) }
        engine.pullImage = { image, platform in
            try Pulling.pull(try ImageReference(parsing: image), platform: platform, lines: false)
        }
        return engine
    }

    /// This executable's path, nil when /proc does not tell.
    static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `scompose-shim` next to this executable, unless SCOMPOSE_SHIM says otherwise.
    static var shimPath: String {
        if let p = Console.environment()["SCOMPOSE_SHIM"], !p.isEmpty { return p }
        return executablePath.map { Path.dirname($0) + "/scompose-shim" } ?? "/usr/local/bin/scompose-shim"
    }

    static func load(_ global: GlobalOptions, services: [String] = []) throws -> LoadedProject {
        var options = global.projectOptions()
        options.services = services
        let project = try Loader.load(options)
        for warning in project.warnings { Console.warn(warning) }
        return project
    }

    /// The project name without loading containers' files: from the compose files.
    static func name(_ global: GlobalOptions) throws -> String {
        try load(global).name
    }

    /// The engine, and the project's containers of `services` (all when empty).
    static func containers(_ global: GlobalOptions, services: [String]) throws -> (Engine, [ContainerStatus]) {
        let name = try self.name(global)
        let engine = self.engine()
        let all = engine.containers(project: name)
        return (engine, services.isEmpty ? all : all.filter { services.contains($0.record.service) })
    }

    /// The work of `up`, `create` and `scale`: with `--dry-run` the plan is printed, one line
    /// per decision prefixed as Compose's dry-run output, and false returned; otherwise it is
    /// carried out.
    static func reconcile(_ project: LoadedProject, _ options: ReconcileOptions, _ global: GlobalOptions, _ engine: Engine) throws -> Bool {
        if global.dryRun {
            let plan = try engine.plan(project, options: options)
            for line in plan.text.split(separator: "\n") { Console.error("DRY-RUN MODE - " + line) }
            return false
        }
        try guardRoot()
        try engine.up(project, options: options, parallel: global.parallelLimit)
        return true
    }

    static func guardRoot() throws {
        if getuid() != 0 { throw CLIError("scompose needs root to create containers (namespaces, mounts, cgroups)") }
    }
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", _superCommandName: "scompose", abstract: "Create and start containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Detached mode: run containers in the background")
    var detach = false

    @Flag(name: .customLong("force-recreate"), help: "Recreate containers even if their configuration and image haven't changed")
    var forceRecreate = false

    @Flag(name: .customLong("no-recreate"), help: "If containers already exist, don't recreate them")
    var noRecreate = false

    @Flag(name: .long, help: "Wait for services to be running|healthy. Implies detached mode.")
    var wait = false

    @Option(name: .long, help: "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
    var scale: [String] = []

    @Flag(name: .customLong("abort-on-container-exit"), help: "Stops all containers if any container was stopped. Incompatible with -d")
    var abortOnContainerExit = false

    @Flag(name: .customLong("abort-on-container-failure"), help: "Stops all containers if any container exited with failure. Incompatible with -d")
    var abortOnContainerFailure = false

    @Option(name: .customLong("exit-code-from"), help: "Return the exit code of the selected service container. Implies --abort-on-container-exit")
    var exitCodeFrom: String?

    @Option(name: .long, help: "Restrict attaching to the specified services")
    var attach: [String] = []

    @Option(name: .customLong("no-attach"), help: "Do not attach (stream logs) to the specified services")
    var noAttach: [String] = []

    @Flag(name: .customLong("no-log-prefix"), help: "Don't print prefix in logs")
    var noLogPrefix = false

    @Flag(name: .customLong("no-color"), help: "Produce monochrome output")
    var noColor = false

    @Flag(name: .long, help: "Show timestamps")
    var timestamps = false

    @Option(name: [.short, .long], help: "Use this timeout in seconds for container shutdown when attached or when containers are already running")
    var timeout: Int?

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    @Option(name: .customLong("wait-timeout"), help: "Maximum duration in seconds to wait for the project to be running|healthy")
    var waitTimeout: Int?

    @Flag(name: .customLong("no-deps"), help: "Don't start linked services")
    var noDeps = false

    @Flag(name: .customLong("always-recreate-deps"), help: "Recreate dependent containers. Incompatible with --no-recreate.")
    var alwaysRecreateDeps = false

    @Flag(name: .customLong("no-start"), help: "Don't start the services after creating them")
    var noStart = false

    @Flag(name: .customLong("quiet-pull"), help: "Pull without printing progress information")
    var quietPull = false

    @Option(name: .long, help: "Pull image before running (\"always\"|\"missing\"|\"never\")")
    var pull: String?

    @Flag(name: .long, help: "Build images before starting containers")
    var build = false

    @Flag(name: .customLong("no-build"), help: "Don't build an image, even if it's policy")
    var noBuild = false

    @Flag(name: [.customShort("w"), .long], help: "Watch source code and rebuild/refresh containers when files are updated.")
    var watch = false

    @Argument(help: "Services to start (with what they depend on)")
    var services: [String] = []

    func run() throws {
        if alwaysRecreateDeps && noRecreate { throw CLIError("--always-recreate-deps and --no-recreate are incompatible") }
        if detach && (abortOnContainerExit || abortOnContainerFailure || exitCodeFrom != nil) {
            throw CLIError("--abort-on-container-exit, --abort-on-container-failure and --exit-code-from are incompatible with --detach")
        }
        if noStart && (wait || abortOnContainerExit || abortOnContainerFailure || exitCodeFrom != nil) {
            throw CLIError("--no-start is incompatible with --wait, --abort-on-container-exit, --abort-on-container-failure and --exit-code-from")
        }
        let project = try ProjectContext.load(global, services: services)
        let engine = ProjectContext.engine()
        var options = try ReconcileOptions(
            targets: services, forceRecreate: forceRecreate, noRecreate: noRecreate, alwaysRecreateDeps: alwaysRecreateDeps,
            scale: scale)
        options.noDeps = noDeps
        options.removeOrphans = removeOrphans
        options.start = !noStart
        if build && noBuild { throw CLIError("--build and --no-build are incompatible") }
        options.build = build ? .always : noBuild ? .never : .missing
        if let pull {
            guard ["always", "missing", "never"].contains(pull) else { throw CLIError("invalid --pull \(pull): always, missing or never") }
            options.pull = pull
        }
        // The rules are checked before anything starts.
        let watcher = watch ? try Watcher(engine: engine, loaded: project, services: services) { Console.error($0) } : nil
        guard try ProjectContext.reconcile(project, options, global, engine) else { return }
        if noStart { return }
        if wait { try engine.waitUntilReady(project: project.name, services: services, timeout: waitTimeout) }
        if let watcher, detach || wait {
            // Nothing to attach to: watching is all there is left to do.
            try watcher.run()
            return
        }
        guard !detach && !wait else { return }
        if let from = exitCodeFrom, project.project.services[from] == nil { throw CLIError("no such service: \(from)") }
        var session = AttachedSession(
            engine: engine, project: project.name, attach: attach, noAttach: noAttach,
            abortOnExit: abortOnContainerExit, abortOnFailure: abortOnContainerFailure, exitCodeFrom: exitCodeFrom,
            prefix: !noLogPrefix, color: !noColor && isatty(1) == 1, timestamps: timestamps, timeout: timeout)
        if let watcher {
            // Beside the logs; the session lasts until Ctrl-C, not until the containers end
            // (a rebuild replaces them).
            session.watching = true
            DispatchQueue.global().async {
                do { try watcher.run() } catch { Console.error("watch: \(error)") }
            }
        }
        let code = session.run(services: services)
        if code != 0 { throw CLIError("", code: code) }
    }
}

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", _superCommandName: "scompose", abstract: "List containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Show all stopped containers")
    var all = false

    @Flag(name: [.short, .long], help: "Only display IDs")
    var quiet = false

    @Flag(name: .long, help: "Display services")
    var services = false

    @Option(name: .long, help: "Format the output: table or json")
    var format: String = "table"

    @Option(name: .long, help: "Filter services by status: paused, restarting, removing, running, dead, created, exited")
    var status: [String] = []

    @Argument var selectedServices: [String] = []

    func run() throws {
        let name = try ProjectContext.name(global)
        let known = ["paused", "restarting", "removing", "running", "dead", "created", "exited"]
        for s in status where !known.contains(s) { throw CLIError("invalid filter 'status=\(s)'") }
        let containers = ProjectContext.engine().containers(project: name).filter {
            (all || !status.isEmpty || $0.state == "running" || $0.state == "paused" || $0.state == "restarting")
                && (status.isEmpty || status.contains($0.state))
                && (selectedServices.isEmpty || selectedServices.contains($0.record.service))
        }
        for c in containers {
            if let file = c.damaged {
                Console.warn("container \(c.record.name): its \(file) cannot be read; shown from what remains (`up` replaces it, `down` removes it)")
            }
        }
        if quiet {
            for c in containers { Console.out(c.record.id + "\n") }
            return
        }
        if services {
            var seen = Set<String>()
            for c in containers where seen.insert(c.record.service).inserted { Console.out(c.record.service + "\n") }
            return
        }
        let now = Int(time(nil))
        func describe(_ c: ContainerStatus) -> (String, String) { (c.state, StatusText.of(c, now: now)) }
        if format != "table" {
            let rows = containers.map { c -> JSONValue in
                let (state, text) = describe(c)
                let created = Clock.parseRFC3339(c.record.created) ?? now
                return JSONValue.object([
                    ("Command", .string(Self.command(c.record.command, truncate: false))),
                    ("CreatedAt", .string(c.record.created)), ("ExitCode", .int(Int64(c.exit?.exitCode ?? c.lastExitCode ?? 0))),
                    ("Health", .string(c.health ?? "")), ("ID", .string(c.record.id)), ("Image", .string(c.record.image)),
                    ("Labels", .string(c.record.labels.keys.sorted().map { "\($0)=\(c.record.labels[$0] ?? "")" }.joined(separator: ","))),
                    ("Name", .string(c.record.name)), ("Names", .string(c.record.name)), ("Project", .string(c.record.project)),
                    ("Publishers", .array(Self.publishers(c).map { url, p in
                        JSONValue.object([
                            ("URL", .string(url)), ("TargetPort", .int(Int64(p.containerPort))),
                            ("PublishedPort", .int(Int64(p.hostPort))), ("Protocol", .string(p.proto)),
                        ])
                    })),
                    ("Ports", .string(Self.ports(c))), ("RunningFor", .string(Human.since(now - created))),
                    ("Service", .string(c.record.service)), ("State", .string(state)), ("Status", .string(text)),
                ])
            }
            if format == "json" {
                for row in rows { Console.out(row.compactText() + "\n") }
            } else {
                Console.out(try GoTemplate.render(format, rows: rows))
            }
            return
        }
        let rows = containers.map { c -> [String] in
            let created = Clock.parseRFC3339(c.record.created) ?? now
            return [
                c.record.name, c.record.image, Self.command(c.record.command, truncate: true), c.record.service,
                Human.since(now - created), describe(c).1, Self.ports(c),
            ]
        }
        Console.out(Table.render(header: ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows: rows))
    }

    /// Each published port with the address it answers on: `0.0.0.0`, and `::` after it when
    /// the container's ports answer on IPv6 too.
    static func publishers(_ c: ContainerStatus) -> [(String, PortBinding)] {
        (c.record.ports ?? []).flatMap { p in
            [(p.hostIP ?? "0.0.0.0", p)] + (c.record.portsOnIPv6 == true && p.hostIP == nil ? [("::", p)] : [])
        }
    }

    /// `127.0.0.1:18081->80/tcp, 0.0.0.0:32768->80/tcp, [::]:32768->80/tcp`.
    static func ports(_ c: ContainerStatus) -> String {
        publishers(c).map { url, p in "\(url.contains(":") ? "[\(url)]" : url):\(p.hostPort)->\(p.containerPort)/\(p.proto)" }
            .joined(separator: ", ")
    }

    /// `"sh -c 'while tr…"` as docker shows commands (truncated to 20 characters).
    static func command(_ args: [String], truncate: Bool) -> String {
        let text = args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        if truncate && text.count > 20 { return "\"" + text.prefix(20) + "…\"" }
        return "\"" + text + "\""
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", _superCommandName: "scompose", abstract: "View output from containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Follow log output")
    var follow = false

    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs for each container")
    var tail: String = "all"

    @Flag(name: [.short, .long], help: "Show timestamps")
    var timestamps = false

    @Option(name: .long, help: "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    var since: String?

    @Option(name: .long, help: "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    var until: String?

    @Flag(name: .customLong("no-log-prefix"), help: "Don't print prefix in logs")
    var noLogPrefix = false

    @Flag(name: .customLong("no-color"), help: "Produce monochrome output")
    var noColor = false

    @Option(name: .long, help: "index of the container if service has multiple replicas")
    var index: Int?

    @Argument var services: [String] = []

    func run() throws {
        let name = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        func selected() -> [ContainerStatus] {
            engine.containers(project: name).filter {
                (services.isEmpty || services.contains($0.record.service)) && (index == nil || $0.record.number == index)
            }
        }
        let now = Clock.nowNanoseconds()
        let sinceTime = try since.map { try LogTime.parse($0, now: now, flag: "since") }
        let untilTime = try until.map { try LogTime.parse($0, now: now, flag: "until") }
        let limit: Int?
        if tail == "all" || tail == "-1" {
            limit = nil
        } else {
            guard let n = Int(tail), n >= 0 else { throw CLIError("invalid value for --tail: \(tail)") }
            limit = n
        }
        let color = !noColor && isatty(1) == 1
        var presenters = LogPresenters(color: color, prefix: !noLogPrefix)
        var readers: [String: JSONLogReader] = [:]
        let out = BufferedOutput()
        func show(_ c: ContainerStatus, _ lines: [[UInt8]]) {
            let prefix = presenters.prefix(for: c)
            for line in lines {
                guard let entry = LogEntry(line) else { continue }
                if sinceTime != nil || untilTime != nil {
                    let t = LogTime.parseRFC3339Nano(entry.time) ?? 0
                    if let sinceTime, t < sinceTime { continue }
                    if let untilTime, t > untilTime { continue }
                }
                var text = entry.log
                if text.hasSuffix("\n") { text.removeLast() }
                out.write(prefix + (timestamps ? entry.time + " " : "") + text + "\n")
            }
            out.flush()
        }
        let initial = selected()
        presenters.register(initial)
        for c in initial {
            var reader = JSONLogReader(path: engine.files(c.record.id).log)
            var lines = reader.readAll()
            if let limit { lines = Array(lines.suffix(limit)) }
            readers[c.record.id] = reader
            show(c, lines)
        }
        guard follow else { return }
        while true {
            usleep(50_000)
            let current = selected()
            presenters.register(current)
            for c in current {
                var reader = readers[c.record.id] ?? JSONLogReader(path: engine.files(c.record.id).log)
                let lines = readers[c.record.id] == nil ? reader.readAll() : reader.readNew()
                readers[c.record.id] = reader
                show(c, lines)
            }
            // As Compose: follow ends once every container has stopped (and is not restarting).
            if current.allSatisfy({ !$0.running && !$0.restarting }) {
                for c in current {
                    if var reader = readers[c.record.id] {
                        show(c, reader.readNew())
                        readers[c.record.id] = reader
                    }
                }
                return
            }
        }
    }
}

/// One record of a json-file log, read with the state files' small decoder (one per line would
/// be costly with Foundation's).
struct LogEntry: Decodable {
    var log: String
    var time: String

    init?(_ line: [UInt8]) {
        guard let e = try? StateJSONDecoder().decode(LogEntry.self, from: line) else { return nil }
        self = e
    }
}

/// Log prefixes as Compose prints them: `name  | `, padded to the longest name plus one,
/// coloured in Compose's rainbow order when the output is a terminal.
struct LogPresenters {
    let color: Bool
    let prefix: Bool
    var names: [String: String] = [:]
    var colors: [String: String] = [:]
    var order: [String] = []
    static let rainbow = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"]

    init(color: Bool, prefix: Bool) {
        self.color = color
        self.prefix = prefix
    }

    /// Compose's name for a container in logs: without the project for default names.
    static func displayName(_ c: ContainerStatus) -> String {
        let defaultName = "\(c.record.project)-\(c.record.service)-\(c.record.number)"
        return c.record.name == defaultName ? String(c.record.name.dropFirst(c.record.project.count + 1)) : c.record.name
    }

    mutating func register(_ containers: [ContainerStatus]) {
        for c in containers where names[c.record.id] == nil {
            names[c.record.id] = Self.displayName(c)
            colors[c.record.id] = Self.rainbow[order.count % Self.rainbow.count]
            order.append(c.record.id)
        }
    }

    /// `text` in the container's colour (as Compose prints status lines).
    func colorize(_ text: String, for c: ContainerStatus) -> String {
        guard color, let code = colors[c.record.id] else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }

    func prefix(for c: ContainerStatus) -> String {
        guard prefix else { return "" }
        let width = (names.values.map(\.count).max() ?? 0) + 1
        let name = names[c.record.id] ?? Self.displayName(c)
        let text = name + String(repeating: " ", count: max(0, width - name.count)) + " | "
        guard color, let code = colors[c.record.id] else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }
}

/// `--since` / `--until` values: RFC 3339 times, Unix seconds, or Go durations before now.
enum LogTime {
    /// Nanoseconds since the epoch.
    static func parse(_ text: String, now: Int64, flag: String) throws -> Int64 {
        if let t = parseRFC3339Nano(text) { return t }
        if let seconds = Double(text) { return Int64(seconds * 1e9) }
        if let d = GoDuration.nanoseconds(text) { return now - d }
        throw CLIError("invalid value for \"--\(flag)\": \(text)")
    }

    static func parseRFC3339Nano(_ text: String) -> Int64? {
        guard text.count >= 19, text.contains("T") || text.contains("-"), let seconds = Clock.parseRFC3339(text) else { return nil }
        var nanos: Int64 = 0
        if let dot = text.firstIndex(of: ".") {
            var digits = text[text.index(after: dot)...].prefix { $0.isNumber }
            digits = digits.prefix(9)
            nanos = (Int64(digits) ?? 0) * Int64(pow10(9 - digits.count))
        }
        // A "+hh:mm" offset, as RFC 3339 allows.
        var offset = 0
        if let sign = text.dropFirst(19).lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let parts = text[text.index(after: sign)...].split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { offset = (parts[0] * 3600 + parts[1] * 60) * (text[sign] == "+" ? 1 : -1) }
        }
        return Int64(seconds - offset) * 1_000_000_000 + nanos
    }

    static func pow10(_ n: Int) -> Int { (0..<max(0, n)).reduce(1) { r, _ in r * 10 } }
}

/// Go's time.ParseDuration, for the units logs accept.
enum GoDuration {
    static func nanoseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.filter({ rest.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return Int64(total)
    }
}

/// Output gathered and written in large pieces: `logs` of many lines stays fast.
final class BufferedOutput {
    var buffer: [UInt8] = []

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count > 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        try? Files.writeAll(1, buffer, what: "stdout")
        buffer.removeAll(keepingCapacity: true)
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", _superCommandName: "scompose", abstract: "Execute a command in a running container")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("T"), .customLong("no-TTY")], help: "Disable pseudo-TTY allocation. By default `exec` allocates a TTY when its input is one")
    var noTTY = false

    @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Keep STDIN open (always on, as in Compose)")
    var interactive = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a pseudo-TTY (the default on a terminal)")
    var tty = false

    @Flag(name: [.short, .long], help: "Detached mode: run the command in the background")
    var detach = false

    @Option(name: [.short, .long], help: "Run the command as this user")
    var user: String?

    @Option(name: [.short, .long], help: "Path to workdir directory for this command")
    var workdir: String?

    @Option(name: [.short, .customLong("env")], help: "Set environment variables")
    var env: [String] = []

    @Option(name: .long, help: "Index of the container if the service has multiple replicas")
    var index: Int = 1

    @Flag(name: .long, help: "Give extended privileges to the process")
    var privileged = false

    @Argument(help: "The service")
    var service: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments")
    var command: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        guard !command.isEmpty else { throw CLIError("exec requires at least 2 arguments") }
        let name = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        func exec(stdio: Launcher.Stdio, terminal: ((Int32) -> Void)?, detach: Bool = false) throws -> Int32 {
            try engine.exec(
                project: name, service: service, index: index, command: command, user: user, workingDir: workdir,
                env: env, privileged: privileged, stdio: stdio, terminal: terminal, detach: detach)
        }
        if detach {
            // The command runs on with /dev/null for its streams, in a session of its own; we
            // return once it runs.
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(null) }
            _ = try exec(stdio: .init(stdin: null, stdout: null, stderr: null), terminal: nil, detach: true)
            return
        }
        let useTTY = !noTTY && isatty(0) == 1 && isatty(1) == 1
        let relay: ((Int32) -> Void)? = useTTY ? { master in Terminal.relay(master) } : nil
        let code = try exec(stdio: .init(), terminal: relay)
        if code != 0 { throw CLIError("", code: code) }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", _superCommandName: "scompose", abstract: "Stop services")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.stopReporting(containers.filter { $0.running || $0.restarting || $0.shimPid != nil }, timeout: timeout)
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", _superCommandName: "scompose", abstract: "Start services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.start(containers) { c, started in
            Console.error(" Container \(c.record.name)  \(started ? "Started" : "Starting")")
        }
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", _superCommandName: "scompose", abstract: "Restart service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        try engine.restart(containers, timeout: timeout) { c, started in
            Console.error(" Container \(c.record.name)  \(started ? "Started" : "Restarting")")
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", _superCommandName: "scompose", abstract: "Force stop service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "SIGNAL to send to the container")
    var signal: String = "SIGKILL"

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let number = try Signals.number(signal)
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.running {
            try engine.signal(c, number)
            Console.error(" Container \(c.record.name)  Killed")
        }
    }
}

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", _superCommandName: "scompose", abstract: "Removes stopped service containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Don't ask to confirm removal")
    var force = false

    @Flag(name: [.short, .long], help: "Stop the containers, if required, before removing")
    var stop = false

    @Flag(name: [.short, .long], help: "Remove any anonymous volumes attached to containers")
    var volumes = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, selected) = try ProjectContext.containers(global, services: services)
        if !stop, selected.contains(where: \.running) {
            // As Compose: running containers are left alone unless --stop.
            for c in selected where c.running { Console.error(" Container \(c.record.name)  Running (use --stop)") }
        }
        let removable = selected.filter { !$0.running || stop }
        if removable.isEmpty {
            Console.error("No stopped containers")
            return
        }
        try engine.stopReporting(removable, timeout: nil)
        for c in removable {
            try engine.remove(c)
            Console.error(" Container \(c.record.name)  Removed")
        }
        if volumes { engine.removeAnonymousVolumes(of: removable) }
    }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", _superCommandName: "scompose", abstract: "Stop and remove containers, networks")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Flag(name: [.short, .long], help: "Remove named volumes declared in the volumes section of the Compose file")
    var volumes = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    func run() throws {
        try ProjectContext.guardRoot()
        let project = try ProjectContext.load(global).project
        let engine = ProjectContext.engine()
        let lock = try engine.lockProject(project.name)
        defer { _ = lock }
        engine.removeStaleStaging()
        let all = engine.containers(project: project.name)
        // Containers of services the file no longer has (in any profile) are orphans: left,
        // with a warning, unless --remove-orphans.
        var everyProfile = global.projectOptions()
        everyProfile.profiles = ["*"]
        let known = Set(((try? Loader.load(everyProfile))?.project.serviceNames ?? []) + project.serviceNames)
        let orphans = all.filter { !known.contains($0.record.service) }
        let containers = removeOrphans ? all : all.filter { known.contains($0.record.service) }
        if !orphans.isEmpty && !removeOrphans {
            Console.warn(
                "Found orphan containers ([\(orphans.map(\.record.name).joined(separator: " "))]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.")
        }
        try engine.stopReporting(containers, timeout: timeout)
        for c in containers {
            Console.error(" Container \(c.record.name)  Removing")
            try engine.remove(c)
            Console.error(" Container \(c.record.name)  Removed")
        }
        try engine.removeProjectNetworks(project)
        if volumes {
            // Named volumes of the project (not external ones), and the containers' anonymous ones.
            engine.removeAnonymousVolumes(of: containers)
            try engine.removeProjectVolumes(project)
        }
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    fileprivate func replacingOccurrences(_ what: String, _ with: String) -> String {
        guard let r = firstRange(of: what) else { return self }
        return String(self[..<r.lowerBound]) + with + String(self[r.upperBound...])
    }
}

extension ReconcileOptions {
    /// The options of `up` and `create`: the targets get `--force-recreate` / `--no-recreate`,
    /// their dependencies `--always-recreate-deps` / `--no-recreate`, as Compose does.
    init(targets: [String], forceRecreate: Bool, noRecreate: Bool, alwaysRecreateDeps: Bool, scale: [String]) throws {
        if forceRecreate && noRecreate { throw CLIError("--force-recreate and --no-recreate are incompatible") }
        self.init()
        self.targets = targets
        recreate = forceRecreate ? .always : noRecreate ? .never : .changed
        recreateDependencies = alwaysRecreateDeps ? .always : noRecreate ? .never : .changed
        for item in scale {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let n = Int(parts[1]), n >= 0 else { throw CLIError("invalid --scale \(item): expected SERVICE=NUM") }
            self.scale[parts[0]] = n
        }
    }
}
