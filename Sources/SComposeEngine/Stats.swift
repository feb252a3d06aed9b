// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// One container's resource use over a sampling interval, as `stats` shows it.
public struct ContainerStats: Sendable {
    public var container: ContainerStatus
    /// Percent of one CPU (can exceed 100 with several).
    public var cpuPercent: Double
    public var memory: Int64
    public var memoryLimit: Int64
    public var netReceived: Int64
    public var netSent: Int64
    public var blockRead: Int64
    public var blockWritten: Int64
    public var pids: Int64
}

extension Engine {
    /// Samples the running containers twice, `interval` microseconds apart (the CPU share needs two
    /// readings); stopped ones show zeros.
    public func stats(_ containers: [ContainerStatus], interval: UInt32 = 500_000) -> [ContainerStats] {
        let cgroups = Dictionary(
            uniqueKeysWithValues: containers.filter(\.running).compactMap { c in cgroup(of: c.record.id).map { (c.record.id, $0) } })
        func sample() -> [String: Cgroup.Usage] { cgroups.mapValues { $0.usage() } }
        let first = sample()
        let start = Clock.nowNanoseconds()
        if containers.contains(where: \.running) { usleep(interval) }
        let second = sample()
        let elapsed = max(1, Clock.nowNanoseconds() - start)
        let hostMemory = Self.hostMemory()
        return containers.map { c in
            let now = second[c.record.id] ?? Cgroup.Usage()
            let before = first[c.record.id] ?? now
            let cpu = Double(max(0, now.cpuNanoseconds - before.cpuNanoseconds)) / Double(elapsed) * 100
            let (rx, tx) = c.running ? c.pid.map(Self.networkBytes) ?? (0, 0) : (0, 0)
            return ContainerStats(
                container: c, cpuPercent: c.running ? cpu : 0, memory: now.memory,
                memoryLimit: min(now.memoryLimit ?? hostMemory, hostMemory), netReceived: rx, netSent: tx,
                blockRead: now.readBytes, blockWritten: now.writeBytes, pids: now.pids)
        }
    }

    /// Bytes received and sent on the interfaces of a process's network namespace (not loopback).
    static func networkBytes(_ pid: Int32) -> (Int64, Int64) {
        guard let bytes = try? Files.read("/proc/\(pid)/net/dev") else { return (0, 0) }
        var rx: Int64 = 0
        var tx: Int64 = 0
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst(2) {
            let halves = line.split(separator: ":", maxSplits: 1)
            guard halves.count == 2, halves[0].trimmingSpaces != "lo" else { continue }
            let fields = halves[1].split(separator: " ")
            guard fields.count >= 9 else { continue }
            rx += Int64(fields[0]) ?? 0
            tx += Int64(fields[8]) ?? 0
        }
        return (rx, tx)
    }

    /// MemTotal, the limit of a container without one.
    static func hostMemory() -> Int64 {
        guard let bytes = try? Files.read("/proc/meminfo") else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kib = line.split(separator: " ").dropFirst().first.flatMap { Int64($0) } ?? 0
            return kib * 1024
        }
        return 0
    }
}
