// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Rootless mode from the CLI, for real: an ordinary user made for the test (with a range of
/// subordinate IDs) runs scompose as themself, with their own state, namespaces and pasta.
@Suite(.serialized) struct RootlessTests {
    static var canRun: Bool {
        var tun = stat()
        return getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/newuidmap")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/pasta")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd")
            // pasta opens it as the user: Debian's default is 0666.
            && stat("/dev/net/tun", &tun) == 0 && tun.st_mode & 0o006 == 0o006
    }

    /// A user of the test's own, its binaries and image; everything of theirs goes at the end.
    /// `index` tells apart the users of one test (names, subordinate ranges, shared folders).
    final class User: @unchecked Sendable {
        let name: String
        let uid: UInt32
        let home: String
        /// A directory every user can read: the binaries and the image's tarball.
        let shared: String

        init(index: Int = 0) throws {
            name = "scrl\(getpid() % 100_000)" + (index == 0 ? "" : "x\(index)")
            shared = "/tmp/scompose-rootless-\(getpid())" + (index == 0 ? "" : "-\(index)")
            home = "/home/" + name
            // Left by an earlier run that was killed.
            _ = try? Self.tool("/usr/sbin/userdel", ["-r", name])
            // Ranges of their own: 300000 and up, out of the way of Debian's defaults (100000).
            let start = 300_000 + (Int(getpid() % 1000) * 4 + index) * 65_536
            try Self.check(Self.tool("/usr/sbin/useradd", ["-m", "-U", "-s", "/bin/sh", name]))
            try Self.check(
                Self.tool("/usr/sbin/usermod", ["--add-subuids", "\(start)-\(start + 65_535)", "--add-subgids", "\(start)-\(start + 65_535)", name]))
            guard let entry = getpwnam(name) else { throw TestFailure("no passwd entry for \(name)") }
            uid = entry.pointee.pw_uid
            try FileManager.default.createDirectory(atPath: shared + "/bin", withIntermediateDirectories: true)
            for binary in ["scompose", "scompose-shim"] {
                let from = URL(fileURLWithPath: ImageCommandTests.binary).deletingLastPathComponent().appendingPathComponent(binary).path
                try FileManager.default.copyItem(atPath: from, toPath: shared + "/bin/" + binary)
            }
            try Self.check(Self.tool("/bin/chmod", ["-R", "a+rX", shared]))
        }

        deinit {
            // Whatever of the user's still runs (a failed test's containers, the holder, pasta).
            for _ in 0..<3 {
                let left = processes()
                if left.isEmpty { break }
                for pid in left { kill(pid, SIGKILL) }
                usleep(200_000)
            }
            _ = try? Self.tool("/usr/sbin/userdel", ["-r", name])
            try? FileManager.default.removeItem(atPath: shared)
            // The holder's run directory (no XDG_RUNTIME_DIR under runuser).
            try? FileManager.default.removeItem(atPath: "/tmp/scompose-\(uid)")
        }

        /// Ends what lingering started: the user's systemd manager and their runtime directory.
        func endSession() {
            _ = try? Self.tool("/usr/bin/loginctl", ["disable-linger", name])
            _ = try? Self.tool("/usr/bin/loginctl", ["terminate-user", name])
            _ = try? Self.tool("/usr/bin/systemctl", ["stop", "user@\(uid).service"])
        }

        /// The user's processes (their uid outside, as every process of a rootless container has).
        func processes() -> [pid_t] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { pid_t($0) }.filter { pid in
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                    !status.contains("State:\tZ")
                else { return false }
                return Self.field(status, "Uid:") == "\(uid)"
            }
        }

        /// The user's processes still there after up to 3 s, scaled under TCG (what `down` ends,
        /// pasta last, goes a moment later).
        func processesLeft() -> [pid_t] {
            var left = processes()
            for _ in 0..<ImageCommandTests.polls(30) where !left.isEmpty {
                usleep(100_000)
                left = processes()
            }
            return left
        }

        /// The user's processes and pasta's ports, for a failure's message.
        func describe() -> String {
            let lines = processes().map { pid in
                let cgroup = ((try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? "").split(separator: "\n").last ?? ""
                return "\(pid) (\(cgroup)): "
                    + ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "?").replacingOccurrences(of: "\0", with: " ")
            }
            // The run directory: $XDG_RUNTIME_DIR/scompose where the test sets it, else /tmp's.
            let run = ["/run/user/\(uid)/scompose", "/tmp/scompose-\(uid)"].first { FileManager.default.fileExists(atPath: $0 + "/holder.lock") } ?? ""
            let ports = (try? String(contentsOfFile: run + "/pasta.ports", encoding: .utf8)) ?? "none"
            let holder = (try? String(contentsOfFile: run + "/holder.pid", encoding: .utf8)) ?? "none"
            return "processes: \(lines); forwarded: \(ports); holder.pid: \(holder)"
        }

        static func field(_ status: String, _ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name) }?.split(separator: "\t").dropFirst().first.map(String.init)
        }

        /// `scompose args` as the user, in `directory` of their home.
        func run(_ args: [String], in directory: String = "", environment: [String: String] = [:]) throws -> ImageCommandTests.Run {
            try Self.tool("/usr/sbin/runuser", command(args, environment: environment), directory: home + "/" + directory)
        }

        /// runuser's arguments for `scompose args` as the user, with a clean environment.
        func command(_ args: [String], environment: [String: String] = [:]) -> [String] {
            let env = ["HOME=" + home, "PATH=/usr/bin:/bin:/usr/sbin:/sbin"] + environment.map { "\($0.key)=\($0.value)" }
            return ["-u", name, "--", "/usr/bin/env", "-i"] + env + [shared + "/bin/scompose"] + args
        }

        /// The busybox image of the test, imported by the user into their own store.
        func importBusybox(from s: ImageCommandTests.Sandbox) throws {
            if !FileManager.default.fileExists(atPath: s.dir + "/rootfs.tar.gz") { try RuntimeBehaviourTests.Project.importBusybox(s) }
            try FileManager.default.copyItem(atPath: s.dir + "/rootfs.tar.gz", toPath: shared + "/busybox.tar.gz")
            _ = try Self.tool("/bin/chmod", ["a+r", shared + "/busybox.tar.gz"])
            let imported = try run(["image", "import", shared + "/busybox.tar.gz", "busybox:latest"])
            if imported.status != 0 { throw TestFailure("image import as \(name): \(imported.err)") }
        }

        /// Writes `text` to `path` (`dir/file`) of the user's home, theirs.
        func write(_ text: String, to path: String) throws {
            let full = home + "/" + path
            let dir = URL(fileURLWithPath: full).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
            // Not the whole home: the image store holds files of the user's subordinate IDs.
            try Self.check(Self.tool("/bin/chown", ["-R", "\(name):\(name)", dir]))
        }

        /// Files of `home` not owned by the user.
        func foreignFiles() -> [String] {
            var out: [String] = []
            let walker = FileManager.default.enumerator(atPath: home)
            while let path = walker?.nextObject() as? String {
                var st = stat()
                if lstat(home + "/" + path, &st) == 0, st.st_uid != uid { out.append("\(path) (\(st.st_uid))") }
            }
            return out
        }

        static func tool(_ path: String, _ args: [String], directory: String? = nil) throws -> ImageCommandTests.Run {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = args
            if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return ImageCommandTests.Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
        }

        static func check(_ r: ImageCommandTests.Run) throws {
            if r.status != 0 { throw TestFailure("exit \(r.status): \(r.err)") }
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// The quickstart brought up by an ordinary user: healthy, served on 127.0.0.1 from the
    /// host; root inside the container, the user outside; bind-mounted files the user's; a named
    /// volume kept across `down` and `up`; the limits it cannot apply said; a port below 1024
    /// refused; and after `down -v` nothing of theirs left running or owned by anyone else.
    @Test(.enabled(if: canRun)) func quickstartAsAnOrdinaryUser() throws {
        let user = try User()
        // The image, imported by the user into their own store.
        let s = try ImageCommandTests.Sandbox()
        try user.importBusybox(from: s)
        // The quickstart, and a project of files and limits, in the user's home.
        try User.check(User.tool("/bin/cp", ["-r", ExampleStackTests.example("quickstart"), user.home + "/quickstart"]))
        try FileManager.default.createDirectory(atPath: user.home + "/files/out", withIntermediateDirectories: true)
        try """
            services:
              keeper:
                image: busybox:latest
                command: ["sh", "-c", "echo run >> /data/log; touch /out/made; exec sleep 1000"]
                mem_limit: 64m
                volumes: ["kept:/data", "./out:/out"]
            volumes:
              kept: {}
            """.write(toFile: user.home + "/files/compose.yaml", atomically: true, encoding: .utf8)
        try User.check(User.tool("/bin/chown", ["-R", "\(user.name):\(user.name)", user.home + "/quickstart", user.home + "/files"]))

        let port = 18_185
        let up = try user.run(["up", "-d", "--wait"], in: "quickstart", environment: ["WEB_PORT": "\(port)"])
        #expect(up.status == 0, "\(up.err)")
        #expect(try user.run(["ps"], in: "quickstart").out.contains("(healthy)"))
        let page = try User.tool("/bin/busybox", ["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/"])
        #expect(page.out.contains("Hello from scompose"), "\(page.err) \(up.err) \(user.describe())")
        // Root inside, the user outside.
        #expect(try user.run(["exec", "-T", "worker", "id", "-u"], in: "quickstart").out == "0\n")
        let states = try FileManager.default.contentsOfDirectory(atPath: user.home + "/.local/share/scompose/containers")
        #expect(states.count == 2)
        for id in states {
            let data = try Data(contentsOf: URL(fileURLWithPath: user.home + "/.local/share/scompose/containers/\(id)/state.json"))
            let pid = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["pid"] as? Int)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            #expect(User.field(status, "Uid:") == "\(user.uid)", "the container's process runs as the user outside")
        }

        // Files, a kept volume, and limits that cannot be applied without delegated cgroups.
        let files = try user.run(["up", "-d"], in: "files")
        #expect(files.status == 0, "\(files.err)")
        #expect(files.err.contains("not applied: keeper: mem_limit"), "\(files.err)")
        var made = stat()
        for _ in 0..<50 where stat(user.home + "/files/out/made", &made) != 0 { usleep(100_000) }
        #expect(made.st_uid == user.uid, "a file the container made in a bind mount is the user's")
        #expect(try user.run(["down"], in: "files").status == 0)
        #expect(try user.run(["up", "-d"], in: "files").status == 0)
        var log = ""
        for _ in 0..<50 where log.split(separator: "\n").count < 2 {
            log = try user.run(["exec", "-T", "keeper", "cat", "/data/log"], in: "files").out
            usleep(100_000)
        }
        #expect(log == "run\nrun\n", "the named volume kept its data across down and up")

        // A port an ordinary user cannot bind on the host.
        try "services:\n  low:\n    image: busybox:latest\n    command: [sleep, '100']\n    ports: ['80:80']\n"
            .write(toFile: user.home + "/low.yaml", atomically: true, encoding: .utf8)
        _ = try User.tool("/bin/chown", ["\(user.name):\(user.name)", user.home + "/low.yaml"])
        let low = try user.run(["-f", "low.yaml", "-p", "low", "up", "-d"])
        #expect(low.status != 0 && low.err.contains("net.ipv4.ip_unprivileged_port_start=80"), "\(low.err)")
        _ = try user.run(["-f", "low.yaml", "-p", "low", "down"])

        // Everything goes: containers, volumes, the namespaces' holder and pasta.
        #expect(try user.run(["down", "-v"], in: "files").status == 0)
        let down = try user.run(["down", "-v"], in: "quickstart")
        #expect(down.status == 0, "\(down.err)")
        let left = user.processesLeft()
        #expect(left.isEmpty, "processes of the user left: \(user.describe())")
        #expect(user.foreignFiles().isEmpty, "files in the user's home owned by others: \(user.foreignFiles())")
        #expect(try User.tool("/bin/busybox", ["wget", "-q", "-T", "1", "-O", "-", "http://127.0.0.1:\(port)/"]).status != 0)
    }

    /// Two users at once, with the same project name and the same container port (published
    /// on different host ports): each sees only their own project, both answer on 127.0.0.1,
    /// and one's `down` leaves the other's project running and answering.
    @Test(.enabled(if: canRun)) func twoUsersWithTheSameProjectAtOnce() throws {
        let users = try [User(index: 1), User(index: 2)]
        let s = try ImageCommandTests.Sandbox()
        let ports = [18_186, 18_187]
        for (user, port) in zip(users, ports) {
            try user.importBusybox(from: s)
            try user.write(
                """
                name: same
                services:
                  web:
                    image: busybox:latest
                    command: ["sh", "-c", "mkdir -p /www && echo page of \(user.name) > /www/index.html && exec httpd -f -p 8080 -h /www"]
                    ports: ["\(port):8080"]
                    healthcheck:
                      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
                      interval: 1s
                      start_interval: 100ms
                """, to: "same/compose.yaml")
        }
        func page(_ port: Int) throws -> String {
            var text = ""
            for _ in 0..<50 {
                // No -T: Debian 12 busybox wget crashes with it on a successful answer.
                text = try User.tool("/bin/busybox", ["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/"]).out
                if !text.isEmpty { break }
                usleep(100_000)
            }
            return text
        }

        // Both `up` at once: each starts their own holder and pasta meanwhile.
        let group = DispatchGroup()
        let results = Results()
        for (i, user) in users.enumerated() {
            DispatchQueue.global().async(group: group) {
                let r = (try? user.run(["up", "-d", "--wait"], in: "same")) ?? ImageCommandTests.Run(status: -1, out: "", err: "runuser failed")
                results.set(i, r)
            }
        }
        group.wait()
        for (i, user) in users.enumerated() {
            let up = results.get(i)
            #expect(up?.status == 0, "\(user.name): \(up?.err ?? "") \(user.describe())")
        }
        for (user, port) in zip(users, ports) {
            let text = try page(port)
            #expect(text == "page of \(user.name)\n", "\(text) \(user.describe())")
            let ps = try user.run(["ps"], in: "same").out
            let others = ports.filter { $0 != port }.map { "0.0.0.0:\($0)->" }
            #expect(
                ps.contains("same-web-1") && ps.contains("0.0.0.0:\(port)->8080/tcp") && !others.contains { ps.contains($0) },
                "\(user.name) sees only their own container: \(ps)")
            let ls = try user.run(["ls", "-q"]).out
            #expect(ls == "same\n", "\(user.name) lists only their own project: \(ls)")
            let all = try user.run(["ps", "-a", "-q"], in: "same").out.split(separator: "\n")
            #expect(all.count == 1)
        }

        // The first user's `down` leaves the second's project alone.
        let down = try users[0].run(["down"], in: "same")
        #expect(down.status == 0, "\(down.err)")
        #expect(try User.tool("/bin/busybox", ["wget", "-q", "-T", "1", "-O", "-", "http://127.0.0.1:\(ports[0])/"]).status != 0)
        let still = try page(ports[1])
        #expect(still == "page of \(users[1].name)\n", "\(still) \(users[1].describe())")
        #expect(try users[1].run(["ps"], in: "same").out.contains("(healthy)"))
        #expect(users[0].processesLeft().isEmpty, "processes of the first user left: \(users[0].describe())")
        #expect(!users[1].processes().isEmpty)

        #expect(try users[1].run(["down"], in: "same").status == 0)
        #expect(try User.tool("/bin/busybox", ["wget", "-q", "-T", "1", "-O", "-", "http://127.0.0.1:\(ports[1])/"]).status != 0)
    }

    /// app-postgres (images built from Debian packages, with files of several owners) brought
    /// up by an ordinary user from images built by root and loaded by the user, as
    /// scripts/vm/examples.sh does: healthy, served on 127.0.0.1, root inside the database's
    /// container; after `down -v` and the images' removal nothing of theirs runs and nothing
    /// in their home belongs to anyone else.
    @Test(.enabled(if: canRun && ExampleStackTests.canBuildExamples, ExampleStackTests.noNetwork))
    func appPostgresAsAnOrdinaryUser() throws {
        let user = try User()
        let s = try ImageCommandTests.Sandbox()
        #expect(try s.run(["image", "import", BuildTests.debianCache, "debian:bookworm"]).status == 0)
        let build = try s.run(["-f", ExampleStackTests.example("app-postgres") + "/compose.yaml", "build", "-q"])
        try #require(build.status == 0, "\(build.err)")
        let images = user.shared + "/app-postgres.tar"
        let save = try s.run(["image", "save", "-o", images, "app-postgres-db", "app-postgres-web"])
        try #require(save.status == 0, "\(save.err)")
        _ = try User.tool("/bin/chmod", ["a+r", images])
        // Layers with files of other owners (postgres, _apt) and opaque directories unpack in
        // the user's namespace.
        let load = try user.run(["image", "load", "-i", images])
        try #require(load.status == 0, "\(load.err)")
        try User.check(User.tool("/bin/cp", ["-r", ExampleStackTests.example("app-postgres"), user.home + "/app-postgres"]))
        // The project only: the image store holds files of the user's subordinate IDs.
        try User.check(User.tool("/bin/chown", ["-R", "\(user.name):\(user.name)", user.home + "/app-postgres"]))

        let port = 18_188
        let env = ["WEB_PORT": "\(port)"]
        let up = try user.run(["up", "-d", "--wait", "--no-build"], in: "app-postgres", environment: env)
        if up.status != 0 {
            let logs = try user.run(["logs", "db"], in: "app-postgres", environment: env)
            Issue.record("up failed: \(up.err) \(user.describe()); the database's log: \(logs.out) \(logs.err)")
        }
        let ps = try user.run(["ps"], in: "app-postgres", environment: env).out
        #expect(ps.components(separatedBy: "(healthy)").count == 3, "\(ps)")
        var page = ""
        for _ in 0..<50 where !page.contains("visit") {
            page = try User.tool("/bin/busybox", ["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/"]).out
            if !page.contains("visit") { usleep(100_000) }
        }
        #expect(page.hasPrefix("Hello from app-postgres: visit 1, stored in PostgreSQL 15"), "\(page) \(user.describe())")
        #expect(try user.run(["exec", "-T", "db", "id", "-u"], in: "app-postgres", environment: env).out == "0\n")

        let down = try user.run(["down", "-v"], in: "app-postgres", environment: env)
        #expect(down.status == 0, "\(down.err)")
        #expect(!down.err.contains("not forwarded"), "no complaint about pasta once the holder is gone: \(down.err)")
        let left = user.processesLeft()
        #expect(left.isEmpty, "processes of the user left: \(user.describe())")
        // The images hold files of subordinate IDs until they are removed (inside the namespace).
        let rmi = try user.run(["image", "rm", "app-postgres-db", "app-postgres-web"])
        #expect(rmi.status == 0, "\(rmi.err)")
        let foreign = user.foreignFiles()
        #expect(foreign.isEmpty, "files in the user's home owned by others: \(foreign.prefix(10))")
    }

    /// A UDP echo server, built static by the test (busybox has no UDP server applet here).
    static let udpEcho = """
        #include <netinet/in.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/socket.h>
        int main(int argc, char **argv) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in a;
            memset(&a, 0, sizeof a);
            a.sin_family = AF_INET;
            a.sin_port = htons(argc > 1 ? atoi(argv[1]) : 9999);
            if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) return 1;
            char buf[512];
            for (;;) {
                struct sockaddr_in from;
                socklen_t len = sizeof from;
                ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &len);
                if (n < 0) continue;
                memcpy(buf, "echo ", 5);
                sendto(s, buf, n + 5, 0, (struct sockaddr *)&from, len);
            }
        }
        """

    /// One datagram to 127.0.0.1:`port` and the answer (nil after `timeout` seconds).
    static func udpExchange(_ text: String, port: UInt16, timeout: Int = 2) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bytes = Array(text.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == bytes.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// A published UDP port, rootless: pasta forwards it (`-u`) as it does TCP ones, and the
    /// container's answer comes back to the host's 127.0.0.1; `down` takes the forward away.
    @Test(.enabled(if: canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/cc"), "needs a C compiler for the test's UDP server"))
    func publishedUDPPortAnswers() throws {
        let user = try User()
        let s = try ImageCommandTests.Sandbox()
        try RuntimeBehaviourTests.Project.importBusybox(s) { rootfs in
            try Self.udpEcho.write(toFile: s.dir + "/udpecho.c", atomically: true, encoding: .utf8)
            try User.check(User.tool("/usr/bin/cc", ["-static", "-O2", "-o", rootfs + "/bin/udpecho", s.dir + "/udpecho.c"]))
        }
        try user.importBusybox(from: s)
        let port: UInt16 = 18_189
        try user.write(
            """
            services:
              echo:
                image: busybox:latest
                command: ["udpecho", "9999"]
                ports: ["\(port):9999/udp"]
            """, to: "udp/compose.yaml")
        let up = try user.run(["up", "-d"], in: "udp")
        #expect(up.status == 0, "\(up.err)")
        #expect(try user.run(["ps"], in: "udp").out.contains("0.0.0.0:\(port)->9999/udp"))
        var answer: String?
        for _ in 0..<20 where answer == nil { answer = Self.udpExchange("hello", port: port, timeout: 1) }
        #expect(answer == "echo hello", "\(user.describe())")
        #expect(try user.run(["down"], in: "udp").status == 0)
        #expect(Self.udpExchange("again", port: port, timeout: 1) == nil)
    }

    /// systemd is PID 1 with the unified hierarchy alone (the VM of scripts/vm-test.sh), so a
    /// lingering user gets their own manager (`user@UID.service`) with cgroups delegated.
    static var userManagers: Bool {
        canRun && HostKindTests.cgroupV2 && FileManager.default.fileExists(atPath: "/run/systemd/system")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/loginctl")
    }

    /// On cgroup v2 with systemd, a rootless user's containers are in scopes of the user's own
    /// systemd manager, which delegates memory, pids and cpu: `mem_limit` is applied (the
    /// cgroup's `memory.max`), and a container over it is OOM-killed and reported as in root
    /// mode (exit 137, OOMKilled, an `oom` event). `up` ignores no limit. Processes exec'd
    /// into a container are in its cgroup and under its limits too.
    @Test(.enabled(if: userManagers, "no systemd with cgroup v2 here (the VM of scripts/vm-test.sh has them)"))
    func memLimitAppliedInTheUsersOwnScope() throws {
        let user = try User()
        // Lingering: systemd starts the user's manager as a login would, and keeps it.
        try User.check(User.tool("/usr/bin/loginctl", ["enable-linger", user.name]))
        defer { user.endSession() }
        let runtime = "/run/user/\(user.uid)"
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: runtime + "/systemd/private") { usleep(100_000) }
        try #require(FileManager.default.fileExists(atPath: runtime + "/systemd/private"), "user@\(user.uid).service did not start")
        let env = ["XDG_RUNTIME_DIR": runtime]
        // The holder's pid as each step leaves it: one holder all along.
        var holders: [String] = []
        func noteHolder(_ step: String) {
            holders.append(step + ": " + ((try? String(contentsOfFile: runtime + "/scompose/holder.pid", encoding: .utf8)) ?? "none"))
        }
        let s = try ImageCommandTests.Sandbox()
        // Without XDG_RUNTIME_DIR (as su or cron would run it): the same holder as with it.
        try user.importBusybox(from: s)
        noteHolder("import")
        try user.write(
            """
            services:
              hungry:
                image: busybox:latest
                mem_limit: 32m
                memswap_limit: 32m
                command: sh -c 'sleep 2; x=$$(head -c 200000000 /dev/zero | tr "\\\\0" a); echo survived'
              calm:
                image: busybox:latest
                mem_limit: 48m
                pids_limit: 50
                restart: always
                command: sleep 1000
                healthcheck: {test: ["CMD", "true"], interval: 1s}
            """, to: "limits/compose.yaml")
        let up = try user.run(["up", "-d"], in: "limits", environment: env)
        #expect(up.status == 0, "\(up.err) \(user.describe())")
        #expect(!up.err.contains("not applied"), "\(up.err)")
        noteHolder("up")

        // calm's process is in a scope of the user's manager, with its limits.
        let root = user.home + "/.local/share/scompose/containers"
        var cgroups: [String] = []
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            guard let data = FileManager.default.contents(atPath: root + "/\(id)/state.json"),
                let pid = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["pid"] as? Int,
                let line = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8), line.hasPrefix("0::")
            else { continue }
            cgroups.append(String(line.dropFirst(3)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let base = "/user.slice/user-\(user.uid).slice/user@\(user.uid).service/scompose.slice/scompose-limits-calm-1-"
        let calm = cgroups.first { $0.hasPrefix(base) }
        #expect(calm != nil, "calm's cgroup is in the user's scope: \(cgroups)")
        if let calm {
            let max = try String(contentsOfFile: "/sys/fs/cgroup" + calm + "/memory.max", encoding: .utf8)
            #expect(max == "50331648\n")
            #expect(try String(contentsOfFile: "/sys/fs/cgroup" + calm + "/pids.max", encoding: .utf8) == "50\n")
        }
        #expect(try user.run(["exec", "-T", "calm", "id", "-u"], in: "limits", environment: env).out == "0\n")
        noteHolder("exec")
        // An exec'd process comes from the user's session, outside their manager's subtree:
        // the manager moves it in, so it is in calm's cgroup, under calm's limits.
        let seen = try user.run(["exec", "-T", "calm", "cat", "/proc/self/cgroup"], in: "limits", environment: env)
        #expect(seen.out == "0::/\n", "\(seen.err)")
        let hog = try user.run(
            ["exec", "-T", "calm", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"], in: "limits", environment: env)
        #expect(hog.status == 137 && !hog.out.contains("survived"), "over calm's 48m: \(hog.status) \(hog.err)")
        #expect(try user.run(["exec", "-d", "calm", "sleep", "300"], in: "limits", environment: env).status == 0)
        // The shim's probes move themselves into calm's cgroup from the scope's supervisor leaf.
        var health = ""
        for _ in 0..<60 where !health.contains("(healthy)") {
            health = try user.run(["ps", "--format", "{{.Service}} {{.Status}}"], in: "limits", environment: env).out
            if !health.contains("(healthy)") { usleep(250_000) }
        }
        #expect(health.contains("calm Up") && health.contains("(healthy)"), "\(health)")
        if let calm {
            let procs = try String(contentsOfFile: "/sys/fs/cgroup" + calm + "/cgroup.procs", encoding: .utf8).split(separator: "\n")
            let commands = procs.map { ((try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? "").replacingOccurrences(of: "\0", with: " ") }
            #expect(commands.contains("sleep 300 "), "calm's cgroup holds the exec'd sleep: \(commands)")
        }

        // hungry goes over its limit.
        var ps = ""
        for _ in 0..<120 where !ps.contains("Exited (137)") {
            ps = try user.run(["ps", "-a"], in: "limits", environment: env).out
            if !ps.contains("Exited (137)") { usleep(250_000) }
        }
        #expect(ps.contains("Exited (137)"), "\(ps)")
        #expect(!(try user.run(["logs", "hungry"], in: "limits", environment: env).out.contains("survived")))
        noteHolder("logs")
        let events = try user.run(["events", "--json", "--since", "5m", "--until", "0s"], in: "limits", environment: env).out
        #expect(events.contains("\"action\":\"oom\""), "\(events)")
        noteHolder("events")
        let exits = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap {
            try? String(contentsOfFile: root + "/\($0)/exit.json", encoding: .utf8)
        }
        #expect(exits.contains { $0.contains("\"oomKilled\":true") }, "OOMKilled, as Docker's inspect says: \(exits)")

        // `boot --install --user`: the user's manager runs `scompose boot`, which starts calm
        // (restart: always) again after a stop, and stays active with what it started.
        let install = try user.run(["boot", "--install", "--user"], in: "limits", environment: env)
        #expect(install.status == 0, "\(install.err)")
        func systemctl(_ args: [String]) throws -> ImageCommandTests.Run {
            try User.tool("/usr/sbin/runuser", ["-u", user.name, "--", "/usr/bin/env", "XDG_RUNTIME_DIR=" + runtime, "/usr/bin/systemctl", "--user"] + args)
        }
        #expect(try systemctl(["daemon-reload"]).status == 0)
        #expect(try user.run(["stop", "calm"], in: "limits", environment: env).status == 0)
        noteHolder("stop")
        let started = try systemctl(["start", "scompose-boot.service"])
        #expect(started.status == 0, "\(started.err)")
        noteHolder("boot")
        #expect(try systemctl(["is-active", "scompose-boot.service"]).out == "active\n")
        let again = try user.run(["ps", "--format", "{{.Service}} {{.State}}"], in: "limits", environment: env).out
        #expect(again == "calm running\n", "\(again)")
        noteHolder("ps")
        #expect(try user.run(["boot", "--uninstall", "--user"], in: "limits", environment: env).status == 0)
        #expect(Set(holders.map { $0.drop { $0 != ":" } }).count == 1, "one holder all along: \(holders)")

        let down = try user.run(["down", "-v"], in: "limits", environment: env)
        #expect(down.status == 0, "\(down.err)")
        var left: [pid_t] = []
        for _ in 0..<50 {
            // The user's manager is the user's too: only what scompose started counts.
            left = user.processes().filter { pid in
                let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                return cmd.contains("scompose") || cmd.contains("pasta") || cmd.contains("sleep")
            }
            if left.isEmpty { break }
            usleep(100_000)
        }
        #expect(left.isEmpty, "processes of the user left: \(user.describe()); holder after each step: \(holders)")
        // systemd forgets a scope a moment after its last process.
        let slice = "/sys/fs/cgroup/user.slice/user-\(user.uid).slice/user@\(user.uid).service/scompose.slice"
        var scopes: [String] = []
        for _ in 0..<50 {
            scopes = ((try? FileManager.default.contentsOfDirectory(atPath: slice)) ?? []).filter { $0.hasPrefix("scompose-") }
            if scopes.isEmpty { break }
            usleep(100_000)
        }
        #expect(scopes.isEmpty, "scopes left: \(scopes)")
    }

    /// What concurrent blocks hand back.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var runs: [Int: ImageCommandTests.Run] = [:]
        func set(_ i: Int, _ r: ImageCommandTests.Run) { lock.withLock { runs[i] = r } }
        func get(_ i: Int) -> ImageCommandTests.Run? { lock.withLock { runs[i] } }
    }
}
