// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// What the shim needs to run one container, written by the CLI as `spec.json` in the
/// container's directory.
public struct ShimSpec: Sendable, Codable, Equatable {
    public var id: String
    public var container: ContainerConfig
    /// Relative cgroup path (`scompose/<id>`), nil to run without one.
    public var cgroup: String?
    public var resources: Resources

    public init(id: String, container: ContainerConfig, cgroup: String?, resources: Resources) {
        self.id = id
        self.container = container
        self.cgroup = cgroup
        self.resources = resources
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
}

/// Written by the shim once the container runs.
public struct RunningState: Sendable, Codable, Equatable {
    public var pid: Int32
    public var shimPid: Int32
    public var startedAt: String
    /// The container init's start time in clock ticks (/proc/<pid>/stat field 22), so a reused pid is not mistaken for it.
    public var startTicks: UInt64

    public init(pid: Int32, shimPid: Int32, startedAt: String, startTicks: UInt64) {
        self.pid = pid
        self.shimPid = shimPid
        self.startedAt = startedAt
        self.startTicks = startTicks
    }
}

/// Written by the shim when the container ends.
public struct ExitRecord: Sendable, Codable, Equatable {
    public var exitCode: Int32
    public var oomKilled: Bool
    public var finishedAt: String

    public init(exitCode: Int32, oomKilled: Bool, finishedAt: String) {
        self.exitCode = exitCode
        self.oomKilled = oomKilled
        self.finishedAt = finishedAt
    }
}

/// JSON files written atomically (temporary file, fsync, rename).
public enum StateFile {
    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try Files.writeAtomically(path, Array(try encoder.encode(value)))
    }

    public static func read<T: Decodable>(_ type: T.Type, from path: String) -> T? {
        guard let text = try? readText(path) else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

/// Liveness of a process recorded earlier.
public enum ProcessCheck {
    /// Field 22 of /proc/<pid>/stat: the start time in clock ticks.
    public static func startTicks(_ pid: Int32) -> UInt64? {
        guard let text = try? readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, so start time (22) is index 19 here.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Whether `pid` is alive and is the process that started at `ticks`.
    public static func isAlive(_ pid: Int32, startTicks ticks: UInt64) -> Bool {
        guard let now = startTicks(pid), now == ticks else { return false }
        guard let text = try? readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
