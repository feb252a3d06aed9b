// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", _superCommandName: "scompose", abstract: "Creates containers for a service")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("force-recreate"), help: "Recreate containers even if their configuration and image haven't changed")
    var forceRecreate = false

    @Flag(name: .customLong("no-recreate"), help: "If containers already exist, don't recreate them")
    var noRecreate = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    @Option(name: .long, help: "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
    var scale: [String] = []

    @Flag(name: .customLong("quiet-pull"), help: "Pull without printing progress information")
    var quietPull = false

    @Argument var services: [String] = []

    func validate() throws {
        if forceRecreate && noRecreate { throw CLIError.rejecting("--force-recreate and --no-recreate are incompatible") }
    }

    func run() throws {
        let project = try ProjectContext.load(global, services: services)
        var options = try ReconcileOptions(
            targets: services, forceRecreate: forceRecreate, noRecreate: noRecreate, alwaysRecreateDeps: false, scale: scale)
        options.removeOrphans = removeOrphans
        options.start = false
        _ = try ProjectContext.reconcile(project, options, global, ProjectContext.engine())
    }
}
