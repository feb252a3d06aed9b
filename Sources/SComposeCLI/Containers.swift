// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The STATUS column as Docker words it.
enum StatusText {
    static func of(_ c: ContainerStatus, now: Int) -> String {
        func ago(_ time: String?) -> String {
            Human.since(now - (time.flatMap(Clock.parseRFC3339) ?? now))
        }
        switch c.state {
        case "running", "paused":
            let up = "Up " + ago(c.startedAt).replacingSuffix(" ago", "")
            if c.state == "paused" { return up + " (Paused)" }
            if c.shimPid == nil { return up + " (unsupervised)" }
            switch c.health {
            case "starting"?: return up + " (health: starting)"
            case let h?: return up + " (\(h))"
            case nil: return up
            }
        case "restarting":
            return "Restarting (\(c.lastExitCode ?? 0)) \(ago(c.startedAt))"
        case "exited":
            return "Exited (\(c.exit?.exitCode ?? 0)) \(ago(c.exit?.finishedAt))"
        default: return "Created"
        }
    }
}

extension String {
    func replacingSuffix(_ suffix: String, _ with: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + with : self
    }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", _superCommandName: "scompose", abstract: "Creates containers for a service")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("force-recreate"), help: "Recreate containers even if their configuration and image haven't changed")
    var forceRecreate = false

    @Flag(name: .customLong("no-recreate"), help: "If containers already exist, don't recreate them")
    var noRecreate = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    @Option(name: .long, help: "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
    var scale: [String] = []

    @Flag(name: .customLong("quiet-pull"), help: "Pull without printing progress information")
    var quietPull = false

    @Argument var services: [String] = []

    func run() throws {
        let project = try ProjectContext.load(global, services: services)
        var options = try ReconcileOptions(
            targets: services, forceRecreate: forceRecreate, noRecreate: noRecreate, alwaysRecreateDeps: false, scale: scale)
        options.removeOrphans = removeOrphans
        options.start = false
        _ = try ProjectContext.reconcile(project, options, global, ProjectContext.engine())
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", _superCommandName: "scompose", abstract: "Pause services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.running && !c.paused {
            try engine.setPaused(c, true)
            Console.error(" Container \(c.record.name)  Paused")
        }
    }
}

struct Unpause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", _superCommandName: "scompose", abstract: "Unpause services")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        for c in containers where c.paused {
            try engine.setPaused(c, false)
            Console.error(" Container \(c.record.name)  Unpaused")
        }
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", _superCommandName: "scompose", abstract: "Block until containers of all (or specified) services stop.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("down-project"), help: "Drops project when the first container stops")
    var downProject = false

    @Argument var services: [String]

    func run() throws {
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        guard let first = containers.first else {
            throw CLIError("no containers for project \"\(try ProjectContext.name(global))\"")
        }
        var pending = Set(containers.map(\.record.id))
        var code: Int32 = 0
        while !pending.isEmpty {
            for c in engine.containers(project: first.record.project) where pending.contains(c.record.id) {
                guard !c.running && !c.restarting else { continue }
                code = c.exit?.exitCode ?? 0
                Console.out("container \"\(c.record.id)\" exited with status code \(code)\n")
                pending.remove(c.record.id)
            }
            if !pending.isEmpty { usleep(100_000) }
        }
        if downProject {
            try ProjectContext.guardRoot()
            for c in engine.containers(project: first.record.project).reversed() {
                try engine.stop(c, timeout: nil)
                try engine.remove(c)
                Console.error(" Container \(c.record.name)  Removed")
            }
        }
        if code != 0 { throw CLIError("", code: code) }
    }
}

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", _superCommandName: "scompose", abstract: "Display the running processes")

    @OptionGroup var global: GlobalOptions

    @Argument var services: [String] = []

    func run() throws {
        let (engine, containers) = try ProjectContext.containers(global, services: services)
        var rows: [[String]] = []
        let users = Processes.userNames()
        for c in containers.sorted(by: { $0.record.name < $1.record.name }) where c.running {
            for pid in engine.processes(c) {
                guard let p = Processes.info(pid, users: users) else { continue }
                rows.append([c.record.service, String(c.record.number)] + p)
            }
        }
        guard !rows.isEmpty else { return }
        Console.out(
            Table.render(
                header: ["SERVICE", "#", "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], rows: rows, padding: 2))
    }
}

/// `ps -ef` columns for a host pid, read from /proc (as `docker top` shows them).
enum Processes {
    static func userNames() -> [UInt32: String] {
        var names: [UInt32: String] = [:]
        let text = (try? Files.read("/etc/passwd")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count > 2, let uid = UInt32(f[2]), names[uid] == nil { names[uid] = String(f[0]) }
        }
        return names
    }

    /// UID, PID, PPID, C, STIME, TTY, TIME, CMD.
    static func info(_ pid: Int32, users: [UInt32: String]) -> [String]? {
        guard let stat = try? Files.read("/proc/\(pid)/stat"), let status = try? Files.read("/proc/\(pid)/status") else {
            return nil
        }
        let text = String(decoding: stat, as: UTF8.self)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let f = text[text.index(close, offsetBy: 2)...].split(separator: " ").map(String.init)
        guard f.count > 20 else { return nil }
        let ppid = f[1]
        let ttyNumber = Int(f[4]) ?? 0
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let cpu = (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
        let startTicks = Double(f[19]) ?? 0
        var uptime = 0.0
        if let u = try? Files.read("/proc/uptime"), let first = String(decoding: u, as: UTF8.self).split(separator: " ").first {
            uptime = Double(first) ?? 0
        }
        let elapsed = max(1, uptime - startTicks / ticks)
        let percent = Int(cpu / ticks / elapsed * 100)
        let started = Int(time(nil)) - Int(elapsed)
        var t = time_t(started)
        var tm = tm()
        localtime_r(&t, &tm)
        var nowT = time(nil)
        var today = tm
        localtime_r(&nowT, &today)
        func pad2(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let stime = tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year
            ? "\(pad2(tm.tm_hour)):\(pad2(tm.tm_min))" : "\(months[Int(tm.tm_mon)])\(pad2(tm.tm_mday))"
        let seconds = Int(cpu / ticks)
        let cputime = "\(pad2(Int32(seconds / 3600))):\(pad2(Int32(seconds / 60 % 60))):\(pad2(Int32(seconds % 60)))"
        var tty = "?"
        if ttyNumber != 0 {
            let major = (ttyNumber >> 8) & 0xfff
            let minor = (ttyNumber & 0xff) | ((ttyNumber >> 12) & 0xfff00)
            tty = major == 136 ? "pts/\(minor)" : "tty\(minor)"
        }
        var uid: UInt32 = 0
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Uid:") {
            uid = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) } ?? 0
        }
        var cmd = "[\(comm)]"
        if let raw = try? Files.read("/proc/\(pid)/cmdline"), !raw.isEmpty {
            var args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            while args.last == "" { args.removeLast() }
            if !args.isEmpty { cmd = args.joined(separator: " ") }
        }
        return [users[uid] ?? String(uid), String(pid), ppid, String(percent), stime, tty, cputime, cmd]
    }
}

struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", _superCommandName: "scompose", abstract: "List images used by the created containers")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Format the output. Values: [table | json]")
    var format: String = "table"

    @Flag(name: [.short, .long], help: "Only display IDs")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        let (_, containers) = try ProjectContext.containers(global, services: services)
        let store = try ImageStore(root: StateRoot.path)
        let now = Int(time(nil))
        var rows: [[String]] = []
        var json: [JSONValue] = []
        var ids: [String] = []
        for c in containers.sorted(by: { $0.record.name < $1.record.name }) {
            let reference = try? ImageReference(parsing: c.record.image)
            let image = try store.find(c.record.imageID)
            let config = try image.map { try store.config($0) }
            let platform = config.map { "\($0.os)/\($0.architecture)" + ($0.variant.map { "/" + $0 } ?? "") } ?? ""
            let id = c.record.imageID.hasPrefix("sha256:") ? String(c.record.imageID.dropFirst(7)) : c.record.imageID
            let created = config?.created ?? image?.created
            ids.append(c.record.imageID)
            let repository: String = reference?.familiarRepository ?? "<none>"
            let tag: String = reference?.tag ?? "<none>"
            let size: String = Human.size(image?.size ?? 0)
            var age = "N/A"
            if let seconds = created.flatMap(Clock.parseRFC3339) { age = Human.since(now - seconds) }
            rows.append([c.record.name, repository, tag, platform, String(id.prefix(12)), size, age])
            json.append(
                .object([
                    ("ID", .string(c.record.imageID)), ("ContainerName", .string(c.record.name)),
                    ("Repository", .string(reference?.familiarRepository ?? "")), ("Tag", .string(reference?.tag ?? "")),
                    ("Platform", .string(platform)), ("Size", .int(image?.size ?? 0)), ("Created", .string(created ?? "")),
                ]))
        }
        if quiet {
            for id in ids { Console.out(id + "\n") }
            return
        }
        switch format {
        case "json": Console.out(JSONValue.array(json).compactText() + "\n")
        case "table":
            Console.out(
                Table.render(header: ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"], rows: rows))
        default: throw CLIError("unsupported format \"\(format)\"")
        }
    }
}

/// `scompose ls`: the projects that have containers, as `docker compose ls`.
struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", _superCommandName: "scompose", abstract: "List running compose projects")

    @Flag(name: [.short, .long], help: "Show all stopped Compose projects")
    var all = false

    @Flag(name: [.short, .long], help: "Only display project names")
    var quiet = false

    @Option(name: .long, help: "Format the output. Values: [table | json]")
    var format = "table"

    @Option(name: .long, help: "Filter output based on conditions provided (name=...)")
    var filter: [String] = []

    func run() throws {
        // Without -a, only running containers count (Docker lists those by default).
        let containers = ProjectContext.engine().containers(project: nil).filter { all || $0.state == "running" }
        var projects: [String: [ContainerStatus]] = [:]
        for c in containers { projects[c.record.project, default: []].append(c) }
        var names = projects.keys.sorted()
        for f in filter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == "name" else { throw CLIError("invalid filter '\(f)'") }
            names = names.filter { $0.contains(parts[1]) }
        }
        if quiet {
            for n in names { Console.out(n + "\n") }
            return
        }
        var rows: [[String]] = []
        for name in names {
            let cs = projects[name] ?? []
            var counts: [String: Int] = [:]
            for c in cs { counts[c.state, default: 0] += 1 }
            let status = counts.keys.sorted().map { "\($0)(\(counts[$0] ?? 0))" }.joined(separator: ", ")
            var files: [String] = []
            for c in cs {
                for f in (c.record.labels["com.docker.compose.project.config_files"] ?? "").split(separator: ",").map(String.init)
                where !files.contains(f) {
                    files.append(f)
                }
            }
            rows.append([name, status, files.joined(separator: ",")])
        }
        switch format {
        case "json":
            let items = rows.map { r in JSONValue.object([("Name", .string(r[0])), ("Status", .string(r[1])), ("ConfigFiles", .string(r[2]))]) }
            Console.out(JSONValue.array(items).compactText() + "\n")
        case "table":
            Console.out(Table.render(header: ["NAME", "STATUS", "CONFIG FILES"], rows: rows))
        default:
            throw CLIError("unsupported format \"\(format)\"")
        }
    }
}

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale", _superCommandName: "scompose", abstract: "Scale services")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("no-deps"), help: "Don't start linked services")
    var noDeps = false

    @Argument(help: "SERVICE=REPLICAS")
    var scales: [String] = []

    func run() throws {
        guard !scales.isEmpty else { throw CLIError("scale requires at least one SERVICE=REPLICAS argument") }
        let services = scales.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }
        let project = try ProjectContext.load(global, services: services)
        // Only the number of containers changes: existing ones are left as they are.
        var options = try ReconcileOptions(targets: services, forceRecreate: false, noRecreate: true, alwaysRecreateDeps: false, scale: scales)
        options.noDeps = noDeps
        _ = try ProjectContext.reconcile(project, options, global, ProjectContext.engine())
    }
}
