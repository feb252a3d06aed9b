// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `scompose image …`: the local image store, with `docker image`'s verbs and output.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", _superCommandName: "scompose", abstract: "Manage images",
        subcommands: [
            ImageBuild.self, ImageImport.self, ImageLoad.self, ImageSave.self, ImageList.self, ImageInspect.self, ImageTag.self,
            ImageRemove.self, ImageHistory.self, ImagePrune.self, ImagePull.self, ImagePush.self,
        ])
}
