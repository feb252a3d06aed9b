// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", _superCommandName: "scompose", abstract: "Execute a command in a running container")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("T"), .customLong("no-TTY")], help: "Disable pseudo-TTY allocation. By default `exec` allocates a TTY when its input is one")
    var noTTY = false

    @Flag(name: [.customShort("i"), .customLong("interactive")], help: "Keep STDIN open (always on, as in Compose)")
    var interactive = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a pseudo-TTY (the default on a terminal)")
    var tty = false

    @Flag(name: [.short, .long], help: "Detached mode: run the command in the background")
    var detach = false

    @Option(name: [.short, .long], help: "Run the command as this user")
    var user: String?

    @Option(name: [.short, .long], help: "Path to workdir directory for this command")
    var workdir: String?

    @Option(name: [.short, .customLong("env")], help: "Set environment variables")
    var env: [String] = []

    @Option(name: .long, help: "Index of the container if the service has multiple replicas")
    var index: Int = 1

    @Flag(name: .long, help: "Give extended privileges to the process")
    var privileged = false

    @Argument(help: "The service")
    var service: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments")
    var command: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        guard !command.isEmpty else { throw CLIError("exec requires at least 2 arguments") }
        let name = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        func exec(stdio: Launcher.Stdio, terminal: ((Int32) -> Void)?, detach: Bool = false) throws -> Int32 {
            try engine.exec(
                project: name, service: service, index: index, command: command, user: user, workingDir: workdir,
                env: env, privileged: privileged, stdio: stdio, terminal: terminal, detach: detach)
        }
        if detach {
            // The command runs on with /dev/null for its streams, in a session of its own; we
            // return once it runs.
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(null) }
            _ = try exec(stdio: .init(stdin: null, stdout: null, stderr: null), terminal: nil, detach: true)
            return
        }
        let useTTY = !noTTY && isatty(0) == 1 && isatty(1) == 1
        let relay: ((Int32) -> Void)? = useTTY ? { master in Terminal.relay(master) } : nil
        let code = try exec(stdio: .init(), terminal: relay)
        if code != 0 { throw CLIError("", code: code) }
    }
}
