// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct ContainerExec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a running container")

    @Flag(name: [.short, .long], help: "Keep STDIN open even if not attached")
    var interactive = false

    @Flag(name: [.short, .long], help: "Allocate a pseudo-TTY")
    var tty = false

    @Flag(name: [.customShort("T"), .customLong("no-TTY")], help: "Disable pseudo-TTY allocation (scompose's, as Compose's exec)")
    var noTTY = false

    @Flag(name: [.short, .long], help: "Detached mode: run command in the background")
    var detach = false

    @Option(name: [.short, .long], help: "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
    var user: String?

    @Option(name: [.short, .long], help: "Working directory inside the container")
    var workdir: String?

    @Option(name: [.short, .customLong("env")], help: "Set environment variables")
    var env: [String] = []

    @Flag(name: .long, help: "Give extended privileges to the command")
    var privileged = false

    @Argument var container: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty {
            Console.error("scompose: 'container exec' requires at least 2 arguments.")
            throw ExitCode(1)
        }
    }

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        func exec(stdio: Launcher.Stdio, terminal: ((Int32) -> Void)?, detach: Bool = false) throws -> Int32 {
            do {
                return try engine.exec(
                    in: c, command: command, user: user, workingDir: workdir, env: env, privileged: privileged, stdio: stdio,
                    terminal: terminal, detach: detach)
            } catch let error as EngineError {
                if case .execFailed = error.reason { throw ContainerContext.runFailure(error) }
                throw error
            }
        }
        if detach {
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(null) }
            _ = try exec(stdio: .init(stdin: null, stdout: null, stderr: null), terminal: nil, detach: true)
            return
        }
        // As Docker: a pty only with -t; without -i, the command's input is empty.
        let useTTY = tty && !noTTY
        var stdio = Launcher.Stdio()
        var null: Int32 = -1
        if !interactive {
            null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            stdio = .init(stdin: null, stdout: 1, stderr: 2)
        }
        defer { if null >= 0 { close(null) } }
        let relay: ((Int32) -> Void)? = useTTY ? { master in Terminal.relay(master) } : nil
        let code = try exec(stdio: stdio, terminal: relay)
        if code != 0 { throw CLIError("", code: code) }
    }
}
