// SPDX-License-Identifier: Apache-2.0

/// What a push reports as it goes.
public enum PushEvent: Sendable {
    /// The registry has the blob already (or mounted it from another repository).
    case exists(Digest)
    case pushed(Digest)
    /// The manifest is in place under the tag.
    case complete(tag: String, digest: Digest, size: Int)
}

/// One push of a stored image to a registry: blobs the registry lacks (mounted from another
/// repository of the same registry when one of our images came from there, else uploaded in
/// one `PUT` streamed from the store), then the manifest under the tag.
public struct Pusher: Sendable {
    public let store: ImageStore
    public let client: RegistryClient
    public var parallel = 3

    public init(store: ImageStore, client: RegistryClient) {
        self.store = store
        self.client = client
    }

    /// Pushes the image named `reference` (it must be in the store) to where it names.
    public func push(_ reference: ImageReference, progress: @escaping @Sendable (PushEvent) -> Void = { _ in }) throws(OCIError) {
        guard let record = try store.find(reference.description) else {
            throw .notFound("An image does not exist locally with the tag: \(reference.familiar)")
        }
        let manifestBytes = try store.content.read(record.manifest)
        let manifest = try store.decode(Manifest.self, manifestBytes, what: "manifest \(record.manifest)")
        // Other repositories of this registry that hold our images: blobs can be mounted from there.
        let siblings = try store.list().flatMap(\.names).compactMap { try? ImageReference(parsing: $0) }
            .filter { $0.domain == reference.domain && $0.path != reference.path }.map(\.path)
        let blobs = [manifest.config] + manifest.layers
        do {
            try Parallel.run(blobs.count, after: Array(repeating: [], count: blobs.count), limit: parallel) { i in
                try self.pushBlob(blobs[i], to: reference, mountFrom: siblings.first, progress: progress)
            }
        } catch let error as OCIError {
            throw error
        } catch {
            throw .network("\(error)")
        }
        let tag = reference.tag ?? "latest"
        let mediaType = manifest.mediaType ?? MediaType.ociManifest
        let response = try client.send(
            domain: reference.domain, repository: reference.path, method: "PUT", path: "manifests/\(tag)",
            headers: [("Content-Type", mediaType)], body: manifestBytes, push: true)
        try Self.check(response, what: "manifest of \(reference)")
        progress(.complete(tag: tag, digest: record.manifest, size: manifestBytes.count))
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
