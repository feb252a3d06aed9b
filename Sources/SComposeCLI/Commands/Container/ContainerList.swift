// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct ContainerList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List containers", aliases: ["ps", "list"])

    @Flag(name: [.short, .long], help: "Show all containers (default shows just running)")
    var all = false

    @Flag(name: [.short, .long], help: "Only display container IDs")
    var quiet = false

    @Option(name: [.short, .long], help: "Filter output based on conditions provided")
    var filter: [String] = []

    @Option(name: .long, help: "Format output using a custom template: 'table', 'json' or a Go template")
    var format: String = "table"

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output")
    var noTrunc = false

    @Option(name: [.customShort("n"), .long], help: "Show n last created containers (includes all states)")
    var last: Int = -1

    @Flag(name: [.customShort("l"), .long], help: "Show the latest created container (includes all states)")
    var latest = false

    func run() throws {
        let filters = try ContainerFilter.parse(filter)
        var containers = ContainerContext.engine().allContainers()
            .filter { (all || last >= 0 || latest || filters.hasStatus || [.running, .paused, .restarting].contains($0.state)) && filters.matches($0) }
            // Newest first, as Docker lists them.
            .sorted { ($0.record.created, $0.record.id) > ($1.record.created, $1.record.id) }
        if latest { containers = Array(containers.prefix(1)) } else if last >= 0 { containers = Array(containers.prefix(last)) }
        if quiet {
            for c in containers { Console.out((noTrunc ? c.record.id : String(c.record.id.prefix(12))) + "\n") }
            return
        }
        let now = Int(time(nil))
        let rows = containers.map { ContainerRows.json($0, now: now, truncate: !noTrunc) }
        switch format {
        case "json":
            for row in rows { Console.out(row.compactText() + "\n") }
        case "table":
            Console.out(
                Table.render(
                    header: ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
                    rows: rows.map { row in
                        ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"].map { row[$0]?.stringValue ?? "" }
                    }))
        default:
            Console.out(try GoTemplate.render(format, rows: rows))
        }
    }
}

/// `--filter` of `container ls`: `name=`, `label=KEY[=VALUE]`, `status=`, `ancestor=`, `id=`;
/// values of one key are alternatives, different keys must all match (as Docker).
struct ContainerFilter {
    var values: [String: [String]] = [:]

    static func parse(_ entries: [String]) throws -> ContainerFilter {
        var filter = ContainerFilter()
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["name", "label", "status", "ancestor", "id"].contains(parts[0]) else {
                throw CLIError("Error response from daemon: invalid filter '\(entry)'")
            }
            if parts[0] == "status", !["created", "restarting", "running", "removing", "paused", "exited", "dead"].contains(parts[1]) {
                throw CLIError("Error response from daemon: invalid filter 'status=\(parts[1])'")
            }
            filter.values[parts[0], default: []].append(parts[1])
        }
        return filter
    }

    var hasStatus: Bool { values["status"] != nil }

    func matches(_ c: ContainerStatus) -> Bool {
        for (key, wanted) in values {
            let ok = wanted.contains { value in
                switch key {
                case "name": return c.record.name.contains(value.hasPrefix("/") ? String(value.dropFirst()) : value)
                case "id": return c.record.id.hasPrefix(value)
                case "status": return c.state.rawValue == value
                case "ancestor":
                    return c.record.image == value || c.record.image == value + ":latest" || value == c.record.image + ":latest"
                        || c.record.imageID.hasPrefix(value) || c.record.imageID.dropFirst("sha256:".count).hasPrefix(value)
                default:
                    let kv = value.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let v = c.record.labels[kv[0]] else { return false }
                    return kv.count == 1 || v == kv[1]
                }
            }
            if !ok { return false }
        }
        return true
    }
}

/// A container as `docker ps --format json` prints it (and tables and templates read it).
enum ContainerRows {
    static func json(_ c: ContainerStatus, now: Int, truncate: Bool) -> JSONValue {
        let created = Clock.parseRFC3339(c.record.created) ?? now
        let labels = c.record.labels.keys.sorted().map { "\($0)=\(c.record.labels[$0] ?? "")" }.joined(separator: ",")
        return JSONValue.object([
            ("Command", .string(Ps.command(c.record.command, truncate: truncate))),
            ("CreatedAt", .string(goTime(created))),
            ("ID", .string(truncate ? String(c.record.id.prefix(12)) : c.record.id)),
            ("Image", .string(c.record.image)),
            ("Labels", .string(labels)),
            ("LocalVolumes", .string(String(c.record.anonymousVolumes?.count ?? 0))),
            ("Names", .string(c.record.name)),
            ("Ports", .string(Ps.ports(c))),
            ("RunningFor", .string(Human.since(now - created))),
            ("State", .string(c.state.rawValue)),
            ("Status", .string(StatusText.of(c, now: now))),
        ])
    }

    /// Go's `time.Time.String()` in UTC: `2024-05-01 10:00:00 +0000 UTC`.
    static func goTime(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000 UTC"
    }
}
