// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOS
import SComposeRuntime
import Testing

/// The shim's Foundation-free JSON: state files round-trip, and it reads what JSON writers emit.
struct StateJSONTests {
    @Test func specRoundTrips() throws {
        var c = ContainerConfig(layers: ["/l1", "/l2"], upperDir: "/u", workDir: "/w", rootDir: "/r", args: ["sh", "-c", "echo \"hi\"\n\t\\ é"], env: ["A=1"])
        c.capabilities = [0, 5, 21]
        c.cgroupView = .v1([.init(source: "/sys/fs/cgroup/memory/x", target: "memory")])
        c.mounts = [.init(kind: .tmpfs, source: "tmpfs", target: "/run", readOnly: true)]
        c.rlimits = [.init(resource: 7, soft: UInt64.max, hard: 1024)]
        var spec = ShimSpec(id: "abc", container: c, cgroup: "scompose/abc", resources: Resources(memory: 64 << 20, cpus: 1.5))
        spec.restart = RestartPolicy(name: "on-failure", maxRetries: 3)
        spec.logMaxSize = 10 << 20
        var net = ShimNetwork()
        net.interfaces = [.init(bridge: "scbr-1", hostName: "scv1", address: "172.18.0.2", prefix: 16, mac: nil, mtu: 1500)]
        spec.network = net
        let bytes = try StateJSONEncoder().encode(spec)
        let back = try StateJSONDecoder().decode(ShimSpec.self, from: bytes)
        #expect(back == spec)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"cgroup\":\"scompose/abc\""), "keys sorted: \(text.prefix(40))")
        #expect(!text.contains("joinNetworkOf"), "nil optionals are left out")
    }

    @Test func readsOtherWritersAndRejectsGarbage() throws {
        let text = #" { "pid" : 12, "shimPid": 3, "startedAt": "2026-01-01T00:00:00Z", "startTicks": 1e2, "shimStartTicks": 5, "restartCount": 0, "restarting": false, "extra": [null, {"x": "\u00e9\ud83d\ude00"}] } "#
        let s = try StateJSONDecoder().decode(RunningState.self, from: Array(text.utf8))
        #expect(s.pid == 12 && s.startTicks == 100 && s.lastExitCode == nil)
        for bad in ["", "{", "{\"pid\": }", "[1,]", "{\"pid\": 1} x", "\"unterminated"] {
            #expect(throws: (any Error).self) { try StateJSONDecoder().decode(RunningState.self, from: Array(bad.utf8)) }
        }
    }
}

/// The project event log rotates past its size, and writers racing over the rotation lose
/// nothing (one of them moves the log, the others go on in the new one).
struct EventLogTests {
    @Test func rotatesWithoutLosingLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-ev-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/p.events"
        let source = EventSource(path: log, service: "web", attributes: ["name": "p-web-1", "image": String(repeating: "i", count: 120)])
        let writers = 4
        let each = 6000
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for i in 0..<each { source.record("start", id: "w\(w)-\(i)") }
        }
        let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
        let current = try String(contentsOfFile: log, encoding: .utf8)
        #expect(Int64(rotated.utf8.count) >= EventSource.rotateBytes)
        #expect(Int64(current.utf8.count) < EventSource.rotateBytes)
        let lines = (rotated + current).split(separator: "\n")
        #expect(lines.count == writers * each)
        let decoded = lines.compactMap { try? StateJSONDecoder().decode(ContainerEvent.self, from: Array($0.utf8)) }
        #expect(Set(decoded.map(\.id)).count == writers * each)
    }
}
