// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
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
            throw CLIError("\(error)")
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
            throw CLIError("Error response from daemon: \(error)")
        }
        return record
    }
}

/// The per-layer lines of a pull. Events come from the download threads: one lock orders them.
final class PullDisplay: Sendable {
    struct State {
        var order: [Digest] = []
        var last: [Digest: Int64] = [:]
    }
    let tty: Bool
    let state = Mutex(State())

    init(tty: Bool) { self.tty = tty }

    func start(_ layers: [(Digest, Bool)]) {
        state.withLock { s in
            s.order = layers.map(\.0)
            var out = ""
            for (digest, present) in layers {
                if present {
                    out += "\(digest.hex.prefix(12)): Already exists\n"
                } else if tty {
                    out += "\(digest.hex.prefix(12)): Pulling fs layer\n"
                }
            }
            Console.out(out)
        }
    }

    /// On a terminal, at most ten redraws a second per layer.
    func update(_ digest: Digest, received: Int64, total: Int64) {
        guard tty else { return }
        state.withLock { s in
            guard let i = s.order.firstIndex(of: digest) else { return }
            let now = Clock.nowNanoseconds()
            if let last = s.last[digest], now - last < 100_000_000 { return }
            s.last[digest] = now
            let width = 50
            let done = total > 0 ? Int(Int64(width) * received / total) : 0
            let bar = "[" + String(repeating: "=", count: max(0, done - 1)) + (done > 0 ? ">" : "") + String(repeating: " ", count: width - max(done, 0)) + "]"
            let text = "\(digest.hex.prefix(12)): Downloading \(bar) \(Units.decimal(received))/\(Units.decimal(total))"
            Console.out(Self.rewrite(line: i, of: s.order.count, text))
        }
    }

    func finish(_ digest: Digest) {
        state.withLock { s in
            guard let i = s.order.firstIndex(of: digest) else { return }
            let text = "\(digest.hex.prefix(12)): Pull complete"
            Console.out(tty ? Self.rewrite(line: i, of: s.order.count, text) : text + "\n")
        }
    }

    /// Line `i` of the `count` printed last, replaced, with the cursor back below them.
    static func rewrite(line i: Int, of count: Int, _ text: String) -> String {
        let up = count - i
        return "\u{1B}[\(up)A\r\u{1B}[2K" + text + "\u{1B}[\(up)B\r"
    }
}

struct ImagePull: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download an image from a registry")

    @Option(name: .long, help: "Set platform if server is multi-platform capable (os/arch[/variant])")
    var platform: String?

    @Flag(name: [.short, .long], help: "Suppress verbose output")
    var quiet = false

    @Argument(help: "NAME[:TAG|@DIGEST]")
    var name: String

    func run() throws {
        try ProjectContext.guardRoot()
        _ = try Pulling.pull(name, platform: platform, quiet: quiet)
    }
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", _superCommandName: "scompose", abstract: "Pull service images")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("ignore-pull-failures"), help: "Pull what it can and ignores images with pull failures")
    var ignorePullFailures = false

    @Flag(name: .customLong("include-deps"), help: "Also pull services declared as dependencies")
    var includeDeps = false

    @Option(name: .long, help: "Apply pull policy (\"missing\"|\"always\")")
    var policy: String?

    @Flag(name: [.short, .long], help: "Pull without printing progress information")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        if let policy, policy != "missing", policy != "always" { throw CLIError("invalid --policy \(policy): missing or always") }
        let loaded = try ProjectContext.load(global, services: services)
        let engine = ProjectContext.engine()
        var names = services.isEmpty ? loaded.project.serviceNames : services
        if includeDeps {
            names = try Reconciler.dependencyOrder(engine.desiredServices(loaded), targets: names, noDeps: false)
        }
        let store = try StateRoot.images()
        for name in names {
            guard let service = loaded.project.services[name], let image = service.image else { continue }
            // As Compose: services that build are not pulled, and `pull_policy: never|build` are left alone.
            if service.build != nil || service.pullPolicy == "never" || service.pullPolicy == "build" { continue }
            if (policy ?? "always") == "missing", try store.find(image, platform: service.platform.map(Pulling.parsePlatform)) != nil {
                continue
            }
            if !quiet { Console.error(" \(name) Pulling") }
            do {
                _ = try Pulling.pull(try ImageReference(parsing: image), platform: service.platform, lines: false)
                if !quiet { Console.error(" \(name) Pulled") }
            } catch {
                if !ignorePullFailures { throw error }
                Console.error(" \(name) Error \(error)")
            }
        }
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
            throw CLIError("\(error)")
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
            throw CLIError("\(error)")
        }
    }
}

struct ImagePush: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Upload an image to a registry")

    @Option(name: .long, help: "Push only this platform's image of a multi-platform name (os/arch[/variant])")
    var platform: String?

    @Flag(name: [.short, .long], help: "Suppress verbose output")
    var quiet = false

    @Argument(help: "NAME[:TAG]")
    var name: String

    func run() throws {
        try ProjectContext.guardRoot()
        try Pulling.push(name, platform: platform, quiet: quiet)
    }
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", _superCommandName: "scompose", abstract: "Push service images")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("ignore-push-failures"), help: "Push what it can and ignores images with push failures")
    var ignorePushFailures = false

    @Flag(name: .customLong("include-deps"), help: "Also push images of services declared as dependencies")
    var includeDeps = false

    @Flag(name: [.short, .long], help: "Push without printing progress information")
    var quiet = false

    @Argument var services: [String] = []

    func run() throws {
        try ProjectContext.guardRoot()
        let loaded = try ProjectContext.load(global, services: services)
        var names = services.isEmpty ? loaded.project.serviceNames : services
        if includeDeps {
            names = try Reconciler.dependencyOrder(ProjectContext.engine().desiredServices(loaded), targets: names, noDeps: false)
        }
        for name in names {
            guard let image = loaded.project.services[name]?.image else { continue }
            if !quiet { Console.error(" \(name) Pushing") }
            do {
                try Pulling.push(image, quiet: true)
                if !quiet { Console.error(" \(name) Pushed") }
            } catch {
                if !ignorePushFailures { throw error }
                Console.error(" \(name) Error \(error)")
            }
        }
    }
}
