// SPDX-License-Identifier: Apache-2.0

/// What the user asked for on the command line and in the environment, before any file is read.
public struct ProjectOptions: Sendable {
    /// `-f` files, in order (`-` is standard input).
    public var configFiles: [String] = []
    /// `-p`.
    public var projectName: String?
    /// `--project-directory`.
    public var projectDirectory: String?
    /// `--env-file`, in order.
    public var envFiles: [String] = []
    /// `--profile`, added to `COMPOSE_PROFILES`.
    public var profiles: [String] = []
    /// Services named on the command line: their profiles are enabled.
    public var services: [String] = []
    /// The process environment.
    public var environment: [String: String]
    /// The directory the command runs in.
    public var currentDirectory: String
    /// False for `--no-interpolate`.
    public var interpolate = true
    /// False for `--no-normalize`.
    public var normalize = true
    /// False for `--no-path-resolution`.
    public var resolvePaths = true
    /// False for `--no-consistency`.
    public var consistency = true
    /// Keeps the `x-` keys of services and resources in `LoadedProject.rendered` (as the YAML
    /// of `config` shows them), for a caller that reads them: one rendering instead of two.
    public var renderExtensions = false
    /// Reads standard input for `-f -`.
    public var readStandardInput: @Sendable () -> [UInt8] = { [] }
    /// Compose text merged after the files (the flags of `run`); its name shows in errors.
    public var commandLineOverride: ConfigFile?

    /// Creates options.
    public init(environment: [String: String], currentDirectory: String) {
        self.environment = environment
        self.currentDirectory = currentDirectory
    }
}

/// A compose file to load: its path (absolute, or `-`) and text.
public struct ConfigFile: Sendable {
    /// The absolute path, or `-` for standard input.
    public var path: String
    /// The file's text.
    public var content: String

    public init(path: String, content: String) {
        self.path = path
        self.content = content
    }
}

/// The files, directory and variables a project loads from, once discovery is done.
public struct ConfigDetails: Sendable {
    /// The project directory: relative paths in the files are resolved from here.
    public var workingDirectory: String
    /// The compose files, in merge order.
    public var files: [ConfigFile]
    /// Variables for interpolation: the process environment over the `.env` files.
    public var environment: [String: String]
    /// Warnings to print (obsolete `version`, several default files, …).
    public var warnings: [String]
}

extension ProjectOptions {
    static let defaultFileNames = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]
    static let overrideFileNames = [
        "compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml",
    ]

    /// Finds the files and reads the environment as Docker Compose does: `-f`, else
    /// `COMPOSE_FILE`, else `compose.yaml` (and its override) in this directory or a parent;
    /// `.env` from the project directory unless `--env-file` is given.
    public func configDetails() throws(LoaderError) -> ConfigDetails {
        var warnings: [String] = []
        var environment = self.environment
        if environment["PWD"] == nil { environment["PWD"] = currentDirectory }
        var files = configFiles.map { $0 == "-" ? "-" : Path.absolute($0, base: currentDirectory) }
        let envFiles = self.envFiles.map { Path.absolute($0, base: currentDirectory) }

        func workingDir() -> String {
            if let dir = projectDirectory { return Path.absolute(dir, base: currentDirectory) }
            if let first = files.first(where: { $0 != "-" }) { return Path.dirname(first) }
            return currentDirectory
        }
        func addDotEnv() throws(LoaderError) {
            let fromFiles = try Self.readEnvFiles(
                envFiles.isEmpty ? [Path.join(workingDir(), ".env")] : envFiles, base: environment,
                optional: envFiles.isEmpty)
            for (k, v) in fromFiles where environment[k] == nil { environment[k] = v }
        }

        try addDotEnv()
        if files.isEmpty, let list = environment["COMPOSE_FILE"], !list.isEmpty {
            let separator = environment["COMPOSE_PATH_SEPARATOR"].flatMap { $0.isEmpty ? nil : $0 } ?? ":"
            files = list.split(separator: separator, omittingEmptySubsequences: true).map {
                Path.absolute(String($0), base: currentDirectory)
            }
        }
        if files.isEmpty {
            var dir = projectDirectory.map { Path.absolute($0, base: currentDirectory) } ?? currentDirectory
            while true {
                let found = Self.defaultFileNames.map { Path.join(dir, $0) }.filter(FileSystem.isFile)
                if let winner = found.first {
                    if found.count > 1 {
                        warnings.append("Found multiple config files with supported names: \(found.joined(separator: ", "))")
                        warnings.append("Using \(winner)")
                    }
                    files.append(winner)
                    let overrides = Self.overrideFileNames.map { Path.join(dir, $0) }.filter(FileSystem.isFile)
                    if let o = overrides.first {
                        if overrides.count > 1 {
                            warnings.append(
                                "Found multiple override files with supported names: \(overrides.joined(separator: ", "))")
                            warnings.append("Using \(o)")
                        }
                        files.append(o)
                    }
                    break
                }
                let parent = Path.dirname(dir)
                if parent == dir { break }
                dir = parent
            }
            if files.isEmpty {
                throw LoaderError(.notFound, "no configuration file provided: not found")
            }
            try addDotEnv()
        }
        var loaded: [ConfigFile] = []
        for file in files {
            if file == "-" {
                loaded.append(ConfigFile(path: "-", content: try FileSystem.decodeUTF8(readStandardInput(), file: "-")))
                continue
            }
            loaded.append(ConfigFile(path: file, content: try FileSystem.readComposeFile(file)))
        }
        if let commandLineOverride { loaded.append(commandLineOverride) }
        return ConfigDetails(workingDirectory: workingDir(), files: loaded, environment: environment, warnings: warnings)
    }

    /// Reads env files in order; later files see and override earlier ones, and `base`
    /// (the process environment) is consulted for `${VAR}` first.
    static func readEnvFiles(_ paths: [String], base: [String: String], optional: Bool) throws(LoaderError)
        -> [String: String]
    {
        var out: [String: String] = [:]
        for path in paths {
            if optional && !FileSystem.isFile(path) { continue }
            if FileSystem.isDirectory(path) {
                throw LoaderError(.invalid, "\(path) is a directory")
            }
            let text: String
            do {
                text = try FileSystem.read(path)
            } catch {
                throw LoaderError(.notFound, "couldn't find env file: \(path)")
            }
            let known = out
            do {
                for entry in try Dotenv.parse(text, lookup: { known[$0] ?? base[$0] }) {
                    out[entry.key] = entry.value
                }
            } catch {
                throw LoaderError(.invalid, "failed to read \(path): \(error)")
            }
        }
        return out
    }
}
