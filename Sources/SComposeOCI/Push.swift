// SPDX-License-Identifier: Apache-2.0
import SComposeOS

/// What a push reports as it goes.
public enum PushEvent: Sendable {
    /// The registry has the blob already (or mounted it from another repository).
    case exists(Digest)
    case pushed(Digest)
    /// The manifest (or, for several platforms, the index) is in place under the tag.
    case complete(tag: String, digest: Digest, size: Int)
}

/// One push of a stored image to a registry: blobs the registry lacks (mounted from another
/// repository of the same registry when one of our images came from there, else uploaded in
/// one `PUT` streamed from the store), then the manifest under the tag. A name held for
/// several platforms goes up as each platform's manifest and an index of them under the tag.
public struct Pusher: Sendable {
    public let store: ImageStore
    public let client: RegistryClient
    public var parallel = 3
    /// Only this platform's image of a multi-platform name (`docker push --platform`).
    public var platform: Platform?

    public init(store: ImageStore, client: RegistryClient) {
        self.store = store
        self.client = client
    }

    /// Pushes the image named `reference` (it must be in the store) to where it names.
    public func push(_ reference: ImageReference, progress: @escaping @Sendable (PushEvent) -> Void = { _ in }) throws(OCIError) {
        var records = try store.images(named: reference.description)
        guard !records.isEmpty else {
            throw .notFound("An image does not exist locally with the tag: \(reference.familiar)")
        }
        if let platform {
            records = records.filter { store.platform(of: $0).matches(platform) }
            guard !records.isEmpty else {
                throw .notFound("image with reference \(reference.familiar) was found but does not provide the specified platform (\(platform.description))")
            }
        }
        var manifests: [(record: ImageRecord, bytes: [UInt8], manifest: Manifest)] = []
        for record in records {
            let bytes = try store.content.read(record.manifest)
            manifests.append((record, bytes, try store.decode(Manifest.self, bytes, what: "manifest \(record.manifest)")))
        }
        // Other repositories of this registry that hold our images: blobs can be mounted from there.
        let siblings = try store.list().flatMap(\.names).compactMap { try? ImageReference(parsing: $0) }
            .filter { $0.domain == reference.domain && $0.path != reference.path }.map(\.path)
        var unique: [Descriptor] = []
        for m in manifests {
            for blob in [m.manifest.config] + m.manifest.layers where !unique.contains(where: { $0.digest == blob.digest }) {
                unique.append(blob)
            }
        }
        let blobs = unique
        // Docker's lines name the layers; configs go up silently.
        let configs = Set(manifests.map(\.manifest.config.digest))
        let report: @Sendable (PushEvent) -> Void = { event in
            switch event {
            case .exists(let d), .pushed(let d):
                if !configs.contains(d) { progress(event) }
            case .complete:
                progress(event)
            }
        }
        do {
            try Parallel.forEach(blobs, limit: parallel) { blob in
                try self.pushBlob(blob, to: reference, mountFrom: siblings.first, progress: report)
            }
        } catch let error as OCIError {
            throw error
        } catch {
            throw .network("\(error)")
        }
        let tag = reference.tag ?? "latest"
        guard manifests.count > 1 else {
            let m = manifests[0]
            try putManifest(m.bytes, mediaType: m.manifest.mediaType ?? MediaType.ociManifest, as: tag, of: reference)
            progress(.complete(tag: tag, digest: m.record.manifest, size: m.bytes.count))
            return
        }
        // Each platform's manifest by its digest, then the index naming them under the tag:
        // a Docker manifest list when every manifest is Docker's, an OCI index otherwise.
        var entries: [Descriptor] = []
        for m in manifests {
            let mediaType = m.manifest.mediaType ?? MediaType.ociManifest
            try putManifest(m.bytes, mediaType: mediaType, as: m.record.manifest.description, of: reference)
            var entry = Descriptor(mediaType: mediaType, digest: m.record.manifest, size: Int64(m.bytes.count))
            entry.platform = store.platform(of: m.record)
            entries.append(entry)
        }
        let indexType = entries.allSatisfy { $0.mediaType == MediaType.dockerManifest } ? MediaType.dockerManifestList : MediaType.ociIndex
        let index = try ImageStore.encode(ImageIndex(mediaType: indexType, manifests: entries))
        try putManifest(index, mediaType: indexType, as: tag, of: reference)
        progress(.complete(tag: tag, digest: Digest(of: index), size: index.count))
    }

    func putManifest(_ bytes: [UInt8], mediaType: String, as tagOrDigest: String, of reference: ImageReference) throws(OCIError) {
        let response = try client.send(
            domain: reference.domain, repository: reference.path, method: "PUT", path: "manifests/\(tagOrDigest)",
            headers: [("Content-Type", mediaType)], body: bytes, push: true)
        try Self.check(response, what: "manifest of \(reference)")
    }

    func pushBlob(_ blob: Descriptor, to reference: ImageReference, mountFrom: String?, progress: @Sendable (PushEvent) -> Void) throws(OCIError) {
        let domain = reference.domain
        let repository = reference.path
        let head = try client.send(domain: domain, repository: repository, method: "HEAD", path: "blobs/\(blob.digest)", push: true)
        if head.status == 200 {
            progress(.exists(blob.digest))
            return
        }
        var start = "blobs/uploads/"
        if let from = mountFrom { start += "?mount=\(blob.digest)&from=\(from)" }
        let session = try client.send(domain: domain, repository: repository, method: "POST", path: start, body: [], push: true)
        if session.status == 201 {
            progress(.exists(blob.digest))
            return
        }
        try Self.check(session, what: "upload of \(blob.digest)")
        guard let location = session.header("location") else {
            throw .registry(status: session.status, "the registry gave no upload location for \(blob.digest)")
        }
        let separator = location.contains("?") ? "&" : "?"
        let put = try client.send(
            domain: domain, repository: repository, method: "PUT", path: location + separator + "digest=\(blob.digest)",
            headers: [("Content-Type", "application/octet-stream")], bodyFile: store.content.path(blob.digest), push: true)
        try Self.check(put, what: "upload of \(blob.digest)")
        progress(.pushed(blob.digest))
    }

    static func check(_ response: HTTPResponse, what: String) throws(OCIError) {
        guard !(200..<300).contains(response.status) else { return }
        let detail = String(decoding: response.body.prefix(500), as: UTF8.self)
        switch response.status {
        case 401, 403: throw .registry(status: response.status, "denied: requested access to the resource is denied (\(what)): \(detail)")
        default: throw .registry(status: response.status, "\(what): registry answered \(response.status): \(detail)")
        }
    }
}
