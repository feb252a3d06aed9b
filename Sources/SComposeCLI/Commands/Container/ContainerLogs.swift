// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct ContainerLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container")

    @Flag(name: [.short, .long], help: "Follow log output")
    var follow = false

    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs")
    var tail: String = "all"

    @Flag(name: [.short, .long], help: "Show timestamps")
    var timestamps = false

    @Option(name: .long, help: "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    var since: String?

    @Option(name: .long, help: "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
    var until: String?

    @Argument var container: String

    func run() throws {
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        let now = Clock.nowNanoseconds()
        let sinceTime = try since.map { try LogTime.parse($0, now: now, flag: "since") }
        let untilTime = try until.map { try LogTime.parse($0, now: now, flag: "until") }
        var limit: Int?
        if tail != "all" && tail != "-1" {
            guard let n = Int(tail), n >= 0 else { throw CLIError("invalid value for --tail: \(tail)") }
            limit = n
        }
        let out = BufferedOutput()
        // As Docker: the container's stdout to ours, its stderr to ours.
        func show(_ lines: [[UInt8]]) {
            for line in lines {
                guard let entry = LogEntry(line) else { continue }
                let t = LogTime.parseRFC3339Nano(entry.time) ?? 0
                if let sinceTime, t < sinceTime { continue }
                if let untilTime, t > untilTime { continue }
                let text = (timestamps ? entry.time + " " : "") + entry.log
                if entry.stream == "stderr" {
                    out.flush()
                    Console.write(2, text)
                } else {
                    out.write(text)
                }
            }
            out.flush()
        }
        var reader = JSONLogReader(path: engine.files(c.record.id).log)
        var lines = reader.readAll()
        if let limit { lines = Array(lines.suffix(limit)) }
        show(lines)
        guard follow else { return }
        while true {
            usleep(50_000)
            show(reader.readNew())
            // Ends with the container (unless its restart policy brings it back).
            guard let now = try? engine.container(reference: c.record.id), now.running || now.restarting else {
                show(reader.readNew())
                return
            }
        }
    }
}
