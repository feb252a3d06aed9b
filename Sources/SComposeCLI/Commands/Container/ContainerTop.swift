// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerTop: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container")

    @Argument var container: String

    func run() throws {
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        guard c.running else { throw EngineError(.containerNotRunning(c.record.id)) }
        let users = Processes.userNames()
        let rows = engine.processes(c).compactMap { Processes.info($0, users: users) }
        Console.out(Table.render(header: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], rows: rows, padding: 1))
    }
}
