// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

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
        let watcher = try Watcher(engine: engine, loaded: loaded, services: services) { event in
            WatchOutput.say(event)
            // A rebuild leaves the image it replaced dangling: gone with --prune.
            if case .built = event, prune, let store = try? StateRoot.images() {
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
