// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOCI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", _superCommandName: "scompose", abstract: "Pull service images")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("ignore-pull-failures"), help: "Pull what it can and ignores images with pull failures")
    var ignorePullFailures = false

    @Flag(name: .customLong("include-deps"), help: "Also pull services declared as dependencies")
    var includeDeps = false

    @Option(name: .long, help: "Apply pull policy (\"missing\"|\"always\")")
    var policy: String?

    @Flag(name: [.short, .long], help: "Pull without printing progress information")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        if let policy, policy != "missing", policy != "always" { throw CLIError("invalid --policy \(policy): missing or always") }
        let loaded = try ProjectContext.load(global, services: services)
        let engine = ProjectContext.engine()
        var names = services.isEmpty ? loaded.project.serviceNames : services
        if includeDeps {
            names = try Reconciler.dependencyOrder(engine.desiredServices(loaded), targets: names, noDeps: false)
        }
        let store = try StateRoot.images()
        for name in names {
            guard let service = loaded.project.services[name], let image = service.image else { continue }
            // As Compose: services that build are not pulled, and `pull_policy: never|build` are left alone.
            if service.build != nil || service.pullPolicy == "never" || service.pullPolicy == "build" { continue }
            if (policy ?? "always") == "missing", try store.find(image, platform: service.platform.map(Pulling.parsePlatform)) != nil {
                continue
            }
            if !quiet { ProgressOutput.render(.image(service: name, text: "Pulling")) }
            do {
                _ = try Pulling.pull(try ImageReference(parsing: image), platform: service.platform, lines: false)
                if !quiet { ProgressOutput.render(.image(service: name, text: "Pulled")) }
            } catch {
                if !ignorePullFailures { throw error }
                Console.error(" \(name) Error \(ErrorWording.message(error))")
            }
        }
    }
}
