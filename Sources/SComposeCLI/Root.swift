// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The version printed by `scompose version`.
public let scomposeVersion = Engine.version

/// The `scompose` command: Docker Compose's command line over scompose's engine.
public struct SCompose: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "scompose",
        abstract: "Define and run multi-container applications, without a daemon.",
        discussion: """
            Global options, before or after the command as with docker compose:
              -f, --file FILE                 Compose configuration files (repeatable, - for stdin)
              -p, --project-name NAME         Project name
              --profile PROFILE               Enable a profile (repeatable)
              --env-file FILE                 Alternate environment file (repeatable)
              --project-directory DIR         Alternate working directory
            """,
        version: scomposeVersion,
        subcommands: [
            Up.self, Create.self, Ps.self, Logs.self, Exec.self, Start.self, Stop.self, Restart.self, Kill.self, Pause.self,
            Unpause.self, Top.self, Wait.self, Images.self, Cp.self, Rm.self, Down.self, Config.self, ImageCommand.self,
            VolumeCommand.self, NetworkCommand.self, Port.self, Ls.self, Version.self, Run.self, Attach.self, Events.self, Stats.self, Scale.self, Pull.self, Push.self, Build.self,
            Commit.self, Export.self, Watch.self, Boot.self,
        ]
    )

    // The global flags live in each compose verb (see GlobalOptions): `image` has its own `-f`.

    public init() {}

    /// What `config` prints for these arguments (`[global flags] config [flags]`), run in
    /// `currentDirectory` with exactly `environment`; used by the conformance tests.
    public static func configOutput(
        arguments: [String], environment: [String: String], currentDirectory: String
    ) throws -> String {
        guard let command = try parseAsRoot(movingGlobalFlags(arguments)) as? Config else {
            throw CLIError("not a config command: \(arguments)")
        }
        let options = command.global.projectOptions(environment: environment, currentDirectory: currentDirectory)
        return try command.output(options: options).text
    }

    /// Global flags written before the verb (`scompose -f a.yaml -p x config`), moved after it,
    /// where each compose verb declares them; other verbs keep their own `-f` (`image prune -f`).
    public static func movingGlobalFlags(_ arguments: [String]) -> [String] {
        let withValue: Set<String> = [
            "-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory", "--ansi",
            "--progress", "--parallel",
        ]
        let flags: Set<String> = ["--compatibility", "--dry-run"]
        var globals: [String] = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            let name = arg.split(separator: "=", maxSplits: 1).first.map(String.init) ?? arg
            if withValue.contains(arg), i + 1 < arguments.count {
                globals += [arg == "-f" ? "--file" : arg == "-p" ? "--project-name" : arg, arguments[i + 1]]
                i += 2
            } else if arg.hasPrefix("--"), arg.contains("="), withValue.contains(name) {
                globals.append(arg)
                i += 1
            } else if flags.contains(arg) {
                globals.append(arg)
                i += 1
            } else {
                break
            }
        }
        guard !globals.isEmpty, i < arguments.count else { return arguments }
        return [arguments[i]] + globals + arguments[(i + 1)...]
    }

    /// Compose's boolean options that default to true (`commit --pause`, `watch --prune`) take
    /// `=false` and may stand alone, as Go's flags do: alone, they are written `=true` here.
    public static func standAloneBooleans(_ arguments: [String]) -> [String] {
        let options = ["commit": "--pause", "watch": "--prune"]
        guard let verb = arguments.first, let option = options[verb] else { return arguments }
        return [verb] + arguments.dropFirst().map { $0 == option ? option + "=true" : $0 }
    }

    /// Parses `arguments` and runs the command, mapping errors to Compose's messages and exit codes.
    public static func run(arguments: [String]) -> Int32 {
        let arguments = standAloneBooleans(movingGlobalFlags(arguments))
        do {
            var command = try parseVerb(arguments) ?? parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as LoaderError {
            Console.error(error.description)
            return 1
        } catch let error as EngineError {
            Console.error(error.description)
            return error.exitCode
        } catch let error as VolumeError {
            Console.error(error.description)
            return 1
        } catch let error as CLIError {
            if !error.message.isEmpty { Console.error(error.message) }
            return error.code
        } catch {
            let code = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if code == 0 {
                if !message.isEmpty { Console.out(message + "\n") }
            } else if !message.isEmpty {
                Console.error(message)
            }
            return code
        }
    }
}

extension SCompose {
    /// The verb's command parsed on its own. Parsing from the root builds the argument sets of
    /// the whole command tree, and checks them again for completion requests: a third of a
    /// no-op `up`. Help, version and completion requests, and anything the verb's own parse
    /// rejects, go through the root, which words usage and errors with the full command path.
    static func parseVerb(_ arguments: [String]) -> ParsableCommand? {
        guard let verb = arguments.first,
            !arguments.contains(where: {
                $0 == "-h" || $0 == "--help" || $0 == "--version" || $0 == "help" || $0.hasPrefix("--generate-completion")
                    || $0.hasPrefix("---")
            }),
            let type = configuration.subcommands.first(where: { $0.configuration.commandName == verb })
        else { return nil }
        return try? type.parseAsRoot(Array(arguments.dropFirst()))
    }
}

/// An error with the exit code Compose uses for it.
public struct CLIError: Error {
    public var message: String
    public var code: Int32 = 1

    public init(_ message: String, code: Int32 = 1) {
        self.message = message
        self.code = code
    }
}

/// The global flags of `docker compose` (`-f`, `-p`, `--profile`, `--env-file`, `--project-directory`).
public struct GlobalOptions: ParsableArguments {
    // Long form only inside the verbs: `-f` before the verb is rewritten to `--file`, and after
    // it belongs to the verb (`logs -f` follows, `image prune -f` forces), as with docker compose.
    @Option(name: .customLong("file"), help: "Compose configuration files")
    public var file: [String] = []

    @Option(name: [.short, .customLong("project-name")], help: "Project name")
    public var projectName: String?

    @Option(name: .customLong("profile"), help: "Specify a profile to enable")
    public var profile: [String] = []

    @Option(name: .customLong("env-file"), help: "Specify an alternate environment file")
    public var envFile: [String] = []

    @Option(name: .customLong("project-directory"), help: "Specify an alternate working directory")
    public var projectDirectory: String?

    @Option(name: .customLong("ansi"), help: "Control when to print ANSI control characters (never|always|auto)")
    public var ansi: String = "auto"

    @Option(name: .customLong("progress"), help: "Set type of progress output (auto, tty, plain, json, quiet)")
    public var progress: String?

    @Option(name: .customLong("parallel"), help: "Control max parallelism, -1 for unlimited")
    public var parallel: Int = -1

    @Flag(name: .customLong("compatibility"), help: "Run compose in backward compatibility mode")
    public var compatibility = false

    @Flag(name: .customLong("dry-run"), help: "Execute command in dry run mode")
    public var dryRun = false

    public init() {}

    /// `--parallel`, else `COMPOSE_PARALLEL_LIMIT`; nil for unlimited.
    var parallelLimit: Int? {
        if parallel > 0 { return parallel }
        if let text = Console.environment()["COMPOSE_PARALLEL_LIMIT"], let n = Int(text), n > 0 { return n }
        return nil
    }

    /// Loader options from these flags and the process environment.
    public func projectOptions() -> ProjectOptions {
        projectOptions(environment: Console.environment(), currentDirectory: FileSystem.currentDirectory())
    }

    /// Loader options from these flags, an environment and a current directory.
    public func projectOptions(environment: [String: String], currentDirectory: String) -> ProjectOptions {
        var options = ProjectOptions(environment: environment, currentDirectory: currentDirectory)
        options.configFiles = file
        options.projectName = projectName
        options.envFiles = envFile.isEmpty
            ? (options.environment["COMPOSE_ENV_FILES"].map { $0.split(separator: ",").map(String.init) } ?? [])
            : envFile
        options.profiles = profile
        options.projectDirectory = projectDirectory
        options.readStandardInput = { (try? FileSystem.readAll(fd: 0)) ?? [] }
        return options
    }
}

/// `scompose version`.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", _superCommandName: "scompose", abstract: "Show the scompose version information")

    @Option(name: [.short, .long], help: "Format the output. Values: [pretty | json]")
    var format: String = "pretty"

    @Flag(name: .long, help: "Shows only the version number")
    var short = false

    func run() throws {
        if short {
            Console.out(scomposeVersion + "\n")
        } else if format == "json" {
            Console.out("{\"version\":\"\(scomposeVersion)\"}\n")
        } else {
            Console.out("scompose version \(scomposeVersion)\n")
        }
    }
}

/// Writing to the terminal without Foundation.
enum Console {
    static func out(_ text: String) {
        write(1, text)
    }

    static func error(_ text: String) {
        write(2, text.hasSuffix("\n") ? text : text + "\n")
    }

    static func warn(_ text: String) {
        write(2, "WARN[0000] \(text)\n")
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(n)
        }
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                env[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }
}

/// The global flags in `run`, whose `-p` is `--publish` as in Compose (the project name is
/// `--project-name` there, or `-p` before the verb).
struct RunGlobalOptions: ParsableArguments {
    @Option(name: .customLong("file"), help: "Compose configuration files")
    var file: [String] = []

    @Option(name: .customLong("project-name"), help: "Project name")
    var projectName: String?

    @Option(name: .customLong("profile"), help: "Specify a profile to enable")
    var profile: [String] = []

    @Option(name: .customLong("env-file"), help: "Specify an alternate environment file")
    var envFile: [String] = []

    @Option(name: .customLong("project-directory"), help: "Specify an alternate working directory")
    var projectDirectory: String?

    @Option(name: .customLong("ansi"), help: "Control when to print ANSI control characters (never|always|auto)")
    var ansi: String = "auto"

    @Option(name: .customLong("progress"), help: "Set type of progress output (auto, tty, plain, json, quiet)")
    var progress: String?

    @Option(name: .customLong("parallel"), help: "Control max parallelism, -1 for unlimited")
    var parallel: Int = -1

    @Flag(name: .customLong("compatibility"), help: "Run compose in backward compatibility mode")
    var compatibility = false

    @Flag(name: .customLong("dry-run"), help: "Execute command in dry run mode")
    var dryRun = false

    init() {}

    var options: GlobalOptions {
        var g = GlobalOptions()
        g.file = file
        g.projectName = projectName
        g.profile = profile
        g.envFile = envFile
        g.projectDirectory = projectDirectory
        g.ansi = ansi
        g.progress = progress
        g.parallel = parallel
        g.compatibility = compatibility
        g.dryRun = dryRun
        return g
    }
}
