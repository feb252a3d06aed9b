// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Pulls from a real registry: Debian's `docker-registry` on 127.0.0.1, fed by `skopeo copy`
/// with Docker and OCI media types, gzip and zstd layers.
@Suite(.serialized) struct RegistryTests {
    static var canRun: Bool {
        ComposeRunTests.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo")
    }

    /// A registry of our own on a free loopback port, stopped at the end.
    final class LocalRegistry {
        let process = Process()
        let port: Int

        init(dir: String) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            port = Int(UInt16(bigEndian: addr.sin_port))
            close(fd)
            let config = """
                version: 0.1
                log: {level: error}
                storage: {filesystem: {rootdirectory: \(dir)/registry}}
                http: {addr: 127.0.0.1:\(port)}
                """
            try config.write(toFile: dir + "/registry.yml", atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
            process.arguments = ["serve", dir + "/registry.yml"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Up once it accepts connections.
            for _ in 0..<100 {
                let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(s) }
                var to = sockaddr_in()
                to.sin_family = sa_family_t(AF_INET)
                to.sin_port = UInt16(port).bigEndian
                to.sin_addr.s_addr = inet_addr("127.0.0.1")
                let ok = withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                if ok == 0 { return }
                usleep(50_000)
            }
        }

        deinit {
            process.terminate()
            process.waitUntilExit()
        }
    }

    @Test(.enabled(if: canRun)) func pushedImagesPullAndRun() throws {
        // An image made here, pushed by skopeo three ways.
        let source = try RuntimeBehaviourTests.Project("services: {}\n")
        let registry = try LocalRegistry(dir: source.s.dir)
        let host = "127.0.0.1:\(registry.port)"
        let archive = source.s.dir + "/busybox-oci.tar"
        #expect(try source.s.run(["image", "save", "--format", "oci", "-o", archive, "busybox:latest"]).status == 0)
        let pushes: [(String, [String])] = [
            ("oci", []), ("docker", ["--format", "v2s2"]), ("zstd", ["--format", "oci", "--dest-compress", "--dest-compress-format", "zstd"]),
        ]
        for (tag, flags) in pushes {
            let push = try source.s.run(
                ["copy", "-q", "--dest-tls-verify=false"] + flags + ["oci-archive:" + archive, "docker://\(host)/test/busybox:\(tag)"],
                tool: "/usr/bin/skopeo")
            #expect(push.status == 0, "\(tag): \(push.err)")
        }
        // A fresh store: `up` pulls what it misses, in parallel, then runs it.
        let p = try RuntimeBehaviourTests.Project(
            """
            services:
              a: {image: "\(host)/test/busybox:oci", command: sleep 1000, stop_grace_period: 1s}
              b: {image: "\(host)/test/busybox:docker", command: sleep 1000, stop_grace_period: 1s}
              c: {image: "\(host)/test/busybox:zstd", command: sleep 1000, stop_grace_period: 1s}
            """)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("a Pulled") && up.err.contains("b Pulled") && up.err.contains("c Pulled"), "\(up.err)")
        for service in ["a", "b", "c"] {
            #expect(try p.run(["exec", "-T", service, "cat", "/etc/passwd"]).out.hasPrefix("root:x:0:0"), "\(service)")
        }
        // `image pull` again: all there, and the same image under three names.
        let again = try p.s.run(["image", "pull", "\(host)/test/busybox:docker"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("Already exists") && again.out.contains("Digest: sha256:"), "\(again.out)")
        // A tag the registry does not have: a clear error, nothing made.
        let missing = try p.s.run(["image", "pull", "\(host)/test/busybox:nope"])
        #expect(missing.status != 0 && missing.err.contains("not found"), "\(missing.err)")
        let ingest = (try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/content/ingest")) ?? []
        #expect(ingest.isEmpty)
        // `pull` of the project's services.
        #expect(try p.run(["pull", "-q"]).status == 0)
        try p.downAndCheckClean()
        // Push under other names: blobs the registry has are mounted, not sent again; then
        // the image pulls back into an empty store and runs.
        #expect(try p.s.run(["image", "tag", "\(host)/test/busybox:oci", "\(host)/copies/busybox:1"]).status == 0)
        let push = try p.s.run(["image", "push", "\(host)/copies/busybox:1"])
        #expect(push.status == 0, "\(push.err)")
        #expect(push.out.contains("The push refers to repository [\(host)/copies/busybox]") && push.out.contains("1: digest: sha256:"), "\(push.out)")
        #expect(!push.out.contains("Pushed"), "mounted from test/busybox: \(push.out)")
        let fresh = try RuntimeBehaviourTests.Project(
            "services:\n  a: {image: \"\(host)/copies/busybox:1\", command: [echo, pulled back]}\n")
        let run = try fresh.run(["run", "--rm", "-T", "a"])
        #expect(run.status == 0 && run.out == "pulled back\n", "\(run.out) \(run.err)")
        // A new image: its layer goes up (`push` of a service).
        #expect(try fresh.s.run(["image", "import", "-c", "CMD [\"sh\"]", source.s.dir + "/rootfs.tar.gz", "\(host)/fresh/layer:2"]).status == 0)
        try ("name: \(fresh.name)\nservices:\n  app: {image: \"\(host)/fresh/layer:2\"}\n").write(toFile: fresh.file, atomically: true, encoding: .utf8)
        let pushed = try fresh.run(["push"])
        #expect(pushed.status == 0 && pushed.err.contains("app Pushed"), "\(pushed.out) \(pushed.err)")
        #expect(try p.s.run(["image", "pull", "-q", "\(host)/fresh/layer:2"]).status == 0)
        _ = registry
    }
}
