// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

struct ImageHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image")

    @Flag(name: [.short, .long], help: "Only show image IDs")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output")
    var noTrunc = false

    @Argument var image: String

    func run() throws {
        let store = try StateRoot.images()
        guard let record = try store.find(image) else { throw CLIError("Error response from daemon: No such image: \(image)") }
        let config = try store.config(record)
        let manifest = try store.manifest(record)
        let now = Int(time(nil))
        var layerSizes = manifest.layers.map { _ in Int64(0) }
        let chain = Digest.chainIDs(config.rootfs.diff_ids)
        for (i, id) in chain.enumerated() {
            let sizeFile = store.snapshotsRoot + "/" + id.hex + ".size"
            if let text = try? String(decoding: FileSystem.readBytes(sizeFile), as: UTF8.self), let v = Int64(text) {
                layerSizes[i] = v
            }
        }
        var layerIndex = layerSizes.count - 1
        var rows: [[String]] = []
        for (i, h) in (config.history ?? []).enumerated().reversed() {
            var size: Int64 = 0
            if h.empty_layer != true && layerIndex >= 0 {
                size = layerSizes[layerIndex]
                layerIndex -= 1
            }
            let id = i == (config.history?.count ?? 0) - 1 ? (noTrunc ? record.id.description : record.id.short) : "<missing>"
            if quiet {
                rows.append([id])
                continue
            }
            var createdBy = h.created_by ?? ""
            if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            let created = h.created.flatMap(Clock.parseRFC3339).map { Human.since(now - $0) } ?? "N/A"
            rows.append([id, created, createdBy, Human.size(size), h.comment ?? ""])
        }
        if quiet {
            for r in rows { Console.out(r[0] + "\n") }
            return
        }
        Console.out(Table.render(header: ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows: rows))
    }
}
