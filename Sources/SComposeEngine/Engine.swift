// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials
import SComposeLoader
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What Compose knows about a container, kept as `container.json` in its directory.
public struct ContainerRecord: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var project: String
    public var service: String
    public var number: Int
    public var image: String
    public var imageID: String
    public var command: [String]
    public var created: String
    public var configHash: String
    public var labels: [String: String]
    /// `stop_signal` (number), nil for SIGTERM.
    public var stopSignal: Int32?
    /// `stop_grace_period` in seconds, nil for the default.
    public var stopTimeout: Int?
    /// Anonymous volumes by mount target (kept for the container that replaces this one).
    public var anonymousVolumes: [String: String]?
    /// Published ports.
    public var ports: [PortBinding]?
    /// Those of `ports` published on every address answer on the host's IPv6 addresses too
    /// (a container with IPv6).
    public var portsOnIPv6: Bool? = nil
    /// Whether its shim runs a healthcheck.
    public var healthcheck: Bool?
    /// `pre_stop` hooks, run before `stop` and `down` stop it.
    public var preStop: [HookRecord]?
}

extension ContainerRecord {
    /// Reads `container.json` by hand: `ps` and `up` read one per container, and the generic
    /// `Decodable` path cost more than the rest of reading the state.
    static func read(_ path: String) -> ContainerRecord? {
        guard let bytes = try? Files.read(path), let tree = try? JSONValue.parse(bytes),
            let id = tree.value("id")?.stringValue, let name = tree.value("name")?.stringValue,
            let project = tree.value("project")?.stringValue, let service = tree.value("service")?.stringValue,
            let number = tree.value("number")?.intValue
        else { return nil }
        // Anything unusual (hooks, ports) goes through the full decoder.
        if tree.value("preStop") != nil || tree.value("ports") != nil {
            return try? StateJSONDecoder().decode(ContainerRecord.self, from: bytes)
        }
        return ContainerRecord(
            id: id, name: name, project: project, service: service, number: number,
            image: tree.value("image")?.stringValue ?? "", imageID: tree.value("imageID")?.stringValue ?? "",
            command: tree.value("command")?.arrayValue?.compactMap(\.stringValue) ?? [],
            created: tree.value("created")?.stringValue ?? "", configHash: tree.value("configHash")?.stringValue ?? "",
            labels: tree.value("labels")?.stringMap ?? [:],
            stopSignal: tree.value("stopSignal")?.intValue.map { Int32($0) }, stopTimeout: tree.value("stopTimeout")?.intValue,
            anonymousVolumes: tree.value("anonymousVolumes")?.stringMap, ports: nil,
            healthcheck: tree.value("healthcheck")?.boolValue, preStop: nil)
    }
}

/// Docker's states of a container, as `ps` prints them.
public enum ContainerState: String, Sendable {
    case created, running, paused, restarting, exited
}

/// What a container's healthcheck says.
public enum HealthStatus: String, Sendable {
    case starting, healthy, unhealthy
}

/// A container as `ps` shows it.
public struct ContainerStatus: Sendable {
    public var record: ContainerRecord
    public var running: Bool
    public var pid: Int32?
    /// The supervising shim, while it runs.
    public var shimPid: Int32?
    public var startedAt: String?
    public var exit: ExitRecord?
    /// Waiting to be started again by its restart policy.
    public var restarting = false
    public var restartCount = 0
    public var lastExitCode: Int32?
    /// Frozen by `pause`.
    public var paused = false
    /// While a container with a healthcheck runs.
    public var health: HealthStatus?
    /// A state file of the container that cannot be read (`container.json`, `state.json`):
    /// what is shown comes from what could be read, and its cgroup says whether it runs.
    public var damaged: String?
    /// Its shim died without recording an exit (killed, or the machine went down): `exit`
    /// says 255, as Docker does.
    public var lost = false

    /// Docker's state (a container whose shim died without recording an exit has exited with
    /// 255).
    public var state: ContainerState {
        if restarting && shimPid != nil { return .restarting }
        if running { return paused ? .paused : .running }
        return exit == nil && startedAt == nil ? .created : .exited
    }
}

/// A project's lock, released when this goes away.
public typealias ProjectLock = FileLock

/// When `up` replaces an existing container.
public enum RecreatePolicy: Sendable {
    /// When its configuration changed (the default).
    case changed
    /// Always (`--force-recreate`).
    case always
    /// Never (`--no-recreate`).
    case never
}

/// A compose project on this host: its containers (each supervised by its own
/// `scompose-shim`, reached through `ShimClient`), networks and volumes, read from and written
/// to local state files. The verbs live one per file (`EngineUp`, `EngineCreate`,
/// `EngineLifecycle`, `EngineExec`, …); what `up` does is decided by `Reconciler`.
public struct Engine: Sendable {
    /// scompose's version, also written in the `com.docker.compose.version` labels.
    public static let version = "0.1.0"

    public let root: String

    public let shimPath: String

    /// Told each step, one line per step (several lines at once when they come together).
    public var progress: @Sendable (ProgressEvent) -> Void

    /// Fetches an image (reference, `platform`) from its registry into the store; nil when this
    /// engine cannot pull (a missing image is then an error).
    public var pullImage: (@Sendable (String, String?) throws -> ImageRecord)?

    /// The `scompose` executable, for what a shim asks of it later (`run -d --rm`); nil when
    /// unknown (such containers are then left for `rm`).
    public var cliPath: String?

    /// Where build steps are told (`#3 [web 2/4] RUN …`); `progress` when nil.
    public var buildOutput: (@Sendable (String) -> Void)?

    public init(root: String, shimPath: String, progress: @escaping @Sendable (ProgressEvent) -> Void) {
        self.root = root
        self.shimPath = shimPath
        self.progress = progress
    }

    var containersDir: String { root + "/containers" }

    /// Removes what a killed `up` left half-created: staging directories whose creator (the
    /// pid and start time in their name) is gone; a concurrent `up`'s own is left alone.
    public func removeStaleStaging() {
        for name in Files.list(containersDir) where name.hasPrefix(".creating-") {
            let path = containersDir + "/" + name
            let fields = name.dropFirst(".creating-".count).split(separator: ".")
            if fields.count == 3, let pid = Int32(fields[1]), let ticks = UInt64(fields[2]) {
                if !ProcessCheck.isAlive(pid, startTicks: ticks) {
                    // Its addresses too: an endpoint of a container that never came to be
                    // would keep its network "in use" for ever.
                    releaseNetwork(String(fields[0]))
                    Files.removeTree(path)
                }
                continue
            }
            // A name without its creator: gone once surely abandoned.
            var st = stat()
            if stat(path, &st) == 0, time(nil) - st.st_mtim.tv_sec > 60 { Files.removeTree(path) }
        }
    }

    /// Holds the project's lock until the returned value goes: one command changes a project's
    /// containers at a time, so two `up` at once leave one set of containers.
    public func lockProject(_ name: String) throws -> ProjectLock {
        try mkdirs(root + "/projects")
        do {
            return try FileLock.acquire(root + "/projects/\(name).lock")
        } catch {
            throw EngineError(.failed(operation: "lock project \(name)"), errno: error.errno)
        }
    }

    /// The files of a container's directory.
    public func files(_ id: String) -> ContainerFiles {
        ContainerFiles(dir: containersDir + "/" + id)
    }

    /// The client of a container's shim.
    public func shim(_ id: String) -> ShimClient {
        ShimClient(files: files(id))
    }

    /// The project's event log (`events`).
    public func eventLog(project: String) -> String { root + "/projects/\(project).events" }

    func events(project: String, service: String, name: String, image: String) -> EventSource {
        EventSource(path: eventLog(project: project), service: service, attributes: ["name": name, "image": image])
    }

    func events(_ record: ContainerRecord) -> EventSource {
        events(project: record.project, service: record.service, name: record.name, image: record.image)
    }

    func mkdirs(_ path: String) throws {
        do {
            try Files.makeDirectories(path)
        } catch {
            throw EngineError(passing: error)
        }
    }

    func writeText(_ path: String, _ text: String) throws {
        do {
            try Files.writeAtomically(path, Array(text.utf8))
        } catch {
            throw EngineError(passing: error)
        }
    }
}
