// SPDX-License-Identifier: Apache-2.0
import SComposeBuild
import SComposeLoader
import SComposeOCI
import SComposeSpec

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
        guard let config = service.build else { throw EngineError("service \"\(service.name)\" has no build section") }
        let project = loaded.project
        var request = BuildRequest(context: config.context)
        if config.context.contains("://") || config.context.hasPrefix("git@") {
            throw EngineError("service \"\(service.name)\": building from a remote context (\(config.context)) is not supported; clone it and use a local path")
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
            throw EngineError("service \"\(service.name)\": build network \"\(network)\" is not supported (host, default or none)")
        }
        request.network = config.network
        request.extraHosts = config.extraHosts
        request.shmSize = config.shmSize
        request.name = service.name
        let progress = buildOutput ?? self.progress
        let quiet = options.quiet
        let pull = pullImage
        let builder = Builder(
            store: store, stateRoot: root,
            resolveImage: { name, forcePull in
                if !forcePull, let found = try store.find(name) { return found }
                guard let pull else { throw EngineError("No such image: \(name)") }
                return try pull(name, nil)
            },
            output: { line in if !quiet { progress(line) } })
        do {
            let image = try builder.build(request)
            if !quiet { self.progress("Service \(service.name)  Built") }
            return image
        } catch let error as BuildError {
            throw EngineError(error.description, exitCode: 1)
        } catch let error as DockerfileError {
            throw EngineError(error.description, exitCode: 1)
        }
    }
}
