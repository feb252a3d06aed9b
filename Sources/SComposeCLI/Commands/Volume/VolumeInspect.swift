// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct VolumeInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes")

    @Argument var names: [String]

    func run() throws {
        let store = VolumeCommand.store()
        var out: [JSONValue] = []
        var missing: [String] = []
        for name in names {
            if let v = store.get(name) { out.append(VolumeCommand.json(v, store: store)) } else { missing.append(name) }
        }
        Console.out(JSONValue.array(out).text(indent: "    ", sortKeys: false) + "\n")
        if let first = missing.first { throw CLIError("Error response from daemon: get \(first): no such volume") }
    }
}
