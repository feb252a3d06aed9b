// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS
import SComposeRuntime

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
        if let pull {
            guard ["always", "missing", "never"].contains(pull) else { throw CLIError("invalid --pull \(pull): always, missing or never") }
            run.pull = pull
        }
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

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", _superCommandName: "scompose", abstract: "Attach local standard input, output, and error streams to a service's running container")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Index of the container if service has multiple replicas")
    var index: Int = 1

    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN")
    var noStdin = false

    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching from a container")
    var detachKeys: String?

    @Flag(name: .customLong("sig-proxy"), inversion: .prefixedNo, help: "Proxy all received signals to the process")
    var sigProxy = true

    @Argument(help: "The service")
    var service: String

    func run() throws {
        try ProjectContext.guardRoot()
        let (_, containers) = try ProjectContext.containers(global, services: [service])
        guard let c = containers.first(where: { $0.record.number == index && !($0.record.labels["com.docker.compose.oneoff"] == "True") })
            ?? containers.first, c.running
        else {
            throw CLIError("service \"\(service)\" is not running")
        }
        let shim = ProjectContext.engine().shim(c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: shim.files.spec),
            let socket = shim.attach(stdin: !noStdin && spec.stdinOpen)
        else {
            throw CLIError("cannot attach to \(c.record.name): its shim does not answer")
        }
        let code = AttachRelay(
            socket: socket, shim: shim, input: !noStdin && spec.stdinOpen, tty: spec.container.tty, proxySignals: sigProxy
        ).run()
        if code != 0 { throw CLIError("", code: code) }
    }
}

/// Our standard streams joined to a container through its shim's attach stream: its output
/// (demultiplexed into stdout and stderr), our input to it, our terminal's size and, without a
/// tty, our SIGINT/SIGTERM/SIGHUP passed on (docker's sig-proxy). Returns its exit status.
struct AttachRelay {
    let socket: Int32
    let shim: ShimClient
    let input: Bool
    let tty: Bool
    var proxySignals = true

    func run() -> Int32 {
        defer { close(socket) }
        var saved = termios()
        let rawTerminal = tty && input && tcgetattr(0, &saved) == 0
        if rawTerminal {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
        }
        defer { if rawTerminal { tcsetattr(0, TCSANOW, &saved) } }
        if tty { resize() }
        let proxied = proxySignals && !rawTerminal ? [SIGINT, SIGTERM, SIGHUP] : []
        SignalPipe.watch([SIGWINCH] + proxied)
        var inputOpen = input
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var code: Int32?
        loop: while true {
            var fds = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: SignalPipe.fd, events: Int16(POLLIN), revents: 0),
            ]
            if inputOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 {
                for s in SignalPipe.take() {
                    if s == SIGWINCH {
                        resize()
                    } else {
                        _ = shim.kill(signal: s)
                    }
                }
            }
            if fds[0].revents != 0 {
                let n = read(socket, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                for frame in AttachFrame.take(from: &pending) {
                    switch frame {
                    case .exit(let status): code = status
                    case .stderr(let payload): _ = try? Files.writeAll(2, Array(payload), what: "stderr")
                    case .stdout(let payload): _ = try? Files.writeAll(1, Array(payload), what: "stdout")
                    }
                }
                if code != nil { break loop }
            }
            if inputOpen, fds.count > 2, fds[2].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    // Our input ended: so does the container's (without a tty).
                    inputOpen = false
                    shutdown(socket, Int32(SHUT_WR))
                    continue
                }
                if (try? Files.writeAll(socket, Array(buffer[0..<n]), what: "attach")) == nil { inputOpen = false }
            }
        }
        if let code { return code }
        // The stream ended without a status (the shim went away): the recorded exit, if any.
        for _ in 0..<50 {
            if let exit = StateFile.read(ExitRecord.self, from: shim.files.exit) { return exit.exitCode }
            usleep(100_000)
        }
        return 255
    }

    func resize() {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0 || ioctl(0, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return }
        _ = shim.resize(rows: size.ws_row, columns: size.ws_col)
    }
}

/// Words of a command line as a POSIX shell splits them (quotes and backslashes; no expansion),
/// as Compose reads `run --entrypoint`.
enum ShellWords {
    static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in text {
            if escaped {
                current.append(ch)
                escaped = false
                continue
            }
            if ch == "\\" && quote != "'" {
                escaped = true
                inWord = true
                continue
            }
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
                continue
            }
            if ch == "'" || ch == "\"" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if quote != nil || escaped { throw CLIError("invalid command line string: \(text)") }
        if inWord { words.append(current) }
        return words
    }
}
