// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct ContainerRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a new container from an image")

    @Flag(name: [.short, .long], help: "Run container in background and print container ID")
    var detach = false

    @OptionGroup var options: ContainerRunArguments

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let container: ContainerStatus
        do {
            let flags = try options.flags(detach: detach)
            container = try engine.createContainer(
                flags, environment: Console.environment(), workingDirectory: FileSystem.currentDirectory(), attach: !detach)
        } catch {
            throw ContainerContext.runFailure(error)
        }
        if detach {
            do {
                try engine.start(container)
            } catch {
                throw ContainerContext.runFailure(error)
            }
            Console.out(container.record.id + "\n")
            return
        }
        let socket: Int32?
        do {
            socket = try engine.startAttached(container, stdin: options.interactive)
        } catch {
            if options.rm { removeEnded(engine, container.record.id) }
            throw ContainerContext.runFailure(error)
        }
        guard let socket else { return }
        let code = AttachRelay(socket: socket, shim: engine.shim(container.record.id), input: options.interactive, tty: options.tty).run()
        if options.rm { removeEnded(engine, container.record.id) }
        if code != 0 { throw CLIError("", code: code) }
    }

    /// `--rm`: the container and its anonymous volumes go once it has ended.
    func removeEnded(_ engine: Engine, _ id: String) {
        guard let ended = try? engine.container(reference: id) else { return }
        try? engine.stop(ended, timeout: nil)
        try? engine.remove(ended)
        engine.removeAnonymousVolumes(of: [ended])
    }
}
