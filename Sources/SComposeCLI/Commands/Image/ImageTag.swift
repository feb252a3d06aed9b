// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct ImageTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")

    @Argument var source: String
    @Argument var target: String

    func run() throws {
        let store = try StateRoot.images()
        do {
            try store.tag(source, try ImageReference(parsing: target))
        } catch {
            throw CLIError("Error response from daemon: \(ErrorWording.message(error))")
        }
    }
}
