// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", _superCommandName: "scompose", abstract: "Receive real time events from containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Output events as a stream of json objects")
    var json = false

    @Option(name: .long, help: "Show all events created since timestamp (RFC 3339, or relative like 10m)")
    var since: String?

    @Option(name: .long, help: "Stream events until this timestamp (RFC 3339, or relative like 10m)")
    var until: String?

    @Argument var services: [String] = []

    func run() throws {
        let project = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        let path = engine.eventLog(project: project)
        let now = Clock.nowNanoseconds()
        let since = try self.since.map { try LogTime.parse($0, now: now, flag: "since") }
        let until = try self.until.map { try LogTime.parse($0, now: now, flag: "until") }
        try? Files.makeDirectories(StateRoot.path + "/projects")
        var fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Past events only when asked for with --since (the rotated log first); otherwise from
        // now on, as Compose.
        var files = [fd]
        if since != nil {
            let older = open(path + ".1", O_RDONLY | O_CLOEXEC)
            if older >= 0 { files.insert(older, at: 0) }
        } else {
            lseek(fd, 0, SEEK_END)
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(files[0], &buffer, buffer.count)
            if n > 0 {
                pending += buffer[0..<n]
                while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(pending[..<end])
                    pending.removeFirst(end + 1)
                    guard let event = try? StateJSONDecoder().decode(ContainerEvent.self, from: line) else { continue }
                    let at = LogTime.parseRFC3339Nano(event.time) ?? 0
                    if let since, at < since { continue }
                    if let until, at > until { return }
                    if !services.isEmpty && !services.contains(event.service) { continue }
                    Console.out(json ? Self.json(event) : Self.text(event))
                }
                continue
            }
            if files.count > 1 {
                close(files.removeFirst())
                pending = []
                continue
            }
            // The log was rotated under us: the rest is in the new one, from its start.
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino != named.st_ino {
                let next = open(path, O_RDONLY | O_CLOEXEC)
                if next >= 0 {
                    close(fd)
                    fd = next
                    files = [fd]
                    pending = []
                    continue
                }
            }
            if let until, Clock.nowNanoseconds() > until { return }
            usleep(50_000)
        }
    }

    /// As Compose's `--json`: time, type, service, id, action, attributes.
    static func json(_ e: ContainerEvent) -> String {
        func q(_ s: String) -> String { JSONText.quote(s) }
        let attributes = e.attributes.sorted { $0.key < $1.key }.map { "\(q($0.key)):\(q($0.value))" }.joined(separator: ",")
        return "{\"action\":\(q(e.action)),\"attributes\":{\(attributes)},\"id\":\(q(e.id)),\"service\":\(q(e.service)),\"time\":\(q(e.time)),\"type\":\"container\"}\n"
    }

    /// As Compose's text: `2006-01-02 15:04:05.000000 container ACTION ID (k=v, …)`.
    static func text(_ e: ContainerEvent) -> String {
        var stamp = String(e.time.map { $0 == "T" ? " " : $0 }.filter { $0 != "Z" })
        if let dot = stamp.firstIndex(of: ".") {
            let fraction = stamp[stamp.index(after: dot)...]
            stamp = String(stamp[..<dot]) + "." + String((fraction + "000000").prefix(6))
        } else {
            stamp += ".000000"
        }
        let attributes = e.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "\(stamp) container \(e.action) \(e.id) (\(attributes))\n"
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", _superCommandName: "scompose", abstract: "Display a live stream of container(s) resource usage statistics")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Show all containers (default shows just running)")
    var all = false

    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result")
    var noStream = false

    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output")
    var noTrunc = false

    @Option(name: .long, help: "Format output using a custom template: table or json")
    var format: String?

    @Argument var services: [String] = []

    func run() throws {
        let (engine, _) = try ProjectContext.containers(global, services: services)
        let project = try ProjectContext.name(global)
        let asJSON = format == "json" || format == "{{json .}}"
        if let format, !asJSON, format != "table" { throw CLIError("unsupported --format \(format): table or json") }
        while true {
            let containers = engine.containers(project: project).filter {
                (services.isEmpty || services.contains($0.record.service)) && (all || $0.running)
            }
            let rows = engine.stats(containers).map { Row($0, noTrunc: noTrunc) }
            var out = noStream || asJSON || isatty(1) == 0 ? "" : "\u{1B}[2J\u{1B}[H"
            if asJSON {
                for r in rows { out += r.json + "\n" }
            } else {
                out += Self.table(rows)
            }
            Console.out(out)
            if noStream { return }
        }
    }

    struct Row {
        var id, name, cpu, memUsage, memPercent, netIO, blockIO, pids: String

        init(_ s: ContainerStats, noTrunc: Bool) {
            let running = s.container.running
            id = noTrunc ? s.container.record.id : String(s.container.record.id.prefix(12))
            name = s.container.record.name
            cpu = running ? Units.percent(s.cpuPercent) : "--"
            memUsage = running ? Units.binary(s.memory) + " / " + Units.binary(s.memoryLimit) : "0B / 0B"
            memPercent = running && s.memoryLimit > 0 ? Units.percent(Double(s.memory) / Double(s.memoryLimit) * 100) : "--"
            netIO = running ? Units.decimal(s.netReceived) + " / " + Units.decimal(s.netSent) : "--"
            blockIO = running ? Units.decimal(s.blockRead) + " / " + Units.decimal(s.blockWritten) : "--"
            pids = running ? String(s.pids) : "--"
        }

        var json: String {
            func q(_ s: String) -> String { JSONText.quote(s) }
            return "{\"BlockIO\":\(q(blockIO)),\"CPUPerc\":\(q(cpu)),\"Container\":\(q(id)),\"ID\":\(q(id)),\"MemPerc\":\(q(memPercent)),"
                + "\"MemUsage\":\(q(memUsage)),\"Name\":\(q(name)),\"NetIO\":\(q(netIO)),\"PIDs\":\(q(pids))}"
        }
    }

    static func table(_ rows: [Row]) -> String {
        Table.render(
            header: ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
            rows: rows.map { [$0.id, $0.name, $0.cpu, $0.memUsage, $0.memPercent, $0.netIO, $0.blockIO, $0.pids] })
    }
}

/// Sizes and shares written as Docker's go-units does.
enum Units {
    /// `12.34%`.
    static func percent(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)%"
    }

    /// Powers of 1024, four significant digits: `1.5MiB`.
    static func binary(_ bytes: Int64) -> String {
        scaled(Double(bytes), base: 1024, units: ["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
    }

    /// Powers of 1000, four significant digits: `1.2kB`.
    static func decimal(_ bytes: Int64) -> String {
        scaled(Double(bytes), base: 1000, units: ["B", "kB", "MB", "GB", "TB", "PB"])
    }

    static func scaled(_ value: Double, base: Double, units: [String]) -> String {
        var v = value
        var i = 0
        while v >= base && i < units.count - 1 {
            v /= base
            i += 1
        }
        return significant(v, 4) + units[i]
    }

    /// `%.Ng` for values below 10000: N significant digits, no trailing zeros.
    static func significant(_ v: Double, _ digits: Int) -> String {
        guard v > 0 else { return "0" }
        var intDigits = 1
        var t = v
        while t >= 10 {
            t /= 10
            intDigits += 1
        }
        let decimals = max(0, digits - intDigits)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int64((v * scale).rounded())
        var text = String(n)
        if decimals > 0 {
            if text.count <= decimals { text = String(repeating: "0", count: decimals - text.count + 1) + text }
            text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }
}
