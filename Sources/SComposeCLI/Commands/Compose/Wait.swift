// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

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
                ProgressOutput.render(.resource(.container, c.record.name, "Removed"))
            }
        }
        if code != 0 { throw CLIError("", code: code) }
    }
}
