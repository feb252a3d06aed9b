// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import SComposeLoader

@Suite struct PortSyntaxTests {
    @Test func shortForms() throws {
        #expect(try PortSpec.parse("80") == [.init(hostIP: "", published: "", target: 80, proto: "tcp")])
        #expect(try PortSpec.parse("8080:80/udp") == [.init(hostIP: "", published: "8080", target: 80, proto: "udp")])
        #expect(
            try PortSpec.parse("127.0.0.1:53:53/UDP") == [.init(hostIP: "127.0.0.1", published: "53", target: 53, proto: "udp")])
        #expect(try PortSpec.parse("[::1]:80:80").first?.hostIP == "::1")
        #expect(try PortSpec.parse("7000-7001:7000") == [.init(hostIP: "", published: "7000-7001", target: 7000, proto: "tcp")])
        let range = try PortSpec.parse("9999-10001:9999-10001")
        #expect(range.map(\.target) == [10000, 10001, 9999])
    }

    @Test(arguments: ["eighty", "1.2.3.4:80:80:80", "80/icmp", "", "70000", "90-80", "1-3:1-2"])
    func rejects(spec: String) {
        #expect(throws: PortSpec.Failure.self) { try PortSpec.parse(spec) }
    }
}

@Suite struct VolumeSyntaxTests {
    @Test func shortForms() throws {
        let bind = try VolumeSpec.parse("./src:/app:ro,z")
        #expect(bind.type == "bind")
        #expect(bind.source == "./src")
        #expect(bind.target == "/app")
        #expect(bind.readOnly)
        #expect(bind.selinux == "z")
        let named = try VolumeSpec.parse("data:/var/lib/db:nocopy")
        #expect(named.type == "volume")
        #expect(named.noCopy)
        let anonymous = try VolumeSpec.parse("/cache")
        #expect(anonymous.source.isEmpty && anonymous.target == "/cache")
        #expect(try VolumeSpec.parse("C:\\data:/data").type == "bind")
    }

    @Test func rejects() {
        #expect(throws: VolumeSpec.Failure.self) { try VolumeSpec.parse("") }
        #expect(throws: VolumeSpec.Failure.self) { try VolumeSpec.parse("ab::c") }
        #expect(throws: VolumeSpec.Failure.self) { try VolumeSpec.parse("ab:/b:ro:d") }
    }
}

@Suite struct UnitTests {
    @Test(arguments: [
        ("10s", "10s"), ("1m30s", "1m30s"), ("2m", "2m0s"), ("1h", "1h0m0s"), ("1.5s", "1.5s"), ("500ms", "500ms"),
        ("1d", "24h0m0s"), ("90m", "1h30m0s"), ("1h2m3s", "1h2m3s"), ("100us", "100µs"),
    ])
    func durations(text: String, printed: String) throws {
        #expect(Units.formatDuration(try Units.duration(text)) == printed)
    }

    @Test func badDurations() {
        #expect(throws: Units.Failure.self) { try Units.duration("10 seconds") }
        #expect(throws: Units.Failure.self) { try Units.duration("10") }
        #expect(throws: Units.Failure.self) { try Units.duration("abc") }
    }

    @Test(arguments: [
        ("1gb", Int64(1_073_741_824)), ("512m", 536_870_912), ("1.5g", 1_610_612_736), ("100", 100), ("64MiB", 67_108_864),
        ("1k", 1024), ("2 GB", 2_147_483_648),
    ])
    func sizes(text: String, bytes: Int64) throws {
        #expect(try Units.bytes(text) == bytes)
    }

    @Test func badSizes() {
        #expect(throws: Units.Failure.self) { try Units.bytes("lots") }
        #expect(throws: Units.Failure.self) { try Units.bytes("1zb") }
        #expect(throws: Units.Failure.self) { try Units.bytes("-1m") }
    }

    @Test func shellWords() throws {
        #expect(try ShellWords.split("echo 'a b' \"c d\" e\\ f") == ["echo", "a b", "c d", "e f"])
        #expect(try ShellWords.split("echo a && echo b") == ["echo", "a"])
        #expect(try ShellWords.split("") == [])
        #expect(throws: ShellWords.Failure.self) { try ShellWords.split("echo 'open") }
    }
}
