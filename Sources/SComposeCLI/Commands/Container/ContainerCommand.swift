// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

/// `scompose container …`: single containers without a compose file, with `docker`'s verbs,
/// flags, output and exit codes. A project's containers are listed and reachable here too.
struct ContainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", _superCommandName: "scompose", abstract: "Manage containers",
        subcommands: [
            ContainerRun.self, ContainerCreate.self, ContainerStart.self, ContainerStop.self, ContainerRestart.self,
            ContainerKill.self, ContainerRemove.self, ContainerList.self, ContainerLogs.self, ContainerExec.self,
            ContainerInspect.self, ContainerTop.self, ContainerPort.self, ContainerCopy.self, ContainerStatsCommand.self,
            ContainerWait.self, ContainerPause.self, ContainerUnpause.self, ContainerRename.self, ContainerPrune.self,
            ContainerAttach.self, ContainerCommit.self, ContainerExport.self,
        ])
}
