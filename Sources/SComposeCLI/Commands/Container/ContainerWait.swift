// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct ContainerWait: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until one or more containers stop, then print their exit codes")

    @Argument var containers: [String]

    func run() throws {
        let engine = ContainerContext.engine()
        var failures: [String] = []
        for reference in containers {
            do {
                let id = try engine.container(reference: reference).record.id
                // Until it has ended for good (a restart policy may bring it back first).
                while true {
                    let c = try engine.container(reference: id)
                    if !c.running && !c.restarting && c.state != .created {
                        Console.out("\(c.exit?.exitCode ?? 0)\n")
                        break
                    }
                    usleep(100_000)
                }
            } catch {
                failures.append(ErrorWording.message(error))
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}
