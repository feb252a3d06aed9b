// SPDX-License-Identifier: Apache-2.0
import CArchive
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// `image load` and `image save`: docker-archive (what `docker save` writes) and oci-archive,
/// gzip-compressed or not, several images per archive.
extension ImageStore {
    /// What `load` reports per image: `Loaded image: busybox:latest` or `Loaded image ID: sha256:…`.
    public struct Loaded: Sendable, Equatable {
        public var reference: String?
        public var id: Digest
    }

    /// Loads every image of an archive. Blobs are verified against their digests and layers
    /// against the config's diff IDs before any name is recorded; on error nothing is named.
    public func load(archive: String) throws(OCIError) -> [Loaded] {
        // Under the lock: concurrent loads of one archive serialize into one consistent image,
        // and a concurrent `rm` cannot collect blobs not yet named.
        try locked { () throws(OCIError) -> [Loaded] in try loadLocked(archive: archive) }
    }

    func loadLocked(archive: String) throws(OCIError) -> [Loaded] {
        let work = root + "/images/load-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { FS.removeTree(work) }
        var unpacker = LayerUnpacker()
        unpacker.preserveOwnership = false
        do {
            try unpacker.unpack(layer: archive, into: work)
        } catch {
            throw .invalid("invalid archive \(archive): \(error)")
        }
        if access(work + "/manifest.json", F_OK) == 0 {
            return try loadDockerArchive(work)
        }
        if access(work + "/index.json", F_OK) == 0 {
            return try loadOCILayout(work)
        }
        throw .invalid("invalid archive \(archive): neither manifest.json (docker-archive) nor index.json (oci-archive) found")
    }

    struct DockerArchiveEntry: Codable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    func loadDockerArchive(_ dir: String) throws(OCIError) -> [Loaded] {
        let entries = try decode([DockerArchiveEntry].self, try FS.read(dir + "/manifest.json"), what: "manifest.json")
        var pending: [(manifest: Digest, config: Digest, created: String, size: Int64, tags: [String])] = []
        for entry in entries {
            let configPath = try Self.inside(dir, entry.Config)
            let configBytes = try FS.read(configPath)
            let configDigest = try content.ingest(configBytes)
            let config = try decode(ImageConfig.self, configBytes, what: "image config \(entry.Config)")
            guard config.rootfs.diff_ids.count == entry.Layers.count else {
                throw .invalid("image \(entry.Config) lists \(entry.Layers.count) layers but \(config.rootfs.diff_ids.count) diff IDs")
            }
            var layers: [Descriptor] = []
            var size: Int64 = 0
            let chain = Digest.chainIDs(config.rootfs.diff_ids)
            for (i, layer) in entry.Layers.enumerated() {
                let path = try Self.inside(dir, layer)
                let (descriptor, snapshotSize) = try ingestLayer(path, diffID: config.rootfs.diff_ids[i], chainID: chain[i])
                layers.append(descriptor)
                size += snapshotSize
            }
            let manifest = Manifest(
                mediaType: MediaType.ociManifest,
                config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest, size: Int64(configBytes.count)),
                layers: layers)
            let manifestDigest = try content.ingest(try Self.encode(manifest))
            pending.append((manifestDigest, configDigest, config.created ?? Clock.rfc3339Now(), size, entry.RepoTags ?? []))
        }
        var loaded: [Loaded] = []
        for p in pending {
            if p.tags.isEmpty {
                try addLocked(manifest: p.manifest, config: p.config, created: p.created, size: p.size, reference: nil)
                loaded.append(Loaded(reference: nil, id: p.config))
            }
            for tag in p.tags {
                let ref: ImageReference
                do {
                    ref = try ImageReference(parsing: tag)
                } catch {
                    throw .invalid("\(error)")
                }
                try addLocked(manifest: p.manifest, config: p.config, created: p.created, size: p.size, reference: ref)
                loaded.append(Loaded(reference: ref.familiar, id: p.config))
            }
        }
        return loaded
    }

    func loadOCILayout(_ dir: String) throws(OCIError) -> [Loaded] {
        let index = try decode(ImageIndex.self, try FS.read(dir + "/index.json"), what: "index.json")
        func blob(_ d: Digest) throws(OCIError) -> String {
            let p = dir + "/blobs/sha256/" + d.hex
            guard access(p, F_OK) == 0 else { throw .notFound("blob \(d) missing from the archive") }
            return p
        }
        var loaded: [Loaded] = []
        var queue: [(Descriptor, String?)] = index.manifests.map {
            ($0, $0.annotations?["io.containerd.image.name"] ?? $0.annotations?["org.opencontainers.image.ref.name"])
        }
        while !queue.isEmpty {
            let (descriptor, name) = queue.removeFirst()
            let bytes = try FS.read(try blob(descriptor.digest))
            guard Digest(of: bytes) == descriptor.digest else {
                throw .digestMismatch(expected: descriptor.digest, actual: Digest(of: bytes))
            }
            if descriptor.mediaType == MediaType.ociIndex || descriptor.mediaType == MediaType.dockerManifestList {
                let nested = try decode(ImageIndex.self, bytes, what: "index \(descriptor.digest)")
                if let match = nested.manifests.first(where: { $0.platform?.matches(.host) ?? false }) ?? nested.manifests.first {
                    queue.append((match, name))
                }
                continue
            }
            let manifest = try decode(Manifest.self, bytes, what: "manifest \(descriptor.digest)")
            let configBytes = try FS.read(try blob(manifest.config.digest))
            try content.ingest(configBytes, expected: manifest.config.digest)
            let config = try decode(ImageConfig.self, configBytes, what: "image config \(manifest.config.digest)")
            guard config.rootfs.diff_ids.count == manifest.layers.count else {
                throw .invalid("manifest \(descriptor.digest) has \(manifest.layers.count) layers but \(config.rootfs.diff_ids.count) diff IDs")
            }
            let chain = Digest.chainIDs(config.rootfs.diff_ids)
            var size: Int64 = 0
            for (i, layer) in manifest.layers.enumerated() {
                let path = try blob(layer.digest)
                try content.ingest(file: path, expected: layer.digest)
                let diffID = try LayerUnpacker.diffID(of: content.path(layer.digest))
                guard diffID == config.rootfs.diff_ids[i] else {
                    throw .digestMismatch(expected: config.rootfs.diff_ids[i], actual: diffID)
                }
                size += try ensureSnapshot(layer: layer.digest, chainID: chain[i]).size
            }
            try content.ingest(bytes, expected: descriptor.digest)
            var reference: ImageReference?
            if let name {
                // skopeo writes only the tag in `ref.name`; such an image has no repository to go with it.
                reference = try? ImageReference(parsing: name)
                if name.allSatisfy({ $0 != "/" && $0 != ":" }) && !name.contains(".") { reference = nil }
            }
            try addLocked(
                manifest: descriptor.digest, config: manifest.config.digest,
                created: config.created ?? Clock.rfc3339Now(), size: size, reference: reference)
            loaded.append(Loaded(reference: reference?.familiar, id: manifest.config.digest))
        }
        return loaded
    }

    /// Stores a layer file, checks its diff ID, and unpacks it.
    func ingestLayer(_ path: String, diffID: Digest, chainID: Digest) throws(OCIError) -> (Descriptor, Int64) {
        let actual = try LayerUnpacker.diffID(of: path)
        guard actual == diffID else { throw .digestMismatch(expected: diffID, actual: actual) }
        let header = try FS.readPrefix(path, count: 4)
        let mediaType =
            header.starts(with: [0x1f, 0x8b])
            ? MediaType.ociLayerGzip
            : header.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) ? MediaType.ociLayerZstd : MediaType.ociLayer
        let digest = try content.ingest(file: path)
        let snapshot = try ensureSnapshot(layer: digest, chainID: chainID)
        return (Descriptor(mediaType: mediaType, digest: digest, size: content.size(digest) ?? 0), snapshot.size)
    }

    /// A path named inside an archive, refused when it would leave the archive's directory.
    static func inside(_ dir: String, _ name: String) throws(OCIError) -> String {
        let parts = try LayerUnpacker.clean(name)
        guard !parts.isEmpty else { throw .invalid("invalid path \(name) in archive") }
        return dir + "/" + parts.joined(separator: "/")
    }

    // MARK: - Save

    /// Archive formats `save` writes.
    public enum ArchiveFormat: String, Sendable {
        case docker, oci
    }

    /// Writes the images named by `references` to `output` (a tar), as `docker save` does, or
    /// as an OCI image layout.
    public func save(_ references: [String], to output: String, format: ArchiveFormat) throws(OCIError) {
        var images: [(ImageRecord, [String])] = []
        for text in references {
            guard let record = try find(text) else { throw .notFound("No such image: \(text)") }
            var tags: [String] = []
            if let ref = try? ImageReference(parsing: text), record.names.contains(ref.description) {
                tags = [ref.familiar]
            } else {
                tags = record.names.compactMap { try? ImageReference(parsing: $0).familiar }
            }
            if let i = images.firstIndex(where: { $0.0.manifest == record.manifest }) {
                images[i].1 += tags.filter { !images[i].1.contains($0) }
            } else {
                images.append((record, tags))
            }
        }
        let temp = output + ".partial-\(getpid())"
        var writer = try TarWriter(path: temp)
        do throws(OCIError) {
            switch format {
            case .docker: try writeDockerArchive(images, &writer)
            case .oci: try writeOCILayout(images, &writer)
            }
            try writer.finish()
        } catch {
            writer.abandon()
            unlink(temp)
            throw error
        }
        guard rename(temp, output) == 0 else {
            let err = errno
            unlink(temp)
            throw .io("rename \(output)", err)
        }
    }

    func writeDockerArchive(_ images: [(ImageRecord, [String])], _ writer: inout TarWriter) throws(OCIError) {
        var entries: [DockerArchiveEntry] = []
        var written = Set<String>()
        var repositories: [String: [String: String]] = [:]
        for (record, tags) in images {
            let manifest = try self.manifest(record)
            let config = try self.config(record)
            let configName = "blobs/sha256/\(record.id.hex)"
            if written.insert(configName).inserted {
                try writer.addFile(configName, from: content.path(record.id))
            }
            var layerNames: [String] = []
            for (layer, diffID) in zip(manifest.layers, config.rootfs.diff_ids) {
                // docker load wants uncompressed layers named by diff ID.
                let name = "blobs/sha256/\(diffID.hex)"
                layerNames.append(name)
                guard written.insert(name).inserted else { continue }
                if layer.mediaType == MediaType.ociLayer || layer.mediaType == MediaType.dockerLayer {
                    try writer.addFile(name, from: content.path(layer.digest))
                } else {
                    try writer.addDecompressed(name, from: content.path(layer.digest))
                }
            }
            entries.append(DockerArchiveEntry(Config: configName, RepoTags: tags, Layers: layerNames))
            for tag in tags {
                if let ref = try? ImageReference(parsing: tag), let t = ref.tag {
                    repositories[ref.familiarRepository, default: [:]][t] = record.id.hex
                }
            }
        }
        try writer.addBytes("manifest.json", try Self.encode(entries))
        try writer.addBytes("repositories", try Self.encode(repositories))
    }

    func writeOCILayout(_ images: [(ImageRecord, [String])], _ writer: inout TarWriter) throws(OCIError) {
        var written = Set<Digest>()
        var descriptors: [Descriptor] = []
        func blob(_ d: Digest) throws(OCIError) {
            guard written.insert(d).inserted else { return }
            try writer.addFile("blobs/sha256/\(d.hex)", from: content.path(d))
        }
        for (record, tags) in images {
            let manifest = try self.manifest(record)
            try blob(record.id)
            for layer in manifest.layers { try blob(layer.digest) }
            try blob(record.manifest)
            let base = Descriptor(
                mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: record.manifest,
                size: content.size(record.manifest) ?? 0)
            if tags.isEmpty { descriptors.append(base) }
            for tag in tags {
                var d = base
                d.annotations = [
                    "io.containerd.image.name": (try? ImageReference(parsing: tag).description) ?? tag,
                    "org.opencontainers.image.ref.name": (try? ImageReference(parsing: tag).tag) ?? "latest",
                ]
                descriptors.append(d)
            }
        }
        try writer.addBytes("oci-layout", Array("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
        try writer.addBytes(
            "index.json", try Self.encode(ImageIndex(mediaType: MediaType.ociIndex, manifests: descriptors)))
    }
}

/// Writes a tar file through libarchive.
struct TarWriter {
    let archive: OpaquePointer
    let path: String

    init(path: String) throws(OCIError) {
        guard let a = archive_write_new() else { throw .invalid("cannot create an archive writer") }
        archive_write_set_format_pax_restricted(a)
        guard archive_write_open_filename(a, path) == ARCHIVE_OK else {
            let message = archive_error_string(a).map { String(cString: $0) } ?? "error"
            archive_write_free(a)
            throw .invalid("cannot write \(path): \(message)")
        }
        archive = a
        self.path = path
    }

    func error() -> OCIError {
        .invalid("writing \(path): " + (archive_error_string(archive).map { String(cString: $0) } ?? "error"))
    }

    func header(_ name: String, size: Int64) throws(OCIError) {
        guard let entry = archive_entry_new() else { throw .invalid("cannot create an archive entry") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_size(entry, size)
        archive_entry_set_filetype(entry, 0o100000)  // AE_IFREG
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, 0, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw error() }
    }

    func data(_ bytes: UnsafeRawBufferPointer) throws(OCIError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard archive_write_data(archive, base, bytes.count) == bytes.count else { throw error() }
    }

    mutating func addBytes(_ name: String, _ bytes: [UInt8]) throws(OCIError) {
        try header(name, size: Int64(bytes.count))
        let result: OCIError? = bytes.withUnsafeBytes { raw in
            do throws(OCIError) {
                try data(raw)
                return nil
            } catch {
                return error
            }
        }
        if let result { throw result }
    }

    mutating func addFile(_ name: String, from source: String) throws(OCIError) {
        var st = stat()
        guard stat(source, &st) == 0 else { throw .io("stat \(source)", errno) }
        try header(name, size: Int64(st.st_size))
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(source)", errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw .io("read \(source)", errno) }
            if n == 0 { break }
            let failure: OCIError? = buffer.withUnsafeBytes { raw in
                do throws(OCIError) {
                    try data(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
        }
    }

    /// Adds a compressed blob uncompressed (the size must be known first, so it goes through a temporary file).
    mutating func addDecompressed(_ name: String, from source: String) throws(OCIError) {
        let temp = path + ".layer-\(getpid())"
        defer { unlink(temp) }
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("open \(temp)", errno) }
        do throws(OCIError) {
            try LayerUnpacker.decompressed(source) { (block: UnsafeRawBufferPointer) throws(OCIError) in
                try FS.writeAll(fd, Array(block), what: temp)
            }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        try addFile(name, from: temp)
    }

    mutating func finish() throws(OCIError) {
        defer { archive_write_free(archive) }
        guard archive_write_close(archive) == ARCHIVE_OK else { throw error() }
    }

    mutating func abandon() {
        archive_write_free(archive)
    }
}
