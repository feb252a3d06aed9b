// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

/// `scompose cp`: files and directories between a service container and the host.
struct Cp: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cp", _superCommandName: "scompose", 
        abstract: "Copy files/folders between a service container and the local filesystem",
        usage: "scompose cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH\n       scompose cp [OPTIONS] SRC_PATH SERVICE:DEST_PATH")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Include containers created by the run command")
    var all = false

    @Option(name: .long, help: "Index of the container if service has multiple replicas")
    var index: Int?

    @Flag(name: [.short, .long], help: "Archive mode (copy all uid/gid information)")
    var archive = false

    @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH")
    var followLink = false

    @Argument var source: String
    @Argument var destination: String

    func run() throws {
        try ProjectContext.guardRoot()
        let (from, to) = try CopyEndpoints.parse(source: source, destination: destination, neither: "one of source or destination must be a SERVICE:PATH")
        let service = (from ?? to)?.0 ?? ""
        let (engine, containers) = try ProjectContext.containers(global, services: [service])
        let candidates = containers.filter { index == nil || $0.record.number == index }
        guard let c = candidates.first(where: { $0.running }) ?? candidates.first else {
            throw CLIError("no container found for service \"\(service)\"")
        }
        do {
            if let (_, path) = from {
                try engine.copyOut(c, path: path, to: destination, archive: archive, followLink: followLink)
                Console.error(" \(c.record.name) copy \(path) to \(destination) Copied")
            } else if let (_, path) = to {
                try engine.copyIn(c, from: source, path: path, archive: archive, followLink: followLink)
                Console.error(" \(c.record.name) copy \(source) to \(c.record.name):\(path) Copied")
            }
        } catch let e as EngineError {
            throw CLIError(ErrorWording.message(e), code: e.exitCode)
        }
    }
}
