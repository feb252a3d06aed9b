// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Pulls for the CLI: the registry client over libcurl with Docker's stored credentials, and
/// Docker's progress lines.
enum Pulling {
    static func puller(platform: String?) throws -> Puller {
        var puller = Puller(store: try StateRoot.images(), client: client())
        if let platform { puller.platform = try parsePlatform(platform) }
        return puller
    }

    /// `--platform` and `platform:` (`linux/arm64`, `linux/arm/v7`).
    static func parsePlatform(_ text: String) throws -> Platform {
        guard let p = Platform(parsing: text) else { throw CLIError("invalid platform \"\(text)\": expected os/arch[/variant]") }
        return p
    }

    /// `docker pull`'s lines: `<12 hex>: Pull complete` per layer, the digest, the status.
    static func pull(_ text: String, platform: String?, quiet: Bool) throws -> ImageRecord {
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: text)
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
        let record = try pull(reference, platform: platform, lines: !quiet)
        if quiet { Console.out(reference.description + "\n") }
        return record
    }

    static func pull(_ reference: ImageReference, platform: String?, lines: Bool) throws -> ImageRecord {
        let puller = try Self.puller(platform: platform)
        if lines {
            let from = reference.domain == "docker.io" ? reference.familiarRepository : reference.path
            Console.out("\(reference.tag ?? reference.digest?.description ?? "latest"): Pulling from \(from)\n")
        }
        // Layers are reported (not the config), each once; on a terminal their lines are
        // rewritten in place with a progress bar, as Docker's are.
        let display = PullDisplay(tty: lines && isatty(1) == 1)
        let record: ImageRecord
        do {
            record = try puller.pull(reference) { event in
                guard lines else { return }
                switch event {
                case .resolved(_, let descriptors, let present):
                    display.start(descriptors.map { ($0.digest, present.contains($0.digest)) })
                case .downloading(let digest, let received, let total):
                    display.update(digest, received: received, total: total)
                case .downloaded(let digest):
                    display.finish(digest)
                case .complete(_, let digest, let newer):
                    Console.out("Digest: \(digest)\n")
                    Console.out("Status: \(newer ? "Downloaded newer image" : "Image is up to date") for \(reference.familiar)\n")
                    Console.out(reference.description + "\n")
                }
            }
        } catch {
            throw CLIError("Error response from daemon: \(ErrorWording.message(error))")
        }
        return record
    }
}

extension Pulling {
    static func client() -> RegistryClient {
        let environment = Console.environment()
        let credentials = DockerCredentials(environment: environment)
        return RegistryClient(
            transport: CurlTransport(), credentials: { credentials.lookup($0) },
            mirrors: RegistryClient.configuredMirrors(environment: environment))
    }

    /// `docker push`'s lines: the repository, each layer pushed or present, the digest.
    static func push(_ text: String, platform: String? = nil, quiet: Bool) throws {
        let reference: ImageReference
        do {
            reference = try ImageReference(parsing: text)
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
        var pusher = Pusher(store: try StateRoot.images(), client: client())
        pusher.platform = try platform.map(parsePlatform)
        if !quiet { Console.out("The push refers to repository [\(reference.repository)]\n") }
        do {
            try pusher.push(reference) { event in
                guard !quiet else { return }
                switch event {
                case .exists(let d): Console.out("\(d.hex.prefix(12)): Layer already exists\n")
                case .pushed(let d): Console.out("\(d.hex.prefix(12)): Pushed\n")
                case .complete(let tag, let digest, let size): Console.out("\(tag): digest: \(digest) size: \(size)\n")
                }
            }
        } catch {
            throw CLIError(ErrorWording.message(error))
        }
    }
}
