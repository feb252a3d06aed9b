// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import FoundationEssentials
import SComposeEngine
import SComposeLoader
import SComposeOCI
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Shared by the verbs that act on a project's containers.
enum ProjectContext {
    static func engine() -> Engine {
        Engine(root: StateRoot.path, shimPath: shimPath) { line in Console.error(" " + line) }
    }

    /// `scompose-shim` next to this executable, unless SCOMPOSE_SHIM says otherwise.
    static var shimPath: String {
        if let p = Console.environment()["SCOMPOSE_SHIM"], !p.isEmpty { return p }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "/usr/local/bin/scompose-shim" }
        let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Path.dirname(exe) + "/scompose-shim"
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

    static func guardRoot() throws {
        if getuid() != 0 { throw CLIError("scompose needs root to create containers (namespaces, mounts, cgroups)") }
    }
}

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create and start containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Detached mode: run containers in the background")
    var detach = false

    @Argument(help: "Services to start (with what they depend on)")
    var services: [String] = []

    func run() throws {
        guard detach else {
            throw CLIError("attached `up` is not available yet: use `up -d`, then `logs -f`")
        }
        try ProjectContext.guardRoot()
        let project = try ProjectContext.load(global, services: services)
        try ProjectContext.engine().up(project, services: services)
    }
}

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Show all stopped containers")
    var all = false

    @Flag(name: [.short, .long], help: "Only display IDs")
    var quiet = false

    @Flag(name: .long, help: "Display services")
    var services = false

    @Option(name: .long, help: "Format the output: table or json")
    var format: String = "table"

    func run() throws {
        let name = try ProjectContext.name(global)
        let containers = ProjectContext.engine().containers(project: name).filter { all || $0.running }
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
        func status(_ c: ContainerStatus) -> (String, String) {
            if c.running {
                let started = c.startedAt.flatMap(Clock.parseRFC3339) ?? now
                return ("running", "Up " + Human.since(now - started).replacingOccurrences(" ago", ""))
            }
            if let exit = c.exit {
                let finished = Clock.parseRFC3339(exit.finishedAt) ?? now
                return ("exited", "Exited (\(exit.exitCode)) \(Human.since(now - finished))")
            }
            return ("exited", "Exited (137)")
        }
        if format == "json" {
            for c in containers {
                let (state, text) = status(c)
                let created = Clock.parseRFC3339(c.record.created) ?? now
                let row: [(String, JSONValue)] = [
                    ("Command", .string(Self.command(c.record.command, truncate: false))),
                    ("CreatedAt", .string(c.record.created)), ("ExitCode", .int(Int64(c.exit?.exitCode ?? 0))),
                    ("Health", .string("")), ("ID", .string(c.record.id)), ("Image", .string(c.record.image)),
                    ("Labels", .string(c.record.labels.keys.sorted().map { "\($0)=\(c.record.labels[$0] ?? "")" }.joined(separator: ","))),
                    ("Name", .string(c.record.name)), ("Names", .string(c.record.name)), ("Project", .string(c.record.project)),
                    ("Publishers", .array([])), ("RunningFor", .string(Human.since(now - created))),
                    ("Service", .string(c.record.service)), ("State", .string(state)), ("Status", .string(text)),
                ]
                Console.out(JSONValue.object(row).compactText() + "\n")
            }
            return
        }
        guard format == "table" else { throw CLIError("unsupported format \"\(format)\"") }
        let rows = containers.map { c -> [String] in
            let created = Clock.parseRFC3339(c.record.created) ?? now
            return [
                c.record.name, c.record.image, Self.command(c.record.command, truncate: true), c.record.service,
                Human.since(now - created), status(c).1, "",
            ]
        }
        Console.out(Table.render(header: ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows: rows))
    }

    /// `"sh -c 'while tr…"` as docker shows commands.
    static func command(_ args: [String], truncate: Bool) -> String {
        let text = args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        if truncate && text.count > 20 { return "\"" + text.prefix(20) + "…\"" }
        return "\"" + text + "\""
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "View output from containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Follow log output")
    var follow = false

    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs for each container")
    var tail: String = "all"

    @Flag(name: [.short, .long], help: "Show timestamps")
    var timestamps = false

    @Flag(name: .customLong("no-log-prefix"), help: "Don't print prefix in logs")
    var noLogPrefix = false

    @Flag(name: .customLong("no-color"), help: "Produce monochrome output")
    var noColor = false

    @Argument var services: [String] = []

    struct Entry: Decodable {
        var log: String
        var stream: String
        var time: String
    }

    func run() throws {
        let name = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        let containers = engine.containers(project: name).filter { services.isEmpty || services.contains($0.record.service) }
        let width = containers.map(\.record.name.count).max() ?? 0
        var offsets: [String: Int] = [:]
        func printNew(_ c: ContainerStatus, limit: Int?) {
            let path = StateRoot.path + "/containers/\(c.record.id)/container.log"
            guard let bytes = try? FileSystem.readBytes(path) else { return }
            let start = offsets[c.record.id] ?? 0
            guard bytes.count > start else { return }
            var end = bytes.count
            while end > start && bytes[end - 1] != UInt8(ascii: "\n") { end -= 1 }
            offsets[c.record.id] = end
            var lines = bytes[start..<end].split(separator: UInt8(ascii: "\n"))
            if let limit { lines = lines.suffix(limit) }
            let prefix = noLogPrefix ? "" : c.record.name.padding(width) + "  | "
            var out = ""
            for line in lines {
                guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)) else { continue }
                var text = entry.log
                if text.hasSuffix("\n") { text.removeLast() }
                out += prefix + (timestamps ? entry.time + " " : "") + text + "\n"
            }
            Console.out(out)
        }
        let limit = tail == "all" ? nil : Int(tail)
        for c in containers { printNew(c, limit: limit) }
        guard follow else { return }
        while true {
            usleep(100_000)
            let current = engine.containers(project: name).filter { services.isEmpty || services.contains($0.record.service) }
            for c in current { printNew(c, limit: nil) }
            if current.allSatisfy({ !$0.running }) {
                for c in current { printNew(c, limit: nil) }
                return
            }
        }
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Execute a command in a running container")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("T"), .customLong("no-TTY")], help: "Disable pseudo-TTY allocation (no TTY yet either way)")
    var noTTY = false

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
        if detach { throw CLIError("exec -d is not available yet") }
        let name = try ProjectContext.name(global)
        let code = try ProjectContext.engine().exec(
            project: name, service: service, index: index, command: command, user: user, workingDir: workdir,
            env: env)
        if code != 0 { throw CLIError("", code: code) }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop services")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int = 10

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers.reversed() where c.running {
            Console.error(" Container \(c.record.name)  Stopping")
            try engine.stop(c, timeout: timeout)
            Console.error(" Container \(c.record.name)  Stopped")
        }
    }
}

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where !c.running {
            Console.error(" Container \(c.record.name)  Starting")
            try engine.start(c)
            Console.error(" Container \(c.record.name)  Started")
        }
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restart service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int = 10

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers {
            Console.error(" Container \(c.record.name)  Restarting")
            try engine.stop(c, timeout: timeout)
            let stopped = engine.containers(project: c.record.project).first { $0.record.id == c.record.id } ?? c
            try engine.start(stopped)
            Console.error(" Container \(c.record.name)  Started")
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Force stop service containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "SIGNAL to send to the container")
    var signal: String = "SIGKILL"

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let names: [String: Int32] = [
            "KILL": SIGKILL, "TERM": SIGTERM, "INT": SIGINT, "HUP": SIGHUP, "QUIT": SIGQUIT, "USR1": SIGUSR1,
            "USR2": SIGUSR2, "STOP": SIGSTOP, "CONT": SIGCONT,
        ]
        var text = signal.uppercased()
        if text.hasPrefix("SIG") { text.removeFirst(3) }
        guard let number = names[text] ?? Int32(signal) else { throw CLIError("invalid signal: \(signal)") }
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.running {
            try engine.signal(c, number)
            Console.error(" Container \(c.record.name)  Killed")
        }
    }
}

struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Removes stopped service containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Don't ask to confirm removal")
    var force = false

    @Flag(name: [.short, .long], help: "Stop the containers, if required, before removing")
    var stop = false

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
        for c in removable {
            if c.running { try engine.stop(c, timeout: 10) }
            try engine.remove(c)
            Console.error(" Container \(c.record.name)  Removed")
        }
    }
}

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop and remove containers, networks")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int = 10

    @Flag(name: [.short, .long], help: "Remove named volumes declared in the volumes section of the Compose file")
    var volumes = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: [])
        for c in containers.reversed() {
            if c.running || c.shimPid != nil {
                Console.error(" Container \(c.record.name)  Stopping")
                try engine.stop(c, timeout: timeout)
                Console.error(" Container \(c.record.name)  Stopped")
            }
            Console.error(" Container \(c.record.name)  Removing")
            try engine.remove(c)
            Console.error(" Container \(c.record.name)  Removed")
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
