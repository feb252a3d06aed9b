// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", _superCommandName: "scompose", abstract: "Push service images")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("ignore-push-failures"), help: "Push what it can and ignores images with push failures")
    var ignorePushFailures = false

    @Flag(name: .customLong("include-deps"), help: "Also push images of services declared as dependencies")
    var includeDeps = false

    @Flag(name: [.short, .long], help: "Push without printing progress information")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let loaded = try ProjectContext.load(global, services: services)
        var names = services.isEmpty ? loaded.project.serviceNames : services
        if includeDeps {
            names = try Reconciler.dependencyOrder(ProjectContext.engine().desiredServices(loaded), targets: names, noDeps: false)
        }
        for name in names {
            guard let image = loaded.project.services[name]?.image else { continue }
            if !quiet { ProgressOutput.render(.image(service: name, text: "Pushing")) }
            do {
                try Pulling.push(image, quiet: true)
                if !quiet { ProgressOutput.render(.image(service: name, text: "Pushed")) }
            } catch {
                if !ignorePushFailures { throw error }
                Console.error(" \(name) Error \(ErrorWording.message(error))")
            }
        }
    }
}
