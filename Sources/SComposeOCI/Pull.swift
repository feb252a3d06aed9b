// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS
#if canImport(Glibc)
import Glibc
#endif

extension Platform {
    /// This machine's platform, as image indexes name them.
    public static var host: Platform {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch machine {
        case "x86_64": return Platform(architecture: "amd64", os: "linux")
        case "aarch64", "arm64": return Platform(architecture: "arm64", os: "linux", variant: "v8")
        case "armv7l": return Platform(architecture: "arm", os: "linux", variant: "v7")
        case "i686", "i386": return Platform(architecture: "386", os: "linux")
        default: return Platform(architecture: machine, os: "linux")
        }
    }

    /// `linux/amd64`, `linux/arm64/v8` (compose's `platform:` and `--platform`).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts.count <= 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        self.init(architecture: parts[1], os: parts[0], variant: parts.count == 3 ? parts[2] : nil)
    }

    public var description: String { "\(os)/\(architecture)" + (variant.map { "/" + $0 } ?? "") }
}

/// What a pull reports as it goes, for progress output.
public enum PullEvent: Sendable {
    /// The manifest is known: its layers, and which of them are already here.
    case resolved(manifest: Digest, layers: [Descriptor], present: Set<Digest>)
    /// Bytes of a blob received so far.
    case downloading(Digest, received: Int64, total: Int64)
    /// A blob verified and stored.
    case downloaded(Digest)
    /// Layers unpacked; the image is recorded. `digest` is what the reference resolved to at
    /// the registry (the index's, for a multi-platform image), as Docker reports it.
    case complete(ImageRecord, digest: Digest, newer: Bool)
}

/// One pull from a registry into the store: the manifest for a platform, then its config and
/// missing layers in parallel, each verified against its digest before it enters the store,
/// then unpacked. Nothing half-downloaded is ever stored; a failed pull leaves no name.
public struct Puller: Sendable {
    public let store: ImageStore
    public let client: RegistryClient
    public var platform = Platform.host
    /// Blobs fetched at once.
    public var parallel = 3

    static let manifestTypes = [
        MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest,
    ]

    public init(store: ImageStore, client: RegistryClient) {
        self.store = store
        self.client = client
    }

    /// Pulls `reference` (a tag, or a digest) and names the image after it.
    public func pull(_ reference: ImageReference, progress: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws(OCIError) -> ImageRecord {
        let (manifestBytes, manifestDigest, resolved) = try resolve(reference)
        let manifest = try store.decode(Manifest.self, manifestBytes, what: "manifest \(manifestDigest)")
        let blobs = [manifest.config] + manifest.layers
        let present = Set(blobs.filter { store.content.has($0.digest) }.map(\.digest))
        progress(.resolved(manifest: manifestDigest, layers: manifest.layers, present: present))
        let missing = blobs.filter { !present.contains($0.digest) }
        let repository = reference.path
        try? FS.mkdirs(store.content.root + "/ingest")
        store.content.sweepIngest()
        do {
            try Parallel.forEach(missing, limit: parallel) { blob in
                try self.fetch(blob, domain: reference.domain, repository: repository, progress: progress)
            }
        } catch let error as OCIError {
            throw error
        } catch {
            throw .network("\(error)")
        }
        _ = try store.content.ingest(manifestBytes, expected: manifestDigest)
        let config = try store.decode(ImageConfig.self, try store.content.read(manifest.config.digest), what: "image config")
        let chain = Digest.chainIDs(config.rootfs.diff_ids)
        guard chain.count == manifest.layers.count else {
            throw .invalid("image \(reference) has \(manifest.layers.count) layers but \(chain.count) diff IDs")
        }
        var size: Int64 = 0
        for (layer, chainID) in zip(manifest.layers, chain) {
            size += try store.ensureSnapshot(layer: layer.digest, chainID: chainID).size
        }
        let before = try store.find(reference.description, platform: platform)
        let record = try store.add(
            manifest: manifestDigest, config: manifest.config.digest, created: config.created ?? "", size: size,
            reference: reference.digest == nil ? reference : nil)
        progress(.complete(record, digest: resolved, newer: before?.manifest != manifestDigest))
        return record
    }

    /// The image manifest of `reference` for the platform, its bytes and digest, and the digest
    /// of what the reference names (an index, or that manifest).
    func resolve(_ reference: ImageReference) throws(OCIError) -> ([UInt8], Digest, Digest) {
        let tagOrDigest = reference.digest?.description ?? reference.tag ?? "latest"
        let (bytes, mediaType) = try manifest(reference, tagOrDigest)
        let digest = Digest(of: bytes)
        if let wanted = reference.digest, wanted != digest {
            throw .digestMismatch(expected: wanted, actual: digest)
        }
        guard mediaType == MediaType.ociIndex || mediaType == MediaType.dockerManifestList else { return (bytes, digest, digest) }
        // An index: the entry for our platform.
        guard let tree = try? JSONValue.parse(bytes), let entries = tree.value("manifests")?.arrayValue else {
            throw .invalid("invalid image index for \(reference)")
        }
        var candidates: [(Digest, String?)] = []
        for entry in entries {
            guard let p = entry.value("platform"), p.value("os")?.stringValue == platform.os,
                p.value("architecture")?.stringValue == platform.architecture,
                let text = entry.value("digest")?.stringValue, let d = Digest(text)
            else { continue }
            candidates.append((d, p.value("variant")?.stringValue))
        }
        // The exact variant, else one without a variant, else any.
        guard let chosen = candidates.first(where: { $0.1 == platform.variant }) ?? candidates.first(where: { $0.1 == nil }) ?? candidates.first
        else {
            throw .notFound("no matching manifest for \(platform.description) in the manifest list entries")
        }
        let (entryBytes, entryType) = try manifest(reference, chosen.0.description)
        let entryDigest = Digest(of: entryBytes)
        guard entryDigest == chosen.0 else { throw .digestMismatch(expected: chosen.0, actual: entryDigest) }
        guard entryType != MediaType.ociIndex && entryType != MediaType.dockerManifestList else {
            throw .invalid("nested image index in \(reference)")
        }
        return (entryBytes, entryDigest, digest)
    }

    /// GET of a manifest: its bytes and media type. Schema 1 is refused clearly.
    func manifest(_ reference: ImageReference, _ tagOrDigest: String) throws(OCIError) -> ([UInt8], String) {
        let response = try client.send(
            domain: reference.domain, repository: reference.path, path: "manifests/\(tagOrDigest)",
            headers: [("Accept", Self.manifestTypes.joined(separator: ", "))])
        try Self.check(response, what: "\(reference.familiarRepository):\(tagOrDigest)", reference: reference)
        let tree = try? JSONValue.parse(response.body)
        var mediaType = response.header("content-type").map { String($0.prefix { $0 != ";" }) } ?? ""
        if let declared = tree?.value("mediaType")?.stringValue { mediaType = declared }
        if tree?.value("schemaVersion")?.intValue == 1 || mediaType.contains("distribution.manifest.v1") {
            throw .invalid(
                "\(reference) uses image manifest schema 1, which is no longer supported: push it again with a current client")
        }
        if mediaType.isEmpty, tree?.value("manifests") != nil { mediaType = MediaType.ociIndex }
        if mediaType.isEmpty { mediaType = MediaType.ociManifest }
        guard Self.manifestTypes.contains(mediaType) else {
            throw .invalid("unsupported manifest media type \(mediaType) for \(reference)")
        }
        return (response.body, mediaType)
    }

    /// A blob into the content store, verified before it enters. A transfer that breaks is
    /// resumed where it stopped (`Range`), with the client's back-off; when the retries run
    /// out (or the process is killed), its bytes wait in `ingest/partial-<hex>` for the next
    /// pull of the blob, by this process or another. Any other failure keeps nothing.
    func fetch(_ blob: Descriptor, domain: String, repository: String, progress: @escaping @Sendable (PullEvent) -> Void) throws(OCIError) {
        // The transfer's callbacks run on this thread, one after the other.
        final class Download: @unchecked Sendable {
            var writer: ContentStore.Writer
            /// Bytes in `writer`.
            var received: Int64 = 0
            /// A resumed attempt's bytes, kept aside until its answer says where they start.
            var sideFile: Int32 = -1
            var sideCount: Int64 = 0
            init(_ writer: ContentStore.Writer) {
                self.writer = writer
                received = writer.resumedFrom
            }
        }
        let size = blob.size
        // Another process receiving the same blob holds its partial file: a private one then.
        let download: Download
        if let resumable = try ContentStore.Writer(store: store.content, resuming: blob.digest, size: size) {
            download = Download(resumable)
        } else {
            download = Download(try ContentStore.Writer(store: store.content))
        }
        var committed = false
        var keep = false
        defer {
            if !committed {
                if keep { download.writer.suspend() } else { download.writer.abort() }
            }
        }
        var failures = 0
        var restarted = false
        while true {
            let start = download.received
            if start > 0 { progress(.downloading(blob.digest, received: start, total: size)) }
            var sidePath = ""
            if start > 0, start < size {
                (download.sideFile, sidePath) = try store.content.scratchFile("resume")
                download.sideCount = 0
            }
            defer {
                if download.sideFile >= 0 {
                    close(download.sideFile)
                    unlink(sidePath)
                    download.sideFile = -1
                }
            }
            if start < size {
                let response: HTTPResponse
                do {
                    response = try client.send(
                        domain: domain, repository: repository, path: "blobs/\(blob.digest)",
                        headers: start > 0 ? [("Range", "bytes=\(start)-")] : []
                    ) { (chunk) throws(OCIError) in
                        if download.sideFile >= 0 {
                            download.sideCount += Int64(chunk.count)
                            if download.sideCount > size { throw .invalid("blob \(blob.digest) is larger than its \(size) bytes") }
                            try FS.writeAll(download.sideFile, Array(chunk), what: "resumed blob")
                            progress(.downloading(blob.digest, received: min(size, start + download.sideCount), total: size))
                        } else {
                            download.received += Int64(chunk.count)
                            if download.received > size { throw .invalid("blob \(blob.digest) is larger than its \(size) bytes") }
                            try download.writer.write(chunk)
                            progress(.downloading(blob.digest, received: download.received, total: size))
                        }
                    }
                } catch {
                    guard case .network = error else { throw error }
                    guard failures < client.backoff.count else {
                        keep = true
                        throw error
                    }
                    sleep(client.backoff[failures])
                    failures += 1
                    continue
                }
                try Self.check(response, what: "blob \(blob.digest)", reference: nil)
                if start > 0 {
                    if response.status == 206 {
                        // The rest, from where we stopped (as Content-Range must say).
                        let range = response.header("content-range") ?? ""
                        guard range.hasPrefix("bytes \(start)-") else {
                            throw .invalid("blob \(blob.digest): the registry resumed at \(range), not at byte \(start)")
                        }
                    } else {
                        // The registry ignored the range: what came is the whole blob again.
                        try download.writer.reset()
                        download.received = 0
                    }
                    try Self.append(file: download.sideFile, to: &download.writer)
                    download.received += download.sideCount
                }
            }
            guard download.received == size else {
                throw .network("blob \(blob.digest) ended after \(download.received) of its \(size) bytes")
            }
            do {
                _ = try download.writer.commit(expected: blob.digest)
            } catch {
                // Bytes kept from an earlier transfer may be what was wrong: once more from the start.
                guard case .digestMismatch = error, download.writer.resumedFrom > 0, !restarted else { throw error }
                try download.writer.reset()
                download.received = 0
                restarted = true
                continue
            }
            committed = true
            progress(.downloaded(blob.digest))
            return
        }
    }

    static func append(file fd: Int32, to writer: inout ContentStore.Writer) throws(OCIError) {
        try FS.forEachChunk(fd, what: "resumed blob") { (chunk) throws(OCIError) in try writer.write(chunk) }
    }

    /// Docker's words for a registry's refusals.
    static func check(_ response: HTTPResponse, what: String, reference: ImageReference?) throws(OCIError) {
        guard !(200..<300).contains(response.status) else { return }
        let detail = String(decoding: response.body.prefix(500), as: UTF8.self)
        switch response.status {
        case 401, 403:
            let name = reference?.familiarRepository ?? what
            throw .registry(
                status: response.status,
                "pull access denied for \(name), repository does not exist or may require 'docker login': \(detail)")
        case 404:
            throw .notFound("\(what): not found (manifest unknown)")
        case 429:
            throw .registry(status: 429, "toomanyrequests: the registry's rate limit was reached for \(what)")
        default:
            throw .registry(status: response.status, "\(what): registry answered \(response.status): \(detail)")
        }
    }
}

extension ImageStore {
    /// The version in the `User-Agent` of registry requests.
    public static let userAgentVersion = "0.1.0"
}
