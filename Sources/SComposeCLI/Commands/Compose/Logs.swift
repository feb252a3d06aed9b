// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

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
