// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct ContainerStart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers")

    @Flag(name: [.short, .long], help: "Attach STDOUT/STDERR and forward signals")
    var attach = false

    @Flag(name: [.short, .long], help: "Attach container's STDIN")
    var interactive = false

    @Argument var containers: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        guard attach || interactive else {
            try ContainerContext.each(containers, engine) { try engine.start($0) }
            return
        }
        // Attached: one container, its output relayed until it ends, its exit status ours.
        guard containers.count == 1, let reference = containers.first else {
            throw CLIError("you cannot start and attach multiple containers at once")
        }
        let c = try engine.container(reference: reference)
        let socket: Int32?
        if c.running {
            socket = engine.shim(c.record.id).attach(stdin: interactive)
        } else {
            do {
                socket = try engine.startAttached(c, stdin: interactive)
            } catch {
                throw ContainerContext.runFailure(error)
            }
        }
        guard let socket else { throw CLIError("Error response from daemon: cannot attach to \(c.record.name)") }
        let code = AttachRelay(socket: socket, shim: engine.shim(c.record.id), input: interactive, tty: false).run()
        if code != 0 { throw CLIError("", code: code) }
    }
}
