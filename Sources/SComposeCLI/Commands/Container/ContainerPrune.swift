// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct ContainerPrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers")

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    @Option(name: .long, help: "Provide filter values (e.g. \"label=<key>=<value>\")")
    var filter: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        if !force {
            Console.out("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { return }
        }
        let filters = try ContainerFilter.parse(filter)
        let engine = ContainerContext.engine()
        let stopped = engine.allContainers().filter { !$0.running && !$0.restarting && filters.matches($0) }
        for c in stopped {
            try engine.remove(c)
            engine.removeAnonymousVolumes(of: [c])
        }
        var out = stopped.isEmpty ? "" : "Deleted Containers:\n" + stopped.map { $0.record.id + "\n" }.joined() + "\n"
        out += "Total reclaimed space: 0B\n"
        Console.out(out)
    }
}
