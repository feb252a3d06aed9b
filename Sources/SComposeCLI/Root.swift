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
            Commit.self, Export.self, Watch.self, Boot.self, BridgeCommand.self, ContainerCommand.self,
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
        // `bridge` is a group: the project flags belong to its subcommand (`bridge convert --file …`).
        if arguments[i] == "bridge", i + 1 < arguments.count, !arguments[i + 1].hasPrefix("-") {
            return [arguments[i], arguments[i + 1]] + globals + arguments[(i + 2)...]
        }
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
        Console.ignoreBrokenPipes()
        let arguments = standAloneBooleans(movingGlobalFlags(arguments))
        do {
            var command = try parseVerb(arguments) ?? parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as LoaderError {
            Console.error(error.description)
            return 1
        } catch let error as EngineError {
            Console.error(ErrorWording.message(error))
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
            if code == ExitCode.validationFailure.rawValue, arguments.first == "container" {
                // Docker's status for a usage error of its container verbs, on one line.
                let failure = ContainerContext.usageFailure(message, verb: Array(arguments.prefix(2)))
                Console.error(failure.message)
                return failure.code
            }
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
    static func parseVerb(_ arguments: [String]) throws -> ParsableCommand? {
        guard let verb = arguments.first,
            !arguments.contains(where: {
                $0 == "-h" || $0 == "--help" || $0 == "--version" || $0 == "help" || $0.hasPrefix("--generate-completion")
                    || $0.hasPrefix("---")
            }),
            let type = configuration.subcommands.first(where: { $0.configuration.commandName == verb })
        else { return nil }
        do {
            return try type.parseAsRoot(Array(arguments.dropFirst()))
        } catch {
            // A rejection by the verb's `validate()` is final (and already said); only usage
            // errors are worded again from the root.
            if exitCode(for: error) != .validationFailure { throw error }
            return nil
        }
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

    /// A flag conflict found by a verb's `validate()`. The parser would word what `validate()`
    /// throws its own way (an `Error: ` prefix, or usage and status 64) where Compose prints the
    /// sentence alone and exits 1: the sentence is said here, only the status goes through.
    static func rejecting(_ message: String) -> ExitCode {
        Console.error(message)
        return ExitCode(1)
    }
}
