// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale", _superCommandName: "scompose", abstract: "Scale services")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("no-deps"), help: "Don't start linked services")
    var noDeps = false

    @Argument(help: "SERVICE=REPLICAS")
    var scales: [String] = []

    func run() throws {
        guard !scales.isEmpty else { throw CLIError("scale requires at least one SERVICE=REPLICAS argument") }
        let services = scales.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }
        let project = try ProjectContext.load(global, services: services)
        // Only the number of containers changes: existing ones are left as they are.
        var options = try ReconcileOptions(targets: services, forceRecreate: false, noRecreate: true, alwaysRecreateDeps: false, scale: scales)
        options.noDeps = noDeps
        _ = try ProjectContext.reconcile(project, options, global, ProjectContext.engine())
    }
}
