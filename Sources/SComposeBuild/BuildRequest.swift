// SPDX-License-Identifier: Apache-2.0
import SComposeOCI

/// The OCI digest (swift-crypto has a `Digest` of its own).
typealias Digest = SComposeOCI.Digest

/// A build failure. `exitCode` is the failing RUN's exit code.
public struct BuildError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var exitCode: Int32?

    public init(_ description: String, exitCode: Int32? = nil) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// What to build: the `build:` section of a service, or `scompose build`'s flags.
public struct BuildRequest: Sendable {
    /// The context directory (absolute).
    public var context: String
    /// The Dockerfile's path, absolute or relative to the context (default `Dockerfile`).
    public var dockerfile: String?
    /// `dockerfile_inline`: the Dockerfile's text itself.
    public var dockerfileInline: String?
    /// Build arguments (`build.args`, `--build-arg`).
    public var args: [String: String] = [:]
    /// The stage to build (`build.target`); the last one by default.
    public var target: String?
    /// Labels added to the image.
    public var labels: [String: String] = [:]
    /// Names given to the image (the first is its main name).
    public var tags: [String] = []
    /// Build every step again.
    public var noCache = false
    /// Pull base images even when present.
    public var pull = false
    /// `build.network`: `host` (the default: RUN shares the host's network, as
    /// `docker build --network host`) or `none`.
    public var network: String?
    /// `build.extra_hosts`: `name:address` or `name=address` entries for RUN's /etc/hosts.
    public var extraHosts: [String] = []
    /// Size of RUN's /dev/shm (`build.shm_size`).
    public var shmSize: Int64?
    /// Build secrets by id, for `RUN --mount=type=secret` (`build.secrets`); their values
    /// never enter a cache key or a layer.
    public var secrets: [String: [UInt8]] = [:]
    /// SSH agent sockets by id, for `RUN --mount=type=ssh` (`build.ssh`, `default` first).
    public var ssh: [String: String] = [:]
    /// Shown before every step (`[web 2/4]`): the service's name.
    public var name: String?

    public init(context: String) {
        self.context = context
    }
}
