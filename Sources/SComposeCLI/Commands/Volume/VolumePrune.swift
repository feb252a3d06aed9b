// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

struct VolumePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes")

    @Flag(name: [.short, .long], help: "Remove all unused volumes, not just anonymous ones")
    var all = false

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    func run() throws {
        try ProjectContext.guardRoot()
        let store = VolumeCommand.store()
        let used = ProjectContext.engine().volumesInUse()
        var removed: [String] = []
        var reclaimed: Int64 = 0
        for v in store.list() where !used.contains(v.name) && (all || v.anonymous) {
            reclaimed += DiskUsage.bytes(store.directory(v.name))
            try store.remove(v.name)
            removed.append(v.name)
        }
        if !removed.isEmpty { Console.out("Deleted Volumes:\n" + removed.map { $0 + "\n" }.joined() + "\n") }
        Console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
    }
}
