// SPDX-License-Identifier: Apache-2.0
import SComposeBuild
import SComposeLoader
import SComposeOCI
import SComposeOS
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// When `up` and `run` build the images of services with `build:`.
public enum BuildPolicy: Sendable {
    /// When the image is missing (the default), or always with `pull_policy: build`.
    case missing
    /// Always (`--build`).
    case always
    /// Never (`--no-build`): a missing image is an error.
    case never
}

/// `scompose build`'s flags.
public struct BuildOptions: Sendable {
    public var noCache = false
    public var pull = false
    /// `--build-arg`s, over the service's `build.args`.
    public var args: [String: String] = [:]
    /// No progress lines.
    public var quiet = false
    /// `--ssh`: agents for `RUN --mount=type=ssh`, over the services' `build.ssh`.
    public var ssh: [String] = []
    public init() {}
}

extension Engine {
    /// The image a service runs: its `image:`, else `<project>-<service>` as Compose names
    /// what it builds.
    public static func imageName(project: String, service: ServiceConfig) -> String {
        service.image ?? "\(project)-\(service.name)".lowercased()
    }

    /// Builds the services' images (those with `build:`), one after the other, in the order
    /// given; returns each service's image.
    @discardableResult
    public func build(_ loaded: LoadedProject, services: [String], options: BuildOptions) throws -> [String: ImageRecord] {
        let store = try ImageStore(root: root)
        var built: [String: ImageRecord] = [:]
        for name in services {
            guard let service = loaded.project.services[name], service.build != nil else { continue }
            built[name] = try buildService(loaded, service: service, options: options, store: store)
        }
        return built
    }

    func buildService(_ loaded: LoadedProject, service: ServiceConfig, options: BuildOptions, store: ImageStore) throws -> ImageRecord {
        guard let config = service.build else { throw EngineError(.invalidProject("service \"\(service.name)\" has no build section")) }
        let project = loaded.project
        var request = BuildRequest(context: config.context)
        if config.context.contains("://") || config.context.hasPrefix("git@") {
            throw EngineError(.unsupported("service \"\(service.name)\": building from a remote context (\(config.context)) is not supported; clone it and use a local path"))
        }
        request.dockerfile = config.dockerfile
        request.dockerfileInline = config.dockerfileInline
        for (key, value) in config.args {
            // An argument without a value takes the variable of that name, if there is one.
            if let value {
                request.args[key] = value
            } else if let fromEnvironment = loaded.environment[key] {
                request.args[key] = fromEnvironment
            }
        }
        for (key, value) in options.args { request.args[key] = value }
        request.target = config.target
        request.labels = config.labels
        request.tags = [Self.imageName(project: project.name, service: service)] + config.tags
        request.noCache = config.noCache || options.noCache
        request.pull = config.pull || options.pull
        if let network = config.network, network != "host", network != "none", network != "default" {
            throw EngineError(.unsupported("service \"\(service.name)\": build network \"\(network)\" is not supported (host, default or none)"))
        }
        request.network = config.network
        request.extraHosts = config.extraHosts
        request.shmSize = config.shmSize
        request.name = service.name
        request.secrets = try buildSecrets(config.secrets, service: service.name, loaded: loaded)
        request.ssh = try Self.sshAgents(config.ssh + options.ssh, service: service.name)
        let image = try runBuilder(request, store: store, quiet: options.quiet)
        if !options.quiet { progress(.resource(.service, service.name, "Built")) }
        return image
    }

    /// Runs the builder on `request`: base images from the store, else pulled; its output as
    /// progress unless `quiet`; its errors in their own words.
    func runBuilder(_ request: BuildRequest, store: ImageStore, quiet: Bool) throws -> ImageRecord {
        let progress = buildOutput ?? { self.progress(.output($0)) }
        let pull = pullImage
        let builder = Builder(
            store: store, stateRoot: root,
            resolveImage: { name, forcePull in
                if !forcePull, let found = try store.find(name) { return found }
                guard let pull else { throw EngineError(.noSuchImage(name)) }
                return try pull(name, nil)
            },
            output: { line in if !quiet { progress(line) } })
        do {
            return try builder.build(request)
        } catch let error as BuildError {
            throw EngineError(passing: error)
        } catch let error as DockerfileError {
            throw EngineError(passing: error)
        }
    }

    /// `build.secrets`: each secret's value by the id a Dockerfile names it with.
    func buildSecrets(_ references: [FileReference], service: String, loaded: LoadedProject) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for ref in references {
            guard let def = loaded.project.secrets[ref.source] else {
                throw EngineError(.undefined(service: service, kind: "build secret", name: ref.source))
            }
            let id = ref.target ?? ref.source
            if let variable = def.environment {
                guard let value = loaded.environment[variable] else {
                    throw EngineError(.environmentNotSet(variable: variable, neededBy: "build secret \"\(ref.source)\""))
                }
                out[id] = Array(value.utf8)
            } else if let text = def.content {
                out[id] = Array(text.utf8)
            } else if let file = def.file {
                do {
                    out[id] = try Files.read(file)
                } catch {
                    throw EngineError(.during("build secret \"\(ref.source)\""), cause: error)
                }
            } else {
                throw EngineError(.unsupported("build secret \"\(ref.source)\": only file, environment and content secrets can be used in builds"))
            }
        }
        return out
    }

    /// `build.ssh` / `--ssh`: `default` is the agent of `SSH_AUTH_SOCK`; `id=path` an agent's
    /// socket. Key files are refused (BuildKit runs an agent of its own for them).
    static func sshAgents(_ entries: [String], service: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let id = parts.first ?? "default"
            var path = parts.count == 2 ? parts[1] : ""
            if path.isEmpty {
                guard let sock = getenv("SSH_AUTH_SOCK").map({ String(cString: $0) }), !sock.isEmpty else {
                    throw EngineError(.environmentNotSet(variable: "SSH_AUTH_SOCK", neededBy: "the ssh agent socket of service \"\(service)\""))
                }
                path = sock
            }
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw EngineError(.unsupported("service \"\(service)\": ssh \(id): \(path) is not an SSH agent socket (key files are not supported; load the key into an agent)"))
            }
            out[id] = path
        }
        return out
    }
}
