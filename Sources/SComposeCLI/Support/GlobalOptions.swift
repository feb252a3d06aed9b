// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader

#if canImport(Glibc)
import Glibc
#endif

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

    /// The progress mode applies to the whole command: it is set as the verb is parsed.
    public func validate() throws {
        ProgressOutput.mode = progress.flatMap(ProgressOutput.Mode.init(rawValue:)) ?? .auto
    }

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

    func validate() throws {
        ProgressOutput.mode = progress.flatMap(ProgressOutput.Mode.init(rawValue:)) ?? .auto
    }

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
