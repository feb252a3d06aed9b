// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

/// The container of a service that `commit` and `export` act on (`--index`, the first by default).
extension ProjectContext {
    static func container(_ global: GlobalOptions, service: String, index: Int?) throws -> ContainerStatus {
        let (_, containers) = try ProjectContext.containers(global, services: [service])
        // Compose's default index is 0: the first container.
        let wanted = index.flatMap { $0 > 0 ? $0 : nil }
        guard let c = wanted.map({ i in containers.first { $0.record.number == i } }) ?? containers.first else {
            throw CLIError("service \"\(service)\" has no container\(index.map { " #\($0)" } ?? "")")
        }
        return c
    }
}

struct Commit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", _superCommandName: "scompose", abstract: "Create a new image from a service container's changes")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
    var author: String?

    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image")
    var change: [String] = []

    @Option(name: .long, help: "index of the container if service has multiple replicas.")
    var index: Int?

    @Option(name: [.short, .long], help: "Commit message")
    var message: String?

    // Long only: `-p` inside a verb names the project (as before it).
    @Option(name: .long, help: "Pause container during commit (true or false)")
    var pause = true

    @Argument var service: String

    @Argument(help: "REPOSITORY[:TAG]")
    var reference: String?

    func run() throws {
        try ProjectContext.guardRoot()
        let ref: ImageReference?
        do {
            ref = try reference.map(ImageReference.init(parsing:))
        } catch {
            throw CLIError("invalid reference format: \(error)")
        }
        let c = try ProjectContext.container(global, service: service, index: index)
        // Compose's progress lines, on standard error; nothing on standard output.
        Console.error(" \(c.record.name) Committing")
        let record = try ProjectContext.engine().commit(
            c, reference: ref, author: author, changes: change, message: message, pause: pause)
        Console.error(" \(c.record.name) Committed as \(record.id)")
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", _superCommandName: "scompose", abstract: "Export a service container's filesystem as a tar archive")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "index of the container if service has multiple replicas.")
    var index: Int?

    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT")
    var output: String?

    @Argument var service: String

    func run() throws {
        try ProjectContext.guardRoot()
        let c = try ProjectContext.container(global, service: service, index: index)
        var fd: Int32 = 1
        if let output {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError("open \(output): \(String(cString: strerror(errno)))") }
        } else if isatty(1) == 1 {
            throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        defer { if fd != 1 { close(fd) } }
        try ProjectContext.engine().export(c, to: fd)
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", _superCommandName: "scompose",
        abstract: "Watch build context for service and rebuild/refresh containers when files are updated")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("no-up"), help: "Do not build & start services before watching")
    var noUp = false

    @Option(name: .long, help: "Prune dangling images on rebuild (true or false)")
    var prune = true

    @Flag(name: .long, help: "hide build output")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let loaded = try ProjectContext.load(global, services: services)
        var engine = ProjectContext.engine()
        if quiet { engine.buildOutput = { _ in } }
        let prune = prune
        let watcher = try Watcher(engine: engine, loaded: loaded, services: services) { line in
            Console.error(line)
            // A rebuild leaves the image it replaced dangling: gone with --prune.
            if prune, line.hasSuffix("successfully built"), let store = try? StateRoot.images() {
                _ = try? store.prune(all: false, inUse: ImageUse.checker())
            }
        }
        if !noUp {
            var options = ReconcileOptions()
            options.targets = services
            options.build = .always
            try engine.up(loaded, options: options)
        }
        try watcher.run()
    }
}
