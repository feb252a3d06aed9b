// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeBridge
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// `scompose bridge …`: the project in another platform's terms.
struct BridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge", _superCommandName: "scompose",
        abstract: "Convert compose files into another model",
        subcommands: [BridgeConvert.self])
}

/// `scompose bridge convert`: Kubernetes manifests (with a kustomization) or a Helm chart.
struct BridgeConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert", abstract: "Convert compose files to Kubernetes manifests or a Helm chart")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "The output directory for the Kubernetes resources")
    var output: String = "out"

    @Option(name: .long, help: "Output format. Values: [kustomize | helm]")
    var format: String = "kustomize"

    @Option(name: .long, help: "Namespace of the objects (default: the project name)")
    var namespace: String?

    @Flag(name: .customLong("node-ports"), help: "Publish ports with NodePort Services instead of LoadBalancers")
    var nodePorts = false

    @Flag(name: .customLong("allow-host-paths"), help: "Convert bind mounts to hostPath volumes")
    var allowHostPaths = false

    @Option(name: .customLong("storage-class"), help: "Storage class of the volumes' claims")
    var storageClass: String?

    @Argument(help: "Services to convert (their profiles are enabled)")
    var services: [String] = []

    func validate() throws {
        if BridgeOptions.Format(rawValue: format) == nil {
            throw CLIError.rejecting("unsupported format \"\(format)\": use kustomize or helm")
        }
        if output.isEmpty { throw CLIError.rejecting("--output must name a directory") }
        if let namespace, namespace.isEmpty { throw CLIError.rejecting("--namespace must not be empty") }
        if let storageClass, storageClass.isEmpty { throw CLIError.rejecting("--storage-class must not be empty") }
    }

    func run() throws {
        let loaded = try ProjectContext.load(global, services: services, renderExtensions: true)
        var options = BridgeOptions()
        options.format = BridgeOptions.Format(rawValue: format) ?? .kustomize
        options.namespace = namespace
        options.nodePorts = nodePorts
        options.allowHostPaths = allowHostPaths
        options.storageClass = storageClass
        let input = try BridgeInput(loaded, readFile: { try? Files.read($0) })
        let result: BridgeResult
        do {
            result = try Bridge.convert(input, options: options)
        } catch {
            throw CLIError(error.message)
        }
        for warning in result.warnings { Console.warn(warning) }
        if global.dryRun {
            // Compose's global --dry-run: everything but the writes.
            Console.write(2, result.files.map { "DRY-RUN MODE - write \(output)/\($0.path)\n" }.joined())
            return
        }
        let directory = Self.absolute(output)
        try Self.write(result.files, into: directory)
        Console.error("Wrote \(result.files.count) files to \(output)")
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }

    /// Writes the files under `directory`, made if missing. Each path is checked to stay inside
    /// it. A file that already holds the same bytes is left alone: a re-run rewrites only what
    /// changed (and ext4 does not flush every replaced file at close).
    static func write(_ files: [BridgeFile], into directory: String) throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw CLIError("output \(directory) exists and is not a directory") }
        }
        var made: Set<String> = []
        for file in files {
            let parts = file.path.split(separator: "/", omittingEmptySubsequences: false)
            guard !file.path.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
                throw CLIError("refusing to write \(file.path) outside \(directory)")
            }
            let path = directory + "/" + file.path
            let parent = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
            if made.insert(parent).inserted {
                do { try Files.makeDirectories(parent) } catch { throw CLIError(String(describing: error)) }
            }
        }
        // The files are independent: written on every core, the first failure (in path order) said.
        let failures = Parallel.map(files) { file -> FileError? in
            let path = directory + "/" + file.path
            let bytes = Array(file.text.utf8)
            if Self.holds(path, bytes) { return nil }
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { return FileError("open \(path)", errno: errno) }
            defer { close(fd) }
            do throws(FileError) { try Files.writeAll(fd, bytes, what: path) } catch { return error }
            return nil
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw CLIError(String(describing: failure)) }
    }

    /// Whether the regular file at `path` (a link is not followed) holds exactly `bytes`; the
    /// size is compared first, so a changed file is rarely read.
    static func holds(_ path: String, _ bytes: [UInt8]) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) == bytes.count else { return false }
        return (try? Files.read(path)) == bytes
    }
}
