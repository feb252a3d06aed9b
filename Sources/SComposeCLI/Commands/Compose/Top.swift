// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

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
