// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization
import Testing

@testable import SComposeOCI

/// A registry in memory behind the transport protocol: what `RegistryClient` and `Puller` send
/// and how they react to challenges, indexes, errors and broken blobs.
final class FakeRegistry: HTTPTransport, @unchecked Sendable {
    /// URL (without query) → response; `handler` decides everything else.
    var routes: [String: HTTPResponse] = [:]
    var handler: (@Sendable (HTTPRequest) -> HTTPResponse?)?
    let log = Mutex<[String]>([])
    /// URL → bytes after which the next transfer of it breaks (once).
    let breakAfter = Mutex<[String: Int]>([:])

    func send(_ request: HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)?) throws(OCIError) -> HTTPResponse {
        log.withLock { $0.append(request.url) }
        var response = handler?(request) ?? routes[String(request.url.prefix { $0 != "?" })] ?? HTTPResponse(status: 404)
        if let sink, (200..<300).contains(response.status) {
            let cut = breakAfter.withLock { $0.removeValue(forKey: request.url) }
            // In pieces, as a network delivers it.
            var offset = 0
            while offset < response.body.count {
                if let cut, offset >= cut { throw .network("connection reset by the test after \(offset) bytes") }
                let piece = Array(response.body[offset..<min(offset + 7, response.body.count)])
                var failure: OCIError?
                piece.withUnsafeBytes { raw in
                    do throws(OCIError) { try sink(raw) } catch { failure = error }
                }
                if let failure { throw failure }
                offset += 7
            }
            response.body = []
        }
        return response
    }
}

@Suite struct PullTests {
    /// A one-layer image: (layer, config, manifest) bytes.
    static func image(file: String = "hello") -> ([UInt8], [UInt8], [UInt8]) {
        var tar = TarBuilder()
        tar.add("etc/", kind: .directory, mode: 0o755)
        tar.add("etc/greeting", content: Array("\(file)\n".utf8))
        let layer = tar.archive
        let config = Array("""
            {"architecture":"amd64","os":"linux","created":"2026-11-26T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["\(Digest(of: layer))"]}}
            """.utf8)
        let manifest = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)","config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(Digest(of: config))","size":\(config.count)},"layers":[{"mediaType":"\(MediaType.ociLayer)","digest":"\(Digest(of: layer))","size":\(layer.count)}]}
            """.utf8)
        return (layer, config, manifest)
    }

    func store(_ dir: TempDir) throws -> ImageStore { try ImageStore(root: dir.path) }

    /// Nothing of a failed pull is left: no name, no blob, no half-written file.
    func expectNothingStored(_ store: ImageStore, _ digests: [Digest]) throws {
        #expect(try store.list().isEmpty)
        for d in digests { #expect(!store.content.has(d)) }
        let ingest = (try? FileManager.default.contentsOfDirectory(atPath: store.content.root + "/ingest")) ?? []
        #expect(ingest.isEmpty, "\(ingest)")
    }

    @Test func tokenChallengeIndexAndPlatform() throws {
        let (layer, config, manifest) = Self.image()
        let (armLayer, armConfig, armManifest) = Self.image(file: "arm")
        let index = Array("""
            {"schemaVersion":2,"mediaType":"\(MediaType.ociIndex)","manifests":[
              {"mediaType":"\(MediaType.ociManifest)","digest":"\(Digest(of: armManifest))","size":\(armManifest.count),"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
              {"mediaType":"\(MediaType.ociManifest)","digest":"\(Digest(of: manifest))","size":\(manifest.count),"platform":{"architecture":"amd64","os":"linux"}}]}
            """.utf8)
        let base = "https://registry.test/v2/lib/app/"
        let fake = FakeRegistry()
        let routes: [String: HTTPResponse] = [
            base + "manifests/1": HTTPResponse(status: 200, headers: ["content-type": [MediaType.ociIndex]], body: index),
            base + "manifests/\(Digest(of: manifest))": HTTPResponse(status: 200, body: manifest),
            base + "manifests/\(Digest(of: armManifest))": HTTPResponse(status: 200, body: armManifest),
            base + "blobs/\(Digest(of: config))": HTTPResponse(status: 200, body: config),
            base + "blobs/\(Digest(of: layer))": HTTPResponse(status: 200, body: layer),
            base + "blobs/\(Digest(of: armConfig))": HTTPResponse(status: 200, body: armConfig),
            base + "blobs/\(Digest(of: armLayer))": HTTPResponse(status: 200, body: armLayer),
        ]
        fake.handler = { request in
            if request.url.hasPrefix("https://auth.test/token") {
                // The token needs the service and scope the challenge named, and the credentials.
                guard request.url.contains("service=registry.test"), request.url.contains("scope=repository%3Alib%2Fapp%3Apull"),
                    request.headers.contains(where: { $0 == ("Authorization", "Basic " + Base64.encode(Array("me:secret".utf8))) })
                else { return HTTPResponse(status: 401) }
                return HTTPResponse(status: 200, body: Array(#"{"token":"T0K3N"}"#.utf8))
            }
            guard request.headers.contains(where: { $0 == ("Authorization", "Bearer T0K3N") }) else {
                return HTTPResponse(status: 401, headers: ["www-authenticate": [
                    #"Bearer realm="https://auth.test/token",service="registry.test",scope="repository:lib/app:pull""#,
                ]])
            }
            return routes[request.url]
        }
        let dir = try TempDir()
        let store = try store(dir)
        let client = RegistryClient(
            transport: fake, credentials: { $0 == "registry.test" ? RegistryCredentials(username: "me", secret: "secret") : nil },
            backoff: [])
        var puller = Puller(store: store, client: client)
        puller.platform = Platform(architecture: "amd64", os: "linux")
        let record = try puller.pull(try ImageReference(parsing: "registry.test/lib/app:1"))
        #expect(record.names == ["registry.test/lib/app:1"])
        #expect(record.manifest == Digest(of: manifest) && record.id == Digest(of: config))
        let snapshot = try store.snapshots(record)
        #expect(try String(contentsOfFile: snapshot[0] + "/etc/greeting", encoding: .utf8) == "hello\n")
        // One token for the whole pull; the arm64 image was never fetched.
        let urls = fake.log.withLock { $0 }
        #expect(urls.filter { $0.hasPrefix("https://auth.test/") }.count == 1, "\(urls)")
        #expect(!urls.contains { $0.contains(Digest(of: armLayer).hex) })
        // Pulled again: its blobs are present, only manifests travel.
        fake.log.withLock { $0 = [] }
        _ = try puller.pull(try ImageReference(parsing: "registry.test/lib/app:1"))
        #expect(!fake.log.withLock { $0 }.contains { $0.contains("/blobs/") })
        // arm64 on request, by platform.
        puller.platform = Platform(parsing: "linux/arm64/v8") ?? .host
        let arm = try puller.pull(try ImageReference(parsing: "registry.test/lib/app:1"))
        #expect(arm.id == Digest(of: armConfig))
        puller.platform = Platform(architecture: "s390x", os: "linux")
        #expect(throws: OCIError.self) { try puller.pull(try ImageReference(parsing: "registry.test/lib/app:1")) }
    }

    @Test(arguments: [true, false]) func brokenTransfersResume(registryHonoursRanges: Bool) throws {
        let (layer, config, manifest) = Self.image(file: String(repeating: "x", count: 5000))
        let base = "http://127.0.0.1:5000/v2/app/"
        let layerURL = base + "blobs/\(Digest(of: layer))"
        let ranges = Mutex<[String]>([])
        let fake = FakeRegistry()
        fake.routes = [
            base + "manifests/latest": HTTPResponse(status: 200, body: manifest),
            base + "blobs/\(Digest(of: config))": HTTPResponse(status: 200, body: config),
        ]
        fake.handler = { request in
            guard request.url == layerURL else { return nil }
            guard let range = request.headers.first(where: { $0.0 == "Range" })?.1 else {
                return HTTPResponse(status: 200, body: layer)
            }
            ranges.withLock { $0.append(range) }
            guard registryHonoursRanges, let from = Int(range.dropFirst("bytes=".count).dropLast()) else {
                return HTTPResponse(status: 200, body: layer)
            }
            return HTTPResponse(
                status: 206, headers: ["content-range": ["bytes \(from)-\(layer.count - 1)/\(layer.count)"]],
                body: Array(layer[from...]))
        }
        // The first transfer breaks after 2 KB, the resumed one after another 7 bytes' worth.
        fake.breakAfter.withLock { $0[layerURL] = 2048 }
        let dir = try TempDir()
        let store = try store(dir)
        let puller = Puller(store: store, client: RegistryClient(transport: fake, backoff: [0, 0, 0]))
        let record = try puller.pull(try ImageReference(parsing: "127.0.0.1:5000/app"))
        #expect(record.id == Digest(of: config))
        #expect(store.content.has(Digest(of: layer)))
        #expect(ranges.withLock { $0 } == ["bytes=2051-"], "resumed where the transfer stopped (pieces of 7 bytes)")
        let ingest = (try? FileManager.default.contentsOfDirectory(atPath: store.content.root + "/ingest")) ?? []
        #expect(ingest.isEmpty, "\(ingest)")
        // Without retries left, a broken transfer fails: nothing is stored, and what came
        // waits for the next pull (another process's: a new puller, the same store).
        let other = try TempDir()
        let otherStore = try self.store(other)
        fake.breakAfter.withLock { $0[layerURL] = 100 }
        ranges.withLock { $0 = [] }
        let noRetry = Puller(store: otherStore, client: RegistryClient(transport: fake, backoff: []))
        #expect(throws: OCIError.self) { try noRetry.pull(try ImageReference(parsing: "127.0.0.1:5000/app")) }
        #expect(try otherStore.list().isEmpty && !otherStore.content.has(Digest(of: layer)))
        let partial = otherStore.content.root + "/ingest/partial-" + Digest(of: layer).hex
        #expect(try Data(contentsOf: URL(fileURLWithPath: partial)) == Data(layer[0..<105]))
        let later = Puller(store: otherStore, client: RegistryClient(transport: fake, backoff: []))
        #expect(try later.pull(try ImageReference(parsing: "127.0.0.1:5000/app")).id == Digest(of: config))
        #expect(ranges.withLock { $0 } == ["bytes=105-"])
        #expect(otherStore.content.has(Digest(of: layer)) && !FileManager.default.fileExists(atPath: partial))
    }

    /// Kept bytes that are not the blob's (a damaged disk, a changed registry) cost one more
    /// transfer from the start, not a failed pull; old leftovers are swept, ones in use are not.
    @Test func damagedPartialsRestartAndStaleOnesAreSwept() throws {
        let (layer, config, manifest) = Self.image(file: String(repeating: "y", count: 3000))
        let base = "http://127.0.0.1:5000/v2/app/"
        let fake = FakeRegistry()
        let ranges = Mutex<[String]>([])
        fake.routes = [
            base + "manifests/latest": HTTPResponse(status: 200, body: manifest),
            base + "blobs/\(Digest(of: config))": HTTPResponse(status: 200, body: config),
        ]
        fake.handler = { request in
            guard request.url == base + "blobs/\(Digest(of: layer))" else { return nil }
            guard let range = request.headers.first(where: { $0.0 == "Range" })?.1,
                let from = Int(range.dropFirst("bytes=".count).dropLast())
            else { return HTTPResponse(status: 200, body: layer) }
            ranges.withLock { $0.append(range) }
            return HTTPResponse(
                status: 206, headers: ["content-range": ["bytes \(from)-\(layer.count - 1)/\(layer.count)"]],
                body: Array(layer[from...]))
        }
        let dir = try TempDir()
        let store = try store(dir)
        let partial = store.content.root + "/ingest/partial-" + Digest(of: layer).hex
        try Data(repeating: 0x41, count: 500).write(to: URL(fileURLWithPath: partial))
        let puller = Puller(store: store, client: RegistryClient(transport: fake, backoff: []))
        #expect(try puller.pull(try ImageReference(parsing: "127.0.0.1:5000/app")).id == Digest(of: config))
        #expect(ranges.withLock { $0 } == ["bytes=500-"])
        #expect(store.content.has(Digest(of: layer)) && !FileManager.default.fileExists(atPath: partial))

        // Sweeping: an old partial and an old unheld scratch file go; a held one and a recent partial stay.
        let ingest = store.content.root + "/ingest/"
        let old = Date(timeIntervalSinceNow: -8 * 86400)
        for name in ["partial-old", "blob-dead01", "partial-new"] {
            FileManager.default.createFile(atPath: ingest + name, contents: Data([1, 2, 3]))
        }
        let held = try store.content.scratchFile("blob")
        defer { close(held.fd) }
        for name in ["partial-old", "blob-dead01"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: ingest + name)
        }
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: held.path)
        store.content.sweepIngest()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: ingest))
        #expect(left == ["partial-new", String(held.path.split(separator: "/").last ?? "")], "\(left)")
    }

    @Test func corruptAndTruncatedBlobsAreNotStored() throws {
        let (layer, config, manifest) = Self.image()
        let base = "http://127.0.0.1:5000/v2/app/"
        for damage in ["corrupt", "truncated", "longer"] {
            var served = layer
            switch damage {
            case "corrupt": served[600] ^= 0xff
            case "truncated": served.removeLast(100)
            default: served += [0, 0, 0]
            }
            let fake = FakeRegistry()
            fake.routes = [
                base + "manifests/latest": HTTPResponse(status: 200, body: manifest),
                base + "blobs/\(Digest(of: config))": HTTPResponse(status: 200, body: config),
                base + "blobs/\(Digest(of: layer))": HTTPResponse(status: 200, body: served),
            ]
            let dir = try TempDir()
            let store = try store(dir)
            let puller = Puller(store: store, client: RegistryClient(transport: fake, backoff: []))
            let reference = try ImageReference(parsing: "127.0.0.1:5000/app")
            do throws(OCIError) {
                _ = try puller.pull(reference)
                Issue.record("a \(damage) blob was accepted")
            } catch {
                if damage == "corrupt" {
                    guard case .digestMismatch = error else { Issue.record("\(error)"); continue }
                }
            }
            try expectNothingStored(store, [Digest(of: layer), Digest(of: manifest)])
        }
    }

    @Test func registryErrorsAreClear() throws {
        let (_, _, manifest) = Self.image()
        let fake = FakeRegistry()
        let schema1 = Array(#"{"schemaVersion":1,"name":"old","fsLayers":[]}"#.utf8)
        let calls = Mutex(0)
        fake.handler = { request in
            if request.url.hasSuffix("/old/manifests/latest") { return HTTPResponse(status: 200, body: schema1) }
            if request.url.hasSuffix("/denied/manifests/latest") { return HTTPResponse(status: 403, body: Array("denied".utf8)) }
            if request.url.hasSuffix("/busy/manifests/latest") {
                // Twice too many requests, then the manifest (whose blobs are missing: 404).
                let n = calls.withLock { (c: inout Int) -> Int in
                    c += 1
                    return c
                }
                return n < 3 ? HTTPResponse(status: 429) : HTTPResponse(status: 200, body: manifest)
            }
            return nil
        }
        let dir = try TempDir()
        let store = try store(dir)
        let puller = Puller(store: store, client: RegistryClient(transport: fake, backoff: [0, 0, 0]))
        func failure(_ text: String) -> OCIError? {
            guard let reference = try? ImageReference(parsing: text) else { return nil }
            do throws(OCIError) {
                _ = try puller.pull(reference)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure("localhost:5000/missing").map { if case .notFound = $0 { true } else { false } } == true)
        #expect(failure("localhost:5000/old")?.description.contains("schema 1") == true)
        #expect(failure("localhost:5000/denied")?.description.contains("pull access denied") == true)
        #expect(failure("localhost:5000/busy").map { if case .notFound = $0 { true } else { false } } == true)
        #expect(calls.withLock { $0 } == 3, "429 was retried")
        try expectNothingStored(store, [Digest(of: manifest)])
    }

    @Test func challengesAndCredentials() throws {
        let (kind, parameters) = RegistryClient.parseChallenge(
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#)
        #expect(kind == "bearer")
        #expect(parameters == ["realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull"])
        #expect(RegistryClient.parseChallenge(#"Basic realm="Registry Realm""#).0 == "basic")
        #expect(RegistryClient.apiHost("docker.io") == "registry-1.docker.io")
        #expect(RegistryClient.scheme("127.0.0.1:5000") == "http" && RegistryClient.scheme("ghcr.io") == "https")
        #expect(Base64.encode(Array("me:secret".utf8)) == "bWU6c2VjcmV0")
        #expect(Base64.decode("bWU6c2VjcmV0").map { String(decoding: $0, as: UTF8.self) } == "me:secret")
        let dir = try TempDir()
        _ = try dir.write("config.json", Array("""
            {"auths":{"https://index.docker.io/v1/":{"auth":"\(Base64.encode(Array("hub:pw".utf8)))"},"registry.test":{"username":"u","password":"p"}}}
            """.utf8))
        let creds = DockerCredentials(environment: ["DOCKER_CONFIG": dir.path])
        #expect(creds.lookup("docker.io") == RegistryCredentials(username: "hub", secret: "pw"))
        #expect(creds.lookup("registry.test") == RegistryCredentials(username: "u", secret: "p"))
        #expect(creds.lookup("elsewhere.test") == nil)
    }
}

@Suite struct MirrorTests {
    /// Docker Hub reads go to the mirror first; what it lacks comes from Docker Hub itself.
    @Test func mirrorFirstThenDockerHub() throws {
        let (layer, config, manifest) = PullTests.image()
        let fake = FakeRegistry()
        fake.routes = [
            "https://mirror.test/v2/library/app/manifests/latest": HTTPResponse(status: 200, body: manifest),
            "https://mirror.test/v2/library/app/blobs/\(Digest(of: config))": HTTPResponse(status: 200, body: config),
            // The layer only on Docker Hub.
            "https://registry-1.docker.io/v2/library/app/blobs/\(Digest(of: layer))": HTTPResponse(status: 200, body: layer),
        ]
        let dir = try TempDir()
        let store = try ImageStore(root: dir.path)
        let client = RegistryClient(transport: fake, backoff: [], mirrors: ["https://mirror.test/"])
        var puller = Puller(store: store, client: client)
        puller.platform = Platform(architecture: "amd64", os: "linux")
        let record = try puller.pull(try ImageReference(parsing: "app"))
        #expect(record.names == ["docker.io/library/app:latest"])
        let urls = fake.log.withLock { $0 }
        #expect(!urls.contains("https://registry-1.docker.io/v2/library/app/manifests/latest"), "\(urls)")
        #expect(urls.contains("https://registry-1.docker.io/v2/library/app/blobs/\(Digest(of: layer))"))
        // Other registries are not mirrored.
        #expect(throws: OCIError.self) { try puller.pull(try ImageReference(parsing: "ghcr.io/org/app")) }
        #expect(!fake.log.withLock { $0 }.contains { $0.contains("mirror.test/v2/org") })
        // The setting as Docker's daemon.json and our variable give it.
        _ = try dir.write("daemon.json", Array(#"{"registry-mirrors":["https://hub-mirror.example"]}"#.utf8))
        #expect(
            RegistryClient.configuredMirrors(
                environment: ["SCOMPOSE_REGISTRY_MIRRORS": "https://a.example, https://b.example"], daemonConfig: dir.path + "/daemon.json")
                == ["https://a.example", "https://b.example", "https://hub-mirror.example"])
    }
}
