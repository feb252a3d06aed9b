// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

struct ContainerCopy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files/folders between a container and the local filesystem",
        usage: "scompose container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH\n       scompose container cp [OPTIONS] SRC_PATH CONTAINER:DEST_PATH")

    @Flag(name: [.short, .long], help: "Archive mode (copy all uid/gid information)")
    var archive = false

    @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH")
    var followLink = false

    @Argument var source: String
    @Argument var destination: String

    func run() throws {
        try ProjectContext.guardRoot()
        let (from, to) = try CopyEndpoints.parse(source: source, destination: destination, neither: "must specify at least one container source")
        let engine = ContainerContext.engine()
        if let (reference, path) = from {
            try engine.copyOut(try engine.container(reference: reference), path: path, to: destination, archive: archive, followLink: followLink)
        } else if let (reference, path) = to {
            try engine.copyIn(try engine.container(reference: reference), from: source, path: path, archive: archive, followLink: followLink)
        }
    }
}
