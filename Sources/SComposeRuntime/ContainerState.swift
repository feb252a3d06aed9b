// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// What the shim needs to run one container, written by the CLI as `spec.json` in the
/// container's directory.
public struct ShimSpec: Sendable, Codable, Equatable {
    public var id: String
    public var container: ContainerConfig
    /// Relative cgroup path (`scompose/<id>`, or in a systemd scope
    /// `scompose.slice/<unit>/container`), nil to run without one.
    public var cgroup: String?
    /// The transient systemd scope the shim asks for and moves itself into before it makes
    /// the container's cgroup in it (hosts with systemd and cgroup v2); nil elsewhere.
    public var systemdScope: String?
    /// The manager asked for `systemdScope`: nil for PID 1, a rootless user's own otherwise.
    public var systemdManager: SystemdScope.Manager?
    public var resources: Resources
    public var restart: RestartPolicy = .no
    /// json-file rotation (`logging.options` max-size in bytes, max-file).
    public var logMaxSize: Int64?
    public var logMaxFiles = 1
    /// Keep standard input open (`stdin_open: true`); with `tty` it is the pty.
    public var stdinOpen = false
    /// The container's network interfaces, DNS and port reservations (nil: loopback only).
    public var network: ShimNetwork?
    /// The directory of the container whose network namespace this one joins.
    public var joinNetworkOf: String?
    /// The healthcheck the shim runs in the container.
    public var healthcheck: HealthcheckSpec?
    /// A one-off container of `run`: the shim says `{"listening":true}` on the sync pipe once its
    /// socket is up and starts the container only when a client attached (no output is lost).
    public var waitForAttach: Bool?
    /// Where the shim reports `start`, `die` and health changes.
    public var events: EventSource?
    /// `--rm` of a detached container: run by the shim, in a session of its own, once the
    /// container has ended for good (scompose removing it), with `onExitEnvironment`.
    public var onExit: [String]?
    public var onExitEnvironment: [String]?

    public init(id: String, container: ContainerConfig, cgroup: String?, resources: Resources) {
        self.id = id
        self.container = container
        self.cgroup = cgroup
        self.resources = resources
    }
}

/// What the shim sets up for a container's network each time it starts it: a veth pair per
/// network (the host end on the network's bridge, `eth<n>` inside with its address), the
/// default route, the embedded DNS server on 127.0.0.11, and the published host ports it holds.
public struct ShimNetwork: Sendable, Codable, Equatable {
    public struct Interface: Sendable, Codable, Equatable {
        public var bridge: String
        /// The host end's name (at most 15 bytes).
        public var hostName: String
        public var address: String
        public var prefix: Int
        public var mac: String?
        public var mtu: UInt32?
        /// Its IPv6 address and prefix, on a network with IPv6.
        public var address6: String?
        public var prefix6: Int?
        public init(bridge: String, hostName: String, address: String, prefix: Int, mac: String?, mtu: UInt32?) {
            self.bridge = bridge
            self.hostName = hostName
            self.address = address
            self.prefix = prefix
            self.mac = mac
            self.mtu = mtu
        }
    }

    /// A host port the shim binds (and holds) so that no one else takes it.
    public struct Reservation: Sendable, Codable, Equatable {
        public var proto: String
        public var hostIP: String
        public var hostPort: UInt16
        public init(proto: String, hostIP: String, hostPort: UInt16) {
            self.proto = proto
            self.hostIP = hostIP
            self.hostPort = hostPort
        }
    }

    public var interfaces: [Interface] = []
    public var gateway: String?
    /// The IPv6 default route's gateway: that of the first network with IPv6.
    public var gateway6: String?
    /// Names of the networks whose endpoints the DNS server answers for (empty: no DNS server).
    public var dnsNetworks: [String] = []
    /// `$SCOMPOSE_ROOT` (where the networks' endpoint files are).
    public var stateRoot: String = ""
    /// Resolvers for other names (the host's, or the service's `dns:`).
    public var resolvers: [String] = []
    public var reservations: [Reservation] = []

    public init() {}
}

/// A healthcheck as the shim runs it (times in nanoseconds, Docker's defaults filled in).
public struct HealthcheckSpec: Sendable, Codable, Equatable {
    /// The program and its arguments (`CMD-SHELL x` is `/bin/sh -c x` here).
    public var command: [String]
    public var interval: Int64 = 30_000_000_000
    public var timeout: Int64 = 30_000_000_000
    public var startPeriod: Int64 = 0
    public var startInterval: Int64 = 5_000_000_000
    public var retries = 3

    public init(command: [String]) { self.command = command }
}

/// The health of a container, written by its shim as `health.json` (Docker's `State.Health`).
public struct HealthState: Sendable, Codable, Equatable {
    /// `starting`, `healthy` or `unhealthy`.
    public var status: String
    public var failingStreak: Int
    /// The last probes (at most five), oldest first.
    public var log: [Probe]

    public struct Probe: Sendable, Codable, Equatable {
        public var start: String
        public var end: String
        public var exitCode: Int32
        public var output: String
        public init(start: String, end: String, exitCode: Int32, output: String) {
            self.start = start
            self.end = end
            self.exitCode = exitCode
            self.output = output
        }
    }

    public init(status: String, failingStreak: Int, log: [Probe]) {
        self.status = status
        self.failingStreak = failingStreak
        self.log = log
    }
}

/// When the shim starts a container again after it exits (`restart:`).
public struct RestartPolicy: Sendable, Codable, Equatable {
    /// `no`, `always`, `on-failure` or `unless-stopped`.
    public var name: String
    /// For `on-failure`: how many restarts at most (0: no limit).
    public var maxRetries: Int

    public static let no = RestartPolicy(name: "no", maxRetries: 0)

    public init(name: String, maxRetries: Int) {
        self.name = name
        self.maxRetries = maxRetries
    }

    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "no", "always", "unless-stopped":
            guard parts.count == 1 else { return nil }
            self.init(name: parts[0], maxRetries: 0)
        case "on-failure":
            guard parts.count == 1 || Int(parts[1]).map({ $0 >= 0 }) == true else { return nil }
            self.init(name: "on-failure", maxRetries: parts.count == 2 ? Int(parts[1]) ?? 0 : 0)
        default:
            return nil
        }
    }

    /// Whether a container that exited with `code`, restarted `restarts` times so far, goes again.
    public func shouldRestart(exitCode code: Int32, restarts: Int, stoppedByUser: Bool) -> Bool {
        if stoppedByUser { return false }
        switch name {
        case "always", "unless-stopped": return true
        case "on-failure": return code != 0 && (maxRetries == 0 || restarts < maxRetries)
        default: return false
        }
    }

    /// Docker's back-off: 100 ms doubling up to a minute, back to 100 ms after a run of 10 s or more.
    public static func delay(previous: Int, ranFor seconds: Int) -> Int {
        if seconds >= 10 || previous == 0 { return 100 }
        return min(previous * 2, 60_000)
    }
}

/// The files of a container directory (`$SCOMPOSE_ROOT/containers/<id>`).
public struct ContainerFiles: Sendable {
    public let dir: String
    public init(dir: String) { self.dir = dir }
    public var spec: String { dir + "/spec.json" }
    public var state: String { dir + "/state.json" }
    public var exit: String { dir + "/exit.json" }
    public var log: String { dir + "/container.log" }
    public var upper: String { dir + "/upper" }
    public var work: String { dir + "/work" }
    public var root: String { dir + "/root" }
    public var hosts: String { dir + "/hosts" }
    public var hostname: String { dir + "/hostname" }
    public var resolvConf: String { dir + "/resolv.conf" }
    public var health: String { dir + "/health.json" }
    /// Present while the container is frozen by `pause`.
    public var paused: String { dir + "/paused" }
}

/// Written by the shim once the container runs.
extension RunningState {
    /// Reads `state.json` by hand (`ps` and `up` read one per container).
    public static func read(_ path: String) -> RunningState? {
        guard let bytes = try? Files.read(path), let tree = try? JSONValue.parse(bytes),
            let pid = tree.value("pid")?.intValue, let shimPid = tree.value("shimPid")?.intValue,
            let startedAt = tree.value("startedAt")?.stringValue,
            let ticks = tree.value("startTicks").flatMap({ $0.uint64Value }),
            let shimTicks = tree.value("shimStartTicks").flatMap({ $0.uint64Value })
        else { return nil }
        return RunningState(
            pid: Int32(truncatingIfNeeded: pid), shimPid: Int32(truncatingIfNeeded: shimPid), startedAt: startedAt,
            startTicks: ticks, restartCount: tree.value("restartCount")?.intValue ?? 0,
            restarting: tree.value("restarting")?.boolValue ?? false,
            lastExitCode: tree.value("lastExitCode")?.intValue.map { Int32(truncatingIfNeeded: $0) }, shimStartTicks: shimTicks)
    }
}

public struct RunningState: Sendable, Codable, Equatable {
    public var pid: Int32
    public var shimPid: Int32
    public var startedAt: String
    /// The container init's start time in clock ticks (/proc/<pid>/stat field 22), so a reused pid is not mistaken for it.
    public var startTicks: UInt64
    /// The shim's start time in clock ticks, for the same reason.
    public var shimStartTicks: UInt64
    /// How many times the restart policy started the container again.
    public var restartCount: Int
    /// Between an exit and the next start under the restart policy.
    public var restarting: Bool
    /// The exit code of the previous run, while restarting.
    public var lastExitCode: Int32?

    /// The shim's start time is read from /proc unless given.
    public init(
        pid: Int32, shimPid: Int32, startedAt: String, startTicks: UInt64, restartCount: Int = 0,
        restarting: Bool = false, lastExitCode: Int32? = nil, shimStartTicks: UInt64? = nil
    ) {
        self.pid = pid
        self.shimPid = shimPid
        self.shimStartTicks = shimStartTicks ?? ProcessCheck.startTicks(shimPid) ?? 0
        self.startedAt = startedAt
        self.startTicks = startTicks
        self.restartCount = restartCount
        self.restarting = restarting
        self.lastExitCode = lastExitCode
    }
}

/// Written by the shim when the container ends.
public struct ExitRecord: Sendable, Codable, Equatable {
    public var exitCode: Int32
    public var oomKilled: Bool
    public var finishedAt: String
    public var restartCount: Int

    public init(exitCode: Int32, oomKilled: Bool, finishedAt: String, restartCount: Int = 0) {
        self.exitCode = exitCode
        self.oomKilled = oomKilled
        self.finishedAt = finishedAt
        self.restartCount = restartCount
    }
}

/// JSON files written atomically (temporary file, fsync, rename).
public enum StateFile {
    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        try Files.writeAtomically(path, try StateJSONEncoder().encode(value))
    }

    public static func read<T: Decodable>(_ type: T.Type, from path: String) -> T? {
        guard let bytes = try? Files.read(path) else { return nil }
        return try? StateJSONDecoder().decode(type, from: bytes)
    }
}

/// Liveness of a process recorded earlier.
public enum ProcessCheck {
    /// Field 22 of /proc/<pid>/stat (the start time in clock ticks) and whether the process is
    /// a zombie, from one read of the file, parsed as bytes (`ps` of many containers reads many).
    static func stat(_ pid: Int32) -> (ticks: UInt64, dead: Bool)? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0, let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After the command: state is field 3, so start time (22) is the 20th field from there.
        var field = 0
        var i = close + 2
        var state: UInt8 = 0
        var ticks: UInt64 = 0
        while i < n {
            if buffer[i] == UInt8(ascii: " ") {
                field += 1
            } else if field == 0 {
                state = buffer[i]
            } else if field == 19 {
                ticks = ticks * 10 + UInt64(buffer[i] &- UInt8(ascii: "0"))
            } else if field > 19 {
                break
            }
            i += 1
        }
        return (ticks, state == UInt8(ascii: "Z") || state == UInt8(ascii: "X"))
    }

    /// Field 22 of /proc/<pid>/stat: the start time in clock ticks.
    public static func startTicks(_ pid: Int32) -> UInt64? { stat(pid)?.ticks }

    /// Whether `pid` is alive and is the process that started at `ticks`.
    public static func isAlive(_ pid: Int32, startTicks ticks: UInt64) -> Bool {
        guard let s = stat(pid) else { return false }
        return s.ticks == ticks && !s.dead
    }
}
