// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `scompose volume …`: the volumes of every project, as `docker volume` shows them.
struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", _superCommandName: "scompose", abstract: "Manage volumes",
        subcommands: [VolumeList.self, VolumeInspect.self, VolumeCreate.self, VolumeRemove.self, VolumePrune.self])

    static func store() -> VolumeStore { VolumeStore(stateRoot: StateRoot.path) }

    static func json(_ v: VolumeRecord, store: VolumeStore) -> JSONValue {
        .object([
            ("CreatedAt", .string(v.createdAt)), ("Driver", .string(v.driver)),
            ("Labels", v.labels.isEmpty ? .null : .object(v.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("Mountpoint", .string(store.dataPath(v.name))), ("Name", .string(v.name)),
            ("Options", v.options.isEmpty ? .null : .object(v.options.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("Scope", .string("local")),
        ])
    }
}
