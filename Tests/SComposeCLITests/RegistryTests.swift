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

    /// A helper program of a test (a registry, a web server, a proxy) listening on `port`,
    /// killed when this goes away (SIGKILL: the test runner's children start with SIGTERM
    /// blocked).
    final class Server {
        let process = Process()

        init(_ tool: String, _ arguments: [String], port: Int) throws {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            LocalRegistry.waitForListener(port)
        }

        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A registry of our own on a free loopback port, stopped at the end.
    final class LocalRegistry {
        let port: Int
        var server: Server?

        /// A loopback port nothing listens on now.
        static func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        /// Waits until something accepts connections on `port`.
        static func waitForListener(_ port: Int) {
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

        init(dir: String) throws {
            port = Self.freePort()
            let config = """
                version: 0.1
                log: {level: error}
                storage: {filesystem: {rootdirectory: \(dir)/registry}}
                http: {addr: 127.0.0.1:\(port)}
                """
            try config.write(toFile: dir + "/registry.yml", atomically: true, encoding: .utf8)
            server = try Server("/usr/bin/docker-registry", ["serve", dir + "/registry.yml"], port: port)
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
        let never = try fresh.run(["run", "--rm", "-T", "--pull", "never", "a"])
        #expect(never.status != 0 && never.err.contains("No such image"), "\(never.err)")
        let run = try fresh.run(["run", "--rm", "-T", "a"])
        #expect(run.status == 0 && run.out == "pulled back\n", "\(run.out) \(run.err)")
        // The one-off made the project's network: it goes with the project.
        try fresh.downAndCheckClean()
        // A new image: its layer goes up (`push` of a service).
        #expect(try fresh.s.run(["image", "import", "-c", "CMD [\"sh\"]", source.s.dir + "/rootfs.tar.gz", "\(host)/fresh/layer:2"]).status == 0)
        try ("name: \(fresh.name)\nservices:\n  app: {image: \"\(host)/fresh/layer:2\"}\n").write(toFile: fresh.file, atomically: true, encoding: .utf8)
        let pushed = try fresh.run(["push"])
        #expect(pushed.status == 0 && pushed.err.contains("app Pushed"), "\(pushed.out) \(pushed.err)")
        #expect(try p.s.run(["image", "pull", "-q", "\(host)/fresh/layer:2"]).status == 0)
        _ = registry
    }

    /// A name held for two platforms goes up as an index of both (read back by skopeo, a
    /// client of its own), pulls back per platform into a fresh store, and a service's
    /// `platform:` picks its own image of the name.
    @Test(.enabled(if: canRun)) func multiPlatformPushAndPull() throws {
        let source = try RuntimeBehaviourTests.Project("services: {}\n")
        let registry = try LocalRegistry(dir: source.s.dir)
        let name = "127.0.0.1:\(registry.port)/multi/app:1"
        let tarball = source.s.dir + "/rootfs.tar.gz"
        for arch in ["amd64", "arm64"] {
            let imported = try source.s.run(
                ["image", "import", "--platform", "linux/\(arch)", "-c", "CMD [\"echo\", \"\(arch)\"]", tarball, name])
            #expect(imported.status == 0, "\(imported.err)")
        }
        #expect(try source.s.run(["image", "ls"]).out.components(separatedBy: "multi/app ").count == 3)
        let push = try source.s.run(["image", "push", name])
        #expect(push.status == 0, "\(push.err)")
        #expect(push.out.components(separatedBy: ": Pushed").count == 2, "one layer, shared: \(push.out)")
        let pushedDigest = push.out.split(separator: "\n").last { $0.hasPrefix("1: digest: ") }
            .map { String($0.split(separator: " ")[2]) } ?? ""
        let raw = try source.s.run(["inspect", "--raw", "--tls-verify=false", "docker://" + name], tool: "/usr/bin/skopeo")
        #expect(raw.status == 0, "\(raw.err)")
        let index = try JSONSerialization.jsonObject(with: Data(raw.out.utf8)) as? [String: Any]
        #expect(index?["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        let platforms = (index?["manifests"] as? [[String: Any]] ?? []).compactMap { ($0["platform"] as? [String: Any])?["architecture"] as? String }
        #expect(platforms.sorted() == ["amd64", "arm64"], "\(raw.out)")
        let arm = try source.s.run(
            ["--override-arch", "arm64", "inspect", "--tls-verify=false", "docker://" + name], tool: "/usr/bin/skopeo")
        #expect(arm.out.contains("\"Architecture\": \"arm64\""), "\(arm.out) \(arm.err)")
        // One platform alone, under another tag: a plain manifest.
        let single = "127.0.0.1:\(registry.port)/multi/app:arm"
        #expect(try source.s.run(["image", "tag", name, single]).status == 0)
        #expect(try source.s.run(["image", "push", "--platform", "linux/arm64", single]).status == 0)
        let singleRaw = try source.s.run(["inspect", "--raw", "--tls-verify=false", "docker://" + single], tool: "/usr/bin/skopeo")
        #expect(singleRaw.out.contains("\"layers\"") && !singleRaw.out.contains("\"manifests\""), "\(singleRaw.out)")
        let s390 = try source.s.run(["image", "push", "--platform", "linux/s390x", single])
        #expect(s390.status != 0 && s390.err.contains("does not provide the specified platform"), "\(s390.err)")

        // A fresh store: each service pulls the platform it names; the host's without one.
        let host = try source.s.run(["-m"], tool: "/usr/bin/uname").out.hasPrefix("aarch64") ? "arm64" : "amd64"
        let p = try RuntimeBehaviourTests.Project(
            """
            services:
              plain: {image: "\(name)"}
              arm: {image: "\(name)", platform: linux/arm64}
              amd: {image: "\(name)", platform: linux/amd64}
            """)
        for (service, says) in [("arm", "arm64"), ("amd", "amd64"), ("plain", host)] {
            let run = try p.run(["run", "--rm", "-T", service])
            #expect(run.status == 0 && run.out == says + "\n", "\(service): \(run.out) \(run.err)")
        }
        #expect(try p.s.run(["image", "ls"]).out.components(separatedBy: "multi/app ").count == 3)
        let again = try p.s.run(["image", "pull", name])
        #expect(again.out.contains("Digest: \(pushedDigest)"), "the index's digest, as Docker shows it: \(again.out)")
        let removed = try p.s.run(["image", "rm", name])
        #expect(removed.status == 0 && removed.out.components(separatedBy: "Deleted:").count == 3, "\(removed.out)")
        try p.downAndCheckClean()
        _ = registry
    }

    /// In front of the registry: the first transfer of each blob stops half-way and hangs (a
    /// connection that dies); every `Range` asked for is written to `ranges.log`.
    static let stallingProxy = """
        import http.server, sys, threading, time, urllib.error, urllib.request
        upstream, port, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        stalled, lock = set(), threading.Lock()
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_HEAD(self): self.do_GET()
            def do_GET(self):
                headers = {"Accept": self.headers.get("Accept", "*/*")}
                if self.headers.get("Range"):
                    headers["Range"] = self.headers["Range"]
                    with open(logfile, "a") as f: f.write(self.headers["Range"] + "\\n")
                try:
                    response = urllib.request.urlopen(urllib.request.Request(upstream + self.path, method=self.command, headers=headers))
                except urllib.error.HTTPError as error:
                    response = error
                body = response.read()
                self.send_response(response.status)
                for k in ("Content-Type", "Docker-Content-Digest", "Content-Range"):
                    if response.headers.get(k): self.send_header(k, response.headers[k])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "HEAD": return
                with lock:
                    stall = "/blobs/" in self.path and "Range" not in headers and len(body) > 100000 and self.path not in stalled
                    stalled.add(self.path)
                if stall:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(3600)
                self.wfile.write(body)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.serve_forever()
        """

    /// A pull killed half-way through a layer (kill -9) stores nothing, and the next pull asks
    /// only for the rest of the layer (RELIABILITY.md §11).
    @Test(.enabled(if: canRun)) func pullKilledHalfWayResumes() throws {
        let source = try RuntimeBehaviourTests.Project("services: {}\n")
        let registry = try LocalRegistry(dir: source.s.dir)
        let tarball = source.s.dir + "/rootfs.tar.gz"
        let name = "127.0.0.1:\(registry.port)/test/resume:1"
        #expect(try source.s.run(["image", "import", tarball, name]).status == 0)
        #expect(try source.s.run(["image", "push", "-q", name]).status == 0)
        let port = LocalRegistry.freePort()
        try Self.stallingProxy.write(toFile: source.s.dir + "/stall.py", atomically: true, encoding: .utf8)
        let log = source.s.dir + "/ranges.log"
        let proxy = try Server(
            "/usr/bin/python3", [source.s.dir + "/stall.py", "http://127.0.0.1:\(registry.port)", String(port), log], port: port)
        let fresh = try ImageCommandTests.Sandbox()
        let through = "127.0.0.1:\(port)/test/resume:1"
        let pull = Process()
        pull.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        pull.arguments = ["image", "pull", "-q", through]
        pull.environment = ProcessInfo.processInfo.environment.merging(["SCOMPOSE_ROOT": fresh.root]) { $1 }
        pull.standardOutput = FileHandle.nullDevice
        pull.standardError = FileHandle.nullDevice
        try pull.run()
        let ingest = fresh.root + "/content/ingest"
        // The layer's partial file (only it is over 16 KiB: the config blob's may show up first
        // on a slow machine), once the proxy has stalled it half-way.
        var kept: Int64 = 0
        for _ in 0..<600 where kept < 16_384 {
            usleep(50_000)
            let partials = ((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []).filter { $0.hasPrefix("partial-") }
            kept = partials.compactMap { try? FileManager.default.attributesOfItem(atPath: ingest + "/" + $0)[.size] as? Int64 }.max() ?? 0
        }
        kill(pull.processIdentifier, SIGKILL)
        pull.waitUntilExit()
        #expect(kept >= 16_384, "the first transfer got part of the layer")
        #expect(try fresh.run(["image", "ls", "-q"]).out.isEmpty, "nothing half-stored")
        let again = try fresh.run(["image", "pull", through])
        #expect(again.status == 0, "\(again.err)")
        let ranges = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(ranges.hasPrefix("bytes=") && !ranges.hasPrefix("bytes=0-"), "resumed, not restarted: \(ranges)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []).isEmpty)
        #expect(try fresh.run(["image", "inspect", through]).status == 0)
        _ = proxy
        _ = registry
    }

    /// A token server in front of the registry, as Docker Hub and GHCR work: every request
    /// wants a bearer token, which the realm gives for the right basic credentials only.
    static let tokenProxy = """
        import base64, http.server, json, sys, urllib.error, urllib.request
        upstream, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        TOKEN = "t0k3n-for-test"
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers: self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD": self.wfile.write(body)
            def do_HEAD(self): self.do_GET()
            def do_GET(self):
                if self.path.startswith("/token"):
                    good = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                    if self.headers.get("Authorization") != good or "service=test-registry" not in self.path:
                        return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                    return self.reply(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="test-registry",scope="repository:test/busybox:pull"'
                    return self.reply(401, b"", [("WWW-Authenticate", challenge)])
                request = urllib.request.Request(upstream + self.path, method=self.command, headers={"Accept": self.headers.get("Accept", "*/*")})
                try:
                    response = urllib.request.urlopen(request)
                except urllib.error.HTTPError as error:
                    response = error
                body = response.read()
                headers = [(k, response.headers[k]) for k in ("Content-Type", "Docker-Content-Digest") if response.headers.get(k)]
                self.reply(response.status, body, headers)
        http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
        """

    @Test(.enabled(if: canRun)) func bearerTokenWithStoredCredentials() throws {
        let source = try RuntimeBehaviourTests.Project("services: {}\n")
        let registry = try LocalRegistry(dir: source.s.dir)
        let archive = source.s.dir + "/busybox-oci.tar"
        #expect(try source.s.run(["image", "save", "--format", "oci", "-o", archive, "busybox:latest"]).status == 0)
        let seed = try source.s.run(
            ["copy", "-q", "--dest-tls-verify=false", "oci-archive:" + archive, "docker://127.0.0.1:\(registry.port)/test/busybox:1"],
            tool: "/usr/bin/skopeo")
        #expect(seed.status == 0, "\(seed.err)")
        let port = LocalRegistry.freePort()
        try Self.tokenProxy.write(toFile: source.s.dir + "/proxy.py", atomically: true, encoding: .utf8)
        let proxy = try Server(
            "/usr/bin/python3", [source.s.dir + "/proxy.py", "http://127.0.0.1:\(registry.port)", String(port), "alice", "s3cret"],
            port: port)
        // Credentials as `docker login` leaves them, in a config of the test's own.
        func login(_ password: String) throws {
            let auth = Data("alice:\(password)".utf8).base64EncodedString()
            try #"{"auths":{"127.0.0.1:\#(port)":{"auth":"\#(auth)"}}}"#.write(
                toFile: source.s.dir + "/config.json", atomically: true, encoding: .utf8)
        }
        setenv("DOCKER_CONFIG", source.s.dir, 1)
        defer { unsetenv("DOCKER_CONFIG") }
        let fresh = try ImageCommandTests.Sandbox()
        try login("wrong")
        let refused = try fresh.run(["image", "pull", "127.0.0.1:\(port)/test/busybox:1"])
        #expect(refused.status != 0 && refused.err.contains("token"), "\(refused.err)")
        #expect(try fresh.run(["image", "ls", "-q"]).out.isEmpty)
        try login("s3cret")
        let pulled = try fresh.run(["image", "pull", "127.0.0.1:\(port)/test/busybox:1"])
        #expect(pulled.status == 0, "\(pulled.err)")
        #expect(pulled.out.contains("Pull complete"), "\(pulled.out)")
        _ = proxy
        _ = registry
    }
}
