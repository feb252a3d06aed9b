// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", _superCommandName: "scompose", abstract: "Build or rebuild services")

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("build-arg"), help: "Set build-time variables for services")
    var buildArg: [String] = []

    @Flag(name: .customLong("no-cache"), help: "Do not use cache when building the image")
    var noCache = false

    @Flag(name: .long, help: "Always attempt to pull a newer version of the image")
    var pull = false

    @Flag(name: [.short, .long], help: "Don't print anything to STDOUT")
    var quiet = false

    @Flag(name: .customLong("with-dependencies"), help: "Also build dependencies (transitively)")
    var withDependencies = false

    @Option(name: .long, help: "Set SSH authentications used when building service images (use 'default' for your default SSH agent)")
    var ssh: [String] = []

    @Argument(help: "Services to build")
    var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let loaded = try ProjectContext.load(global, services: services)
        let engine = ProjectContext.engine()
        var names = services.isEmpty ? loaded.project.serviceNames : services
        for name in names where loaded.project.services[name] == nil { throw CLIError("no such service: \(name)") }
        if withDependencies {
            names = try Reconciler.dependencyOrder(engine.desiredServices(loaded), targets: names, noDeps: false)
        }
        var options = BuildOptions()
        options.noCache = noCache
        options.pull = pull
        options.quiet = quiet || global.progress == "quiet"
        options.ssh = ssh.flatMap { $0.split(separator: ",").map(String.init) }
        for entry in buildArg {
            // `--build-arg KEY` takes KEY from the environment, as Compose does.
            if let eq = entry.firstIndex(of: "=") {
                options.args[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
            } else if let value = Console.environment()[entry] {
                options.args[entry] = value
            }
        }
        try engine.build(loaded, services: names, options: options)
    }
}
