// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", _superCommandName: "scompose", abstract: "Run a one-off command on a service")

    @OptionGroup var runGlobal: RunGlobalOptions
    var global: GlobalOptions { runGlobal.options }

    @Flag(name: [.short, .long], help: "Run container in background and print container ID")
    var detach = false

    @Option(name: .long, help: "Override the entrypoint of the image")
    var entrypoint: String?

    @Option(name: [.short, .customLong("env")], help: "Set environment variables")
    var env: [String] = []

    @Option(name: [.short, .customLong("label")], help: "Add or override a label")
    var label: [String] = []

    @Flag(name: [.short, .long], help: "Keep STDIN open even if not attached (the default)")
    var interactive = false

    @Option(name: .long, help: "Assign a name to the container")
    var name: String?

    @Flag(name: [.customShort("T"), .customLong("no-TTY")], help: "Disable pseudo-TTY allocation (default: auto-detected)")
    var noTTY = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a pseudo-TTY")
    var tty = false

    @Flag(name: .customLong("no-deps"), help: "Don't start linked services")
    var noDeps = false

    @Option(name: [.short, .long], help: "Publish a container's port(s) to the host")
    var publish: [String] = []

    @Flag(name: [.customShort("P"), .customLong("service-ports")], help: "Run command with all service's ports enabled and mapped to the host")
    var servicePorts = false

    @Flag(name: .customLong("use-aliases"), help: "Use the service's network aliases in the network(s) the container connects to")
    var useAliases = false

    @Flag(name: .long, help: "Automatically remove the container when it exits")
    var rm = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    @Option(name: [.short, .long], help: "Run as specified username or uid")
    var user: String?

    @Option(name: [.short, .long], help: "Bind mount a volume")
    var volume: [String] = []

    @Option(name: [.short, .long], help: "Working directory inside the container")
    var workdir: String?

    @Flag(name: .customLong("quiet-pull"), help: "Pull without printing progress information")
    var quietPull = false

    @Option(name: .long, help: "Pull image before running (\"always\"|\"missing\"|\"never\")")
    var pull: String?

    @Flag(name: .long, help: "Build image before starting container")
    var build = false

    @Argument(help: "The service")
    var service: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments")
    var command: [String] = []

    func validate() throws {
        if let pull, !pullFlagValues.contains(pull) { throw CLIError.rejecting("invalid --pull \(pull): always, missing or never") }
    }

    func run() throws {
        try ProjectContext.guardRoot()
        var options = global.projectOptions()
        options.commandLineOverride = try Self.override(service: service, volumes: volume, publish: publish, servicePorts: servicePorts)
        let loaded = try Loader.load(options)
        for warning in loaded.warnings { Console.warn(warning) }
        var run = RunOptions()
        if !command.isEmpty { run.command = command }
        if let entrypoint { run.entrypoint = try ShellWords.split(entrypoint) }
        run.environment = env
        run.labels = label
        run.user = user
        run.workingDir = workdir
        run.name = name
        // As Compose: a tty when our input is one, unless -T; `-t` asks for one regardless.
        run.tty = !noTTY && (tty || (isatty(0) == 1 && !detach))
        run.detach = detach
        run.noDeps = noDeps
        run.useAliases = useAliases
        run.build = build
        run.pull = pull.map(PullPolicy.init)
        let engine = ProjectContext.engine()
        let (container, socket) = try engine.runOneOff(
            loaded, service: service, options: run, environment: Console.environment(), parallel: global.parallelLimit)
        guard let socket else {
            Console.out(container.record.name + "\n")
            return
        }
        let code = AttachRelay(socket: socket, shim: engine.shim(container.record.id), input: run.interactive, tty: run.tty).run()
        if rm, let ended = engine.container(named: container.record.name, project: loaded.name) {
            try engine.stop(ended, timeout: nil)
            try engine.remove(ended)
            engine.removeAnonymousVolumes(of: [ended])
        }
        if code != 0 { throw CLIError("", code: code) }
    }

    /// `-v` and `-p` as a compose file merged last, so that they are parsed, resolved and
    /// merged exactly as the same lines in a file would be; without `--service-ports` the
    /// service's own ports are dropped (`!override`).
    static func override(service: String, volumes: [String], publish: [String], servicePorts: Bool) throws -> ConfigFile? {
        // A JSON string is a YAML one; `$` doubled, as flags are not interpolated.
        func quoted(_ s: String) -> String { JSONText.quote(s).split(separator: "$", omittingEmptySubsequences: false).joined(separator: "$$") }
        var keys: [String] = []
        if !volumes.isEmpty { keys.append("\"volumes\": [" + volumes.map(quoted).joined(separator: ", ") + "]") }
        if !servicePorts { keys.append("\"ports\": !override [" + publish.map(quoted).joined(separator: ", ") + "]") }
        else if !publish.isEmpty { keys.append("\"ports\": [" + publish.map(quoted).joined(separator: ", ") + "]") }
        guard !keys.isEmpty else { return nil }
        return ConfigFile(path: "run flags", content: "services: {\(quoted(service)): {\(keys.joined(separator: ", "))}}\n")
    }
}
