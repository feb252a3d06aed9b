// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader

#if canImport(Glibc)
import Glibc
#endif

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", _superCommandName: "scompose", abstract: "Stop and remove containers, networks")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Specify a shutdown timeout in seconds")
    var timeout: Int?

    @Flag(name: [.short, .long], help: "Remove named volumes declared in the volumes section of the Compose file")
    var volumes = false

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    func run() throws {
        try ProjectContext.guardRoot()
        let project = try ProjectContext.load(global).project
        let engine = ProjectContext.engine()
        let lock = try engine.lockProject(project.name)
        defer { _ = lock }
        engine.removeStaleStaging()
        let all = engine.containers(project: project.name)
        // Containers of services the file no longer has (in any profile) are orphans: left,
        // with a warning, unless --remove-orphans.
        var everyProfile = global.projectOptions()
        everyProfile.profiles = ["*"]
        let known = Set(((try? Loader.load(everyProfile))?.project.serviceNames ?? []) + project.serviceNames)
        let orphans = all.filter { !known.contains($0.record.service) }
        let containers = removeOrphans ? all : all.filter { known.contains($0.record.service) }
        if !orphans.isEmpty && !removeOrphans {
            Console.warn(
                "Found orphan containers ([\(orphans.map(\.record.name).joined(separator: " "))]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.")
        }
        try engine.stopReporting(containers, timeout: timeout)
        for c in containers {
            ProgressOutput.render(.resource(.container, c.record.name, "Removing"))
            try engine.remove(c)
            ProgressOutput.render(.resource(.container, c.record.name, "Removed"))
        }
        try engine.removeProjectNetworks(project)
        if volumes {
            // Named volumes of the project (not external ones), and the containers' anonymous ones.
            engine.removeAnonymousVolumes(of: containers)
            try engine.removeProjectVolumes(project)
        }
        RootlessEntry.release(engine)
    }
}
