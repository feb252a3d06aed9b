// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The examples end to end: images built from the debootstrap Debian image (packages from
/// the Debian mirror), `up -d --wait`, the page answers with data read from the database, the
/// data survives `down` + `up`, and `down -v` leaves nothing behind.
@Suite(.serialized) struct ExampleStackTests {
    static func example(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/" + name).path
    }

    /// The app-postgres and web-redis images install packages from the Debian mirror while they
    /// build: without a default route (the VM of scripts/vm-test.sh), they cannot.
    /// `scripts/vm/examples.sh` runs those examples there with images built on the host.
    static var canBuildExamples: Bool {
        guard BuildTests.canRunDebian, let routes = try? String(contentsOfFile: "/proc/net/route", encoding: .utf8) else { return false }
        return routes.split(separator: "\n").dropFirst().contains { $0.split(separator: "\t").dropFirst().first == "00000000" }
    }
    static let noNetwork: Comment =
        "no network to build the example's images with apt (scripts/vm/examples.sh runs it in the VM), or no debian:bookworm cache"

    static func links() -> Set<String> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        return Set(entries)
    }

    @Test(.enabled(if: canBuildExamples, noNetwork)) func upAnswersKeepsDataAndDownLeavesNothing() throws {
        let s = try ImageCommandTests.Sandbox()
        #expect(try s.run(["image", "import", BuildTests.debianCache, "debian:bookworm"]).status == 0)
        let name = "ap\(getpid())"
        let envFile = s.dir + "/test.env"
        try "WEB_PORT=18181\nDB_PASSWORD=s3cret-\(getpid())\n".write(toFile: envFile, atomically: true, encoding: .utf8)
        let compose = ["-f", Self.example("app-postgres") + "/compose.yaml", "-p", name, "--env-file", envFile]
        let linksBefore = Self.links()
        func page() throws -> String {
            var text = ""
            for _ in 0..<50 {
                text = try s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:18181/"], tool: "/bin/busybox").out
                if text.contains("visit") { break }
                usleep(100_000)
            }
            return text
        }

        let up = try s.run(compose + ["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("Service db  Built") && up.err.contains("Service web  Built"), "\(up.err)")
        let ps = try s.run(compose + ["ps"])
        #expect(ps.out.components(separatedBy: "(healthy)").count == 3, "\(ps.out)")
        #expect(ps.out.contains("0.0.0.0:18181->8000/tcp"), "\(ps.out)")
        let first = try page()
        #expect(first.hasPrefix("Hello from app-postgres: visit 1, stored in PostgreSQL 15"), "\(first)")

        // Containers go, the named volume stays: the count goes on.
        let down = try s.run(compose + ["down"])
        #expect(down.status == 0, "\(down.err)")
        let again = try s.run(compose + ["up", "-d", "--wait"])
        #expect(again.status == 0, "\(again.err)")
        #expect(!again.err.contains("Built"), "images are built once: \(again.err)")
        #expect(try page().contains("visit 2,"))

        let ids = (try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []
        var pids: [Int32] = []
        for id in ids {
            guard let data = FileManager.default.contents(atPath: s.root + "/containers/\(id)/state.json"),
                let state = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { continue }
            pids += [state["pid"], state["shimPid"]].compactMap { ($0 as? Int).map(Int32.init) }
        }
        #expect(pids.count == 4, "two containers and their shims")
        let bridges = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/networks")) ?? []).compactMap { network -> String? in
                guard let data = FileManager.default.contents(atPath: s.root + "/networks/\(network)/network.json"),
                    let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                else { return nil }
                return record["bridge"] as? String
            })
        #expect(!bridges.isEmpty)
        let gone = try s.run(compose + ["down", "-v"])
        #expect(gone.status == 0, "\(gone.err)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []).isEmpty)
        #expect(try s.run(["volume", "ls", "-q"]).out.isEmpty)
        #expect(try s.run(["network", "ls", "-q", "--filter", "name=\(name)"]).out.isEmpty)
        // Only this project's links: other tests (or Docker) may make their own meanwhile.
        let ours = Self.links().subtracting(linksBefore).filter { link in
            bridges.contains(link) || ids.contains { link.hasPrefix("scv" + $0.prefix(10)) }
        }
        #expect(ours.isEmpty, "no bridge or veth of the project is left: \(ours)")
        let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
        #expect(!mounts.contains(s.root))
        for id in ids {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/scompose/\(id)"))
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/scompose/\(id)"))
        }
        for pid in pids { #expect(kill(pid, 0) != 0 || RuntimeBehaviourTests.isZombie(pid), "process \(pid) is left") }
        if FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") {
            let tables = try s.run(["list", "tables"], tool: "/usr/sbin/nft").out
            for id in ids { #expect(!tables.contains(String(id.prefix(12))), "no nftables table of a container is left") }
        }
    }

    /// The quickstart (busybox only): healthy, its page and the worker's heartbeat served on
    /// the published port, and nothing left after `down -v`.
    @Test(.enabled(if: ComposeRunTests.canRun)) func quickstartServesItsPageAndHeartbeat() throws {
        let s = try ImageCommandTests.Sandbox()
        try RuntimeBehaviourTests.Project.importBusybox(s)
        let envFile = s.dir + "/test.env"
        try "WEB_PORT=18183\n".write(toFile: envFile, atomically: true, encoding: .utf8)
        let compose = ["-f", Self.example("quickstart") + "/compose.yaml", "-p", "qs\(getpid())", "--env-file", envFile]
        let up = try s.run(compose + ["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        #expect(try s.run(compose + ["ps"]).out.contains("(healthy)"))
        func get(_ path: String) throws -> String {
            try s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:18183/" + path], tool: "/bin/busybox").out
        }
        #expect(try get("").contains("Hello from scompose"))
        var heartbeat = ""
        for _ in 0..<50 where heartbeat.isEmpty {
            heartbeat = try get("status/now.txt")
            usleep(100_000)
        }
        #expect(heartbeat.contains("UTC"), "the worker's heartbeat through the shared volume: \(heartbeat)")
        let down = try s.run(compose + ["down", "-v"])
        #expect(down.status == 0, "\(down.err)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []).isEmpty)
        #expect(try s.run(["volume", "ls", "-q"]).out.isEmpty)
    }

    @Test(.enabled(if: canBuildExamples, noNetwork)) func webRedisCountsAcrossRestarts() throws {
        let s = try ImageCommandTests.Sandbox()
        #expect(try s.run(["image", "import", BuildTests.debianCache, "debian:bookworm"]).status == 0)
        let envFile = s.dir + "/test.env"
        try "WEB_PORT=18182\n".write(toFile: envFile, atomically: true, encoding: .utf8)
        let compose = ["-f", Self.example("web-redis") + "/compose.yaml", "-p", "wr\(getpid())", "--env-file", envFile]
        func page() throws -> String {
            try s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:18182/"], tool: "/bin/busybox").out
        }
        let up = try s.run(compose + ["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        #expect(try page() == "Hello from web-redis: visit 1\n")
        #expect(try page() == "Hello from web-redis: visit 2\n")
        #expect(try s.run(compose + ["down"]).status == 0)
        #expect(try s.run(compose + ["up", "-d", "--wait"]).status == 0)
        #expect(try page() == "Hello from web-redis: visit 3\n", "the append-only file in the volume kept the count")
        #expect(try s.run(compose + ["exec", "-T", "redis", "redis-cli", "get", "visits"]).out == "3\n")
        let down = try s.run(compose + ["down", "-v"])
        #expect(down.status == 0, "\(down.err)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []).isEmpty)
        #expect(try s.run(["volume", "ls", "-q"]).out.isEmpty)
        #expect(!(try String(contentsOfFile: "/proc/mounts", encoding: .utf8)).contains(s.root))
    }
}
