// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct VolumeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume")

    @Option(name: [.short, .long], help: "Specify volume driver name")
    var driver = "local"

    @Option(name: .long, help: "Set metadata for a volume")
    var label: [String] = []

    @Option(name: [.short, .customLong("opt")], help: "Set driver specific options")
    var opt: [String] = []

    @Argument var name: String?

    func run() throws {
        try ProjectContext.guardRoot()
        guard driver == "local" else { throw CLIError("volume driver \"\(driver)\" is not supported (local only)") }
        func pairs(_ items: [String]) -> [String: String] {
            var d: [String: String] = [:]
            for item in items {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                d[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            return d
        }
        let volumeName = name ?? Digest.random().hex
        do {
            let v = try VolumeCommand.store().create(volumeName, labels: pairs(label), options: pairs(opt), anonymous: name == nil)
            Console.out(v.name + "\n")
        } catch {
            throw CLIError(error.description)
        }
    }
}
