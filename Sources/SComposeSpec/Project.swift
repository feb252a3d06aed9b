// SPDX-License-Identifier: Apache-2.0

/// A loaded compose project: the typed model the engine works from. Pure values, no I/O.
public struct ComposeProject: Sendable, Equatable {
    /// The project name (`-p`, `COMPOSE_PROJECT_NAME`, `name:` or the directory).
    public var name: String
    /// The project directory; relative paths were resolved against it.
    public var workingDirectory: String
    /// The compose files, in merge order.
    public var composeFiles: [String]
    /// The enabled services, by name.
    public var services: [String: ServiceConfig]
    /// Networks used by the services, by key.
    public var networks: [String: NetworkConfig]
    /// Named volumes used by the services, by key.
    public var volumes: [String: VolumeConfig]
    /// Secrets used by the services, by key.
    public var secrets: [String: FileObjectConfig]
    /// Configs used by the services, by key.
    public var configs: [String: FileObjectConfig]

    /// Creates a project.
    public init(
        name: String, workingDirectory: String, composeFiles: [String] = [], services: [String: ServiceConfig] = [:],
        networks: [String: NetworkConfig] = [:], volumes: [String: VolumeConfig] = [:],
        secrets: [String: FileObjectConfig] = [:], configs: [String: FileObjectConfig] = [:]
    ) {
        self.name = name
        self.workingDirectory = workingDirectory
        self.composeFiles = composeFiles
        self.services = services
        self.networks = networks
        self.volumes = volumes
        self.secrets = secrets
        self.configs = configs
    }

    /// Service names in a stable order.
    public var serviceNames: [String] { services.keys.sorted() }
}

/// One service of a project, after normalization (long syntax everywhere).
public struct ServiceConfig: Sendable, Equatable {
    public var name: String
    public var image: String?
    public var build: BuildConfig?
    /// nil when unset (the image's CMD applies); `[]` when explicitly empty.
    public var command: [String]?
    /// nil when unset (the image's ENTRYPOINT applies).
    public var entrypoint: [String]?
    /// Values are nil for variables named without a value and not found in the environment.
    public var environment: [String: String?] = [:]
    public var labels: [String: String] = [:]
    public var annotations: [String: String] = [:]
    public var ports: [PortConfig] = []
    public var expose: [String] = []
    public var volumes: [VolumeMount] = []
    public var volumesFrom: [String] = []
    public var tmpfs: [String] = []
    /// Networks by key; nil values mean "attached with defaults".
    public var networks: [String: ServiceNetwork?] = [:]
    public var networkMode: String?
    public var dependsOn: [String: Dependency] = [:]
    public var links: [String] = []
    public var healthcheck: Healthcheck?
    public var restart: String?
    public var deploy: DeployConfig?
    public var scale: Int?
    public var profiles: [String] = []
    public var user: String?
    public var groupAdd: [String] = []
    public var workingDir: String?
    public var hostname: String?
    public var domainname: String?
    public var containerName: String?
    public var tty = false
    public var stdinOpen = false
    public var privileged = false
    public var readOnly = false
    public var initProcess: Bool?
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var securityOpt: [String] = []
    public var ulimits: [String: Ulimit] = [:]
    public var sysctls: [String: String] = [:]
    public var extraHosts: [String] = []
    public var dns: [String] = []
    public var dnsSearch: [String] = []
    public var dnsOpt: [String] = []
    public var macAddress: String?
    public var pid: String?
    public var ipc: String?
    public var uts: String?
    public var cgroup: String?
    public var cgroupParent: String?
    public var devices: [DeviceMapping] = []
    public var memLimit: Int64?
    public var memReservation: Int64?
    public var memswapLimit: Int64?
    public var shmSize: Int64?
    public var cpus: Double?
    public var cpuShares: Int64?
    /// `blkio_config.weight` (10–1000).
    public var blkioWeight: Int64?
    public var cpuset: String?
    public var pidsLimit: Int64?
    public var oomKillDisable = false
    public var oomScoreAdj: Int64?
    public var stopSignal: String?
    /// Nanoseconds.
    public var stopGracePeriod: Int64?
    public var secrets: [FileReference] = []
    public var configs: [FileReference] = []
    public var logging: LoggingConfig?
    public var platform: String?
    public var pullPolicy: String?
    public var runtime: String?
    public var postStart: [ServiceHook] = []
    public var preStop: [ServiceHook] = []
    /// `develop.watch`.
    public var watch: [WatchRule] = []

    /// Creates a service with only a name.
    public init(name: String) {
        self.name = name
    }

    /// The replica count: `scale`, else `deploy.replicas`, else 1.
    public var replicas: Int { scale ?? deploy?.replicas ?? 1 }
}

/// `build:` in long syntax.
public struct BuildConfig: Sendable, Equatable {
    public var context: String
    public var dockerfile: String?
    public var dockerfileInline: String?
    public var args: [String: String?] = [:]
    public var target: String?
    public var labels: [String: String] = [:]
    public var tags: [String] = []
    public var network: String?
    public var extraHosts: [String] = []
    public var shmSize: Int64?
    public var noCache = false
    public var pull = false
    public var platforms: [String] = []
    public var additionalContexts: [String: String] = [:]
    /// Secrets `RUN --mount=type=secret` can read (`id` = target, else source).
    public var secrets: [FileReference] = []
    /// SSH agents for `RUN --mount=type=ssh`: `default` or `id=/path/to/agent.sock`.
    public var ssh: [String] = []

    public init(context: String) {
        self.context = context
    }
}

/// A published or exposed port.
public struct PortConfig: Sendable, Equatable {
    public var target: Int
    /// The host port or range; nil for a random port.
    public var published: String?
    public var hostIP: String?
    public var proto: String = "tcp"
    public var mode: String = "ingress"
    public var name: String?
    public var appProtocol: String?

    public init(target: Int, published: String? = nil, hostIP: String? = nil, proto: String = "tcp") {
        self.target = target
        self.published = published
        self.hostIP = hostIP
        self.proto = proto
    }
}

/// A mount of a service: bind, named or anonymous volume, tmpfs, …
public struct VolumeMount: Sendable, Equatable {
    public enum Kind: String, Sendable { case bind, volume, tmpfs, npipe, cluster, image }

    public var type: Kind
    /// Host path for binds, volume key for volumes; nil for anonymous volumes and tmpfs.
    public var source: String?
    public var target: String
    public var readOnly = false
    public var createHostPath = false
    public var propagation: String?
    public var selinux: String?
    public var noCopy = false
    public var subpath: String?
    public var tmpfsSize: Int64?
    public var tmpfsMode: UInt32?

    public init(type: Kind, source: String?, target: String) {
        self.type = type
        self.source = source
        self.target = target
    }
}

/// A service's attachment to a network.
public struct ServiceNetwork: Sendable, Equatable {
    public var aliases: [String] = []
    public var ipv4Address: String?
    public var ipv6Address: String?
    public var macAddress: String?
    public var priority: Int = 0
    public var driverOpts: [String: String] = [:]

    public init() {}
}

/// A `depends_on` entry.
public struct Dependency: Sendable, Equatable {
    public enum Condition: String, Sendable {
        case started = "service_started"
        case healthy = "service_healthy"
        case completedSuccessfully = "service_completed_successfully"
    }

    public var condition: Condition
    public var required: Bool
    public var restart: Bool

    public init(condition: Condition = .started, required: Bool = true, restart: Bool = false) {
        self.condition = condition
        self.required = required
        self.restart = restart
    }
}

/// A healthcheck; durations in nanoseconds.
public struct Healthcheck: Sendable, Equatable {
    /// `["CMD", …]`, `["CMD-SHELL", cmd]` or `["NONE"]`.
    public var test: [String] = []
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?
    public var disable = false

    public init() {}
}

/// `deploy:` (the parts a single host honours).
public struct DeployConfig: Sendable, Equatable {
    public var replicas: Int?
    public var cpuLimit: Double?
    public var memoryLimit: Int64?
    public var pidsLimit: Int64?
    public var cpuReservation: Double?
    public var memoryReservation: Int64?
    public var restartCondition: String?
    public var restartMaxAttempts: Int?
    /// Nanoseconds.
    public var restartDelay: Int64?
    public var labels: [String: String] = [:]

    public init() {}
}

/// A ulimit: one value, or soft and hard.
public struct Ulimit: Sendable, Equatable {
    public var soft: Int64
    public var hard: Int64

    public init(soft: Int64, hard: Int64) {
        self.soft = soft
        self.hard = hard
    }
}

/// A device mapped into the container.
public struct DeviceMapping: Sendable, Equatable {
    public var source: String
    public var target: String
    public var permissions: String

    public init(source: String, target: String, permissions: String = "rwm") {
        self.source = source
        self.target = target
        self.permissions = permissions
    }
}

/// A secret or config as a service mounts it.
public struct FileReference: Sendable, Equatable {
    public var source: String
    public var target: String?
    public var uid: String?
    public var gid: String?
    public var mode: UInt32?

    public init(source: String, target: String? = nil) {
        self.source = source
        self.target = target
    }
}

/// `logging:`.
public struct LoggingConfig: Sendable, Equatable {
    public var driver: String?
    public var options: [String: String] = [:]

    public init() {}
}

/// A `post_start` / `pre_stop` hook.
public struct ServiceHook: Sendable, Equatable {
    public var command: [String]
    public var user: String?
    public var workingDir: String?
    public var privileged = false
    public var environment: [String: String?] = [:]

    public init(command: [String]) {
        self.command = command
    }
}

/// A top-level network.
public struct NetworkConfig: Sendable, Equatable {
    /// The engine name (`<project>_<key>` unless set).
    public var name: String
    public var driver: String?
    public var driverOpts: [String: String] = [:]
    public var external = false
    public var isInternal = false
    public var attachable = false
    public var enableIPv4: Bool?
    public var enableIPv6: Bool?
    public var labels: [String: String] = [:]
    public var ipamDriver: String?
    public var ipamConfig: [IPAMPool] = []

    public init(name: String) {
        self.name = name
    }
}

/// An IPAM pool of a network.
public struct IPAMPool: Sendable, Equatable {
    public var subnet: String?
    public var gateway: String?
    public var ipRange: String?
    public var auxAddresses: [String: String] = [:]

    public init() {}
}

/// A top-level named volume.
public struct VolumeConfig: Sendable, Equatable {
    /// The engine name (`<project>_<key>` unless set).
    public var name: String
    public var driver: String?
    public var driverOpts: [String: String] = [:]
    public var external = false
    public var labels: [String: String] = [:]

    public init(name: String) {
        self.name = name
    }
}

/// A top-level secret or config.
public struct FileObjectConfig: Sendable, Equatable {
    public var name: String
    public var file: String?
    public var environment: String?
    public var content: String?
    public var external = false
    public var labels: [String: String] = [:]

    public init(name: String) {
        self.name = name
    }
}

/// One `develop.watch` rule: what to do when files under `path` change.
public struct WatchRule: Sendable, Equatable {
    /// `sync`, `rebuild`, `restart`, `sync+restart` or `sync+exec`.
    public var action: String
    /// Absolute host path.
    public var path: String
    /// Where `path` is in the container (sync actions).
    public var target: String?
    /// Patterns (`.dockerignore` syntax) relative to `path`.
    public var ignore: [String] = []
    /// When set, only paths matching one of these count.
    public var include: [String] = []
    public var initialSync = false
    /// `sync+exec`: what runs in the container after a sync.
    public var exec: ServiceHook?

    public init(action: String, path: String) {
        self.action = action
        self.path = path
    }
}
