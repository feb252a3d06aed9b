// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct ContainerStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Display a live stream of container(s) resource usage statistics")

    @Flag(name: [.short, .long], help: "Show all containers (default shows just running)")
    var all = false

    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result")
    var noStream = false

    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output")
    var noTrunc = false

    @Option(name: .long, help: "Format output using a custom template: table or json")
    var format: String?

    @Argument var containers: [String] = []

    func run() throws {
        let engine = ContainerContext.engine()
        let asJSON = format == "json" || format == "{{json .}}"
        if let format, !asJSON, format != "table" { throw CLIError("unsupported --format \(format): table or json") }
        let ids = try containers.map { try engine.container(reference: $0).record.id }
        while true {
            let selected = engine.allContainers().filter { ids.isEmpty ? (all || $0.running) : ids.contains($0.record.id) }
            let rows = engine.stats(selected).map { Stats.Row($0, noTrunc: noTrunc) }
            var out = noStream || asJSON || isatty(1) == 0 ? "" : "\u{1B}[2J\u{1B}[H"
            out += asJSON ? rows.map { $0.json + "\n" }.joined() : Stats.table(rows)
            Console.out(out)
            if noStream { return }
        }
    }
}
