// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

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
