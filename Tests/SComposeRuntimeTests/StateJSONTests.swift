// SPDX-License-Identifier: Apache-2.0
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
