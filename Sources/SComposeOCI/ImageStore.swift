// SPDX-License-Identifier: Apache-2.0
import CLinux
import FoundationEssentials
@_exported import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// One image known to the store: a manifest and the names pointing at it.
public struct ImageRecord: Sendable, Codable, Equatable {
    /// The manifest's digest.
    public var manifest: Digest
    /// The config's digest: the image ID Docker shows.
    public var id: Digest
    /// Normalized references (`docker.io/library/busybox:latest`); empty for a dangling image.
    public var names: [String]
    /// When the image was created (RFC 3339).
    public var created: String
    /// Unpacked size of the layers in bytes.
    public var size: Int64
    /// The platform its config names (`linux/arm64/v8`): a name is held by one image per
    /// platform. Nil in indexes written before platforms were recorded (the config says).
    public var platform: String?
}

/// The local image store under `$SCOMPOSE_ROOT`: blobs in the content store, the index of
/// names in `images/index.json`, and unpacked layers in `snapshots/<chainID>`.
public struct ImageStore: Sendable {
    public let root: String
    public let content: ContentStore
    var indexPath: String { root + "/images/index.json" }
    var lockPath: String { root + "/images/lock" }
    /// `snapshots/`.
    public var snapshotsRoot: String { root + "/snapshots" }

    /// Opens (creating) a store at `root`.
    public init(root: String) throws(OCIError) {
        self.root = root
        content = try ContentStore(root: root + "/content")
        try FS.mkdirs(root + "/images")
        try FS.mkdirs(root + "/snapshots")
    }

    // MARK: - Index

    struct Index: Codable {
        var images: [ImageRecord] = []
    }

    func readIndex() throws(OCIError) -> Index {
        guard access(indexPath, F_OK) == 0 else { return Index() }
        let bytes = try FS.read(indexPath)
        // The state codec (no Foundation decoder to set up): every `up` and `ps` reads it.
        do {
            return try StateJSONDecoder().decode(Index.self, from: bytes)
        } catch {
            throw .invalid("corrupt image index \(indexPath): \(error)")
        }
    }

    func writeIndex(_ index: Index) throws(OCIError) {
        do {
            try FS.writeAtomically(indexPath, try StateJSONEncoder().encode(index))
        } catch let error as OCIError {
            throw error
        } catch {
            throw .invalid("cannot encode the image index: \(error)")
        }
    }

    /// Runs `body` holding the store's lock, so concurrent commands see one consistent index.
    func locked<T>(_ body: () throws(OCIError) -> T) throws(OCIError) -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("open \(lockPath)", errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw .io("lock \(lockPath)", errno) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Every image, newest first.
    public func list() throws(OCIError) -> [ImageRecord] {
        try readIndex().images.sorted { $0.created > $1.created }
    }

    /// Finds an image by reference (`busybox`, `busybox:1`), full or short ID, or manifest digest.
    /// A name held for several platforms gives the image of `platform`; without one, the
    /// host's (else the first). With a `platform`, an image of another platform is not found.
    public func find(_ text: String, platform: Platform? = nil) throws(OCIError) -> ImageRecord? {
        try find(text, platform: platform, in: try readIndex().images)
    }

    func find(_ text: String, platform: Platform?, in images: [ImageRecord]) throws(OCIError) -> ImageRecord? {
        if let ref = try? ImageReference(parsing: text) {
            if let digest = ref.digest, let hit = images.first(where: { $0.manifest == digest }) {
                return accept(hit, platform)
            }
            let named = images.filter { $0.names.contains(ref.description) }
            if named.count == 1, platform == nil { return named[0] }
            if !named.isEmpty {
                let wanted = platform ?? .host
                if let hit = named.first(where: { self.platform(of: $0).matches(wanted) }) { return hit }
                return platform == nil ? named[0] : nil
            }
        }
        var hex = text
        if hex.hasPrefix("sha256:") { hex = String(hex.dropFirst(7)) }
        if hex.count >= 4, hex.allSatisfy(\.isHexDigit) {
            let hits = images.filter { $0.id.hex.hasPrefix(hex) || $0.manifest.hex.hasPrefix(hex) }
            if hits.count == 1 { return accept(hits[0], platform) }
            if hits.count > 1 { throw .conflict("image ID \(text) is ambiguous") }
        }
        return nil
    }

    private func accept(_ record: ImageRecord, _ platform: Platform?) -> ImageRecord? {
        guard let platform else { return record }
        return self.platform(of: record).matches(platform) ? record : nil
    }

    /// The images a name is held by (one per platform), or the one image an ID names.
    public func images(named text: String) throws(OCIError) -> [ImageRecord] {
        try images(named: text, in: try readIndex().images)
    }

    func images(named text: String, in images: [ImageRecord]) throws(OCIError) -> [ImageRecord] {
        if let ref = try? ImageReference(parsing: text), ref.digest == nil {
            let named = images.filter { $0.names.contains(ref.description) }
            if !named.isEmpty { return named.sorted { platform(of: $0).description < platform(of: $1).description } }
        }
        return try find(text, platform: nil, in: images).map { [$0] } ?? []
    }

    /// An image's platform: recorded, else read from its config, else the host's.
    public func platform(of record: ImageRecord) -> Platform {
        if let text = record.platform, let p = Platform(parsing: text) { return p }
        return platform(config: record.id) ?? .host
    }

    func platform(config digest: Digest) -> Platform? {
        guard let bytes = try? content.read(digest), let config = try? decode(ImageConfig.self, bytes, what: "config")
        else { return nil }
        return Platform(architecture: config.architecture, os: config.os, variant: config.variant)
    }

    /// The manifest of an image.
    public func manifest(_ record: ImageRecord) throws(OCIError) -> Manifest {
        try decode(Manifest.self, try content.read(record.manifest), what: "manifest \(record.manifest)")
    }

    /// The config of an image.
    public func config(_ record: ImageRecord) throws(OCIError) -> ImageConfig {
        try decode(ImageConfig.self, try content.read(record.id), what: "image config \(record.id)")
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(OCIError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .invalid("invalid \(what): \(error)")
        }
    }

    /// JSON with sorted keys, as every stored document is written.
    public static func encode<T: Encodable>(_ value: T) throws(OCIError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .invalid("cannot encode: \(error)")
        }
    }

    // MARK: - Adding images

    /// Records a manifest (whose config and layers are already stored) under `reference`,
    /// moving the name from the image of the same platform that had it.
    @discardableResult
    public func add(manifest: Digest, config: Digest, created: String, size: Int64, reference: ImageReference?)
        throws(OCIError) -> ImageRecord
    {
        try locked { () throws(OCIError) -> ImageRecord in
            try addLocked(manifest: manifest, config: config, created: created, size: size, reference: reference)
        }
    }

    /// `add` for callers already holding the lock.
    @discardableResult
    func addLocked(manifest: Digest, config: Digest, created: String, size: Int64, reference: ImageReference?)
        throws(OCIError) -> ImageRecord
    {
        var index = try readIndex()
        let name = reference?.description
        let platform = self.platform(config: config) ?? .host
        // Indexes written before platforms were recorded learn them here, once.
        for i in index.images.indices where index.images[i].platform == nil {
            index.images[i].platform = self.platform(of: index.images[i]).description
        }
        if let name {
            // A name moves from the image of the same platform; other platforms keep it.
            for i in index.images.indices where self.platform(of: index.images[i]).matches(platform) {
                index.images[i].names.removeAll { $0 == name }
            }
        }
        // One record per image ID, as Docker keys its images: the same config reached
        // through another manifest (compressed layers, another archive) is the same image.
        if let i = index.images.firstIndex(where: { $0.manifest == manifest || $0.id == config }) {
            if let name, !index.images[i].names.contains(name) { index.images[i].names.append(name) }
        } else {
            index.images.append(
                ImageRecord(
                    manifest: manifest, id: config, names: name.map { [$0] } ?? [], created: created, size: size,
                    platform: platform.description))
        }
        // An image left without names by a move stays, dangling, as Docker keeps it.
        try writeIndex(index)
        guard let record = index.images.first(where: { $0.manifest == manifest || $0.id == config }) else {
            throw OCIError.notFound("image \(manifest) vanished")
        }
        return record
    }

    /// `docker import`: a root file system tarball (plain, gzip or zstd) becomes a one-layer image.
    public func importRootfs(
        file: String, reference: ImageReference?, changes: ImageChanges, message: String?, source: String,
        platform: Platform = .host
    ) throws(OCIError) -> ImageRecord {
        // Under the lock: a concurrent `rm` must not collect blobs not yet named.
        try locked { () throws(OCIError) -> ImageRecord in
            try importRootfsLocked(
                file: file, reference: reference, changes: changes, message: message, source: source, platform: platform)
        }
    }

    func importRootfsLocked(
        file: String, reference: ImageReference?, changes: ImageChanges, message: String?, source: String,
        platform: Platform
    ) throws(OCIError) -> ImageRecord {
        let diffID = try LayerUnpacker.diffID(of: file)
        let header = try FS.readPrefix(file, count: 4)
        let mediaType: String
        if header.starts(with: [0x1f, 0x8b]) {
            mediaType = MediaType.ociLayerGzip
        } else if header.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) {
            mediaType = MediaType.ociLayerZstd
        } else {
            mediaType = MediaType.ociLayer
        }
        let layerDigest = try content.ingest(file: file)
        let layerSize = content.size(layerDigest) ?? 0
        let snapshot = try ensureSnapshot(layer: layerDigest, chainID: diffID)
        let created = Clock.rfc3339Now()
        var config = ImageConfig(architecture: platform.architecture, os: platform.os, rootfs: .init(diffIDs: [diffID]))
        config.variant = platform.variant
        config.created = created
        var defaults = ImageConfig.ContainerDefaults()
        try changes.apply(to: &defaults)
        config.config = defaults
        config.history = [
            ImageConfig.History(created: created, createdBy: "Imported from \(source)", comment: message)
        ]
        let configBytes = try Self.encode(config)
        let configDigest = try content.ingest(configBytes)
        let manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
            layers: [Descriptor(mediaType: mediaType, digest: layerDigest, size: layerSize)])
        let manifestDigest = try content.ingest(try Self.encode(manifest))
        return try addLocked(
            manifest: manifestDigest, config: configDigest, created: created, size: snapshot.size, reference: reference)
    }

    /// An unpacked layer.
    public struct Snapshot: Sendable {
        public var path: String
        public var size: Int64
    }

    /// Unpacks a layer blob as `snapshots/<chainID>` unless it is already there. The
    /// layer's own content only (overlayfs stacks the chain), so the directory name is
    /// the chain ID and the content is the diff.
    @discardableResult
    public func ensureSnapshot(layer: Digest, chainID: Digest) throws(OCIError) -> Snapshot {
        let path = snapshotsRoot + "/" + chainID.hex
        let sizeFile = path + ".size"
        if access(path, F_OK) == 0 {
            let size = (try? FS.read(sizeFile)).flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
            return Snapshot(path: path, size: size)
        }
        let size = try LayerUnpacker().unpack(layer: content.path(layer), into: path)
        try FS.writeAtomically(sizeFile, Array(String(size).utf8))
        return Snapshot(path: path, size: size)
    }

    /// Makes `directory` (the layer's content, in snapshot form) the snapshot of `chainID`,
    /// moving it; when that snapshot exists already, `directory` is removed.
    public func adoptSnapshot(directory: String, chainID: Digest, size: Int64) throws(OCIError) -> String {
        let path = snapshotsRoot + "/" + chainID.hex
        if access(path, F_OK) != 0 {
            try FS.writeAtomically(path + ".size", Array(String(size).utf8))
            if rename(directory, path) == 0 { return path }
            guard errno == EEXIST || errno == ENOTEMPTY else { throw .io("rename \(directory)", errno) }
        }
        FS.removeTree(directory)
        return path
    }

    /// The snapshot directories of an image, lowest layer first, unpacking missing ones.
    public func snapshots(_ record: ImageRecord) throws(OCIError) -> [String] {
        let manifest = try manifest(record)
        let config = try config(record)
        let chain = Digest.chainIDs(config.rootfs.diff_ids)
        guard chain.count == manifest.layers.count else {
            throw .invalid("image \(record.id.short) has \(manifest.layers.count) layers but \(chain.count) diff IDs")
        }
        var out: [String] = []
        for (layer, chainID) in zip(manifest.layers, chain) {
            out.append(try ensureSnapshot(layer: layer.digest, chainID: chainID).path)
        }
        return out
    }

    // MARK: - Names and removal

    /// Adds the name `target` to the image `source` names (to each of its platforms' images
    /// when `source` is a name held for several).
    public func tag(_ source: String, _ target: ImageReference) throws(OCIError) {
        let records = try images(named: source)
        guard !records.isEmpty else { throw .notFound("No such image: \(source)") }
        try locked { () throws(OCIError) in
            for record in records {
                try addLocked(manifest: record.manifest, config: record.id, created: record.created, size: record.size, reference: target)
            }
        }
    }

    /// `docker rmi`: removes a name, and the image with its unreferenced blobs and snapshots
    /// once it has no name left (or at once with `force`). A name held for several platforms
    /// goes from each of their images. Returns Docker's report lines.
    public func remove(_ text: String, force: Bool, inUse: (ImageRecord) -> Bool) throws(OCIError) -> [String] {
        try locked { () throws(OCIError) -> [String] in
            var index = try readIndex()
            let records = try images(named: text, in: index.images)
            guard !records.isEmpty else { throw .notFound("No such image: \(text)") }
            let ref = try? ImageReference(parsing: text)
            // Refused before anything changes, so a refusal leaves every platform's image as it was.
            for record in records where inUse(record) && !force {
                let onlyUntag = ref.map { record.names.contains($0.description) && record.names.count > 1 } ?? false
                if !onlyUntag {
                    throw .conflict(
                        "conflict: unable to remove repository reference \"\(text)\" (must force) - image is being used by a container")
                }
            }
            var untagged: [String] = []
            var deleted: [String] = []
            for record in records {
                guard let i = index.images.firstIndex(where: { $0.manifest == record.manifest }) else { continue }
                let byName = ref.map { record.names.contains($0.description) } ?? false
                if byName && record.names.count > 1 && !force, let ref {
                    index.images[i].names.removeAll { $0 == ref.description }
                    untagged.append("Untagged: \(ref.familiar)")
                    continue
                }
                for name in record.names {
                    if let r = try? ImageReference(parsing: name) { untagged.append("Untagged: \(r.familiar)") }
                }
                index.images.remove(at: i)
                deleted.append("Deleted: \(record.id)")
            }
            try writeIndex(index)
            if !deleted.isEmpty { try collectGarbage(index) }
            var lines: [String] = []
            for line in untagged where !lines.contains(line) { lines.append(line) }
            return lines + deleted
        }
    }

    /// Removes blobs and snapshots no remaining image refers to.
    func collectGarbage(_ index: Index) throws(OCIError) {
        var blobs = Set<Digest>()
        var snapshots = Set<String>()
        for record in index.images {
            blobs.insert(record.manifest)
            blobs.insert(record.id)
            if let m = try? manifest(record) { for l in m.layers { blobs.insert(l.digest) } }
            if let c = try? config(record) { for id in Digest.chainIDs(c.rootfs.diff_ids) { snapshots.insert(id.hex) } }
        }
        for blob in content.list() where !blobs.contains(blob) { content.delete(blob) }
        for name in FS.list(snapshotsRoot) where !name.contains(".partial-") && !name.contains(".tmp-") {
            let base = name.hasSuffix(".size") ? String(name.dropLast(5)) : name
            if !snapshots.contains(base) { FS.removeTree(snapshotsRoot + "/" + name) }
        }
    }

    /// `docker image prune`: removes dangling images (all unused ones with `all`).
    public func prune(all: Bool, inUse: (ImageRecord) -> Bool) throws(OCIError) -> (lines: [String], reclaimed: Int64) {
        try locked { () throws(OCIError) -> (lines: [String], reclaimed: Int64) in
            var index = try readIndex()
            var lines: [String] = []
            var reclaimed: Int64 = 0
            index.images.removeAll { record in
                guard !inUse(record), record.names.isEmpty || all else { return false }
                reclaimed += record.size
                for name in record.names {
                    if let r = try? ImageReference(parsing: name) { lines.append("untagged: \(r.familiar)") }
                }
                lines.append("deleted: \(record.id)")
                return true
            }
            try writeIndex(index)
            try collectGarbage(index)
            return (lines, reclaimed)
        }
    }
}

extension FS {
    static func readPrefix(_ path: String, count: Int) throws(OCIError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(path)", errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }
}
