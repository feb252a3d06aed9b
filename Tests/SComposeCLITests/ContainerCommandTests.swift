// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeEngine
import SComposeNetwork
import SComposeRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Docker's single-container workflow, for real (root, namespaces, cgroups, a bridge and
/// nftables), under a temporary SCOMPOSE_ROOT: the README's walk-through as a transcript, and
/// bad input answered with Docker's exit codes and nothing left behind.
@Suite(.serialized) struct ContainerCommandTests {
    static var canRun: Bool { ComposeRunTests.canRun }

    /// A sandbox with `busybox:latest`; at the end, every container and the default network
    /// it made are removed and checked gone.
    final class Box {
        let s: ImageCommandTests.Sandbox

        init() throws {
            s = try ImageCommandTests.Sandbox()
            try RuntimeBehaviourTests.Project.importBusybox(s)
        }

        /// On the state root of a project's sandbox (its busybox image is there).
        init(sharing sandbox: ImageCommandTests.Sandbox) {
            s = sandbox
        }

        @discardableResult
        func run(_ args: [String], input: String? = nil) throws -> ImageCommandTests.Run {
            var path: String?
            if let input {
                path = s.dir + "/stdin-\(UUID().uuidString)"
                try input.write(toFile: path ?? "", atomically: true, encoding: .utf8)
            }
            return try s.run(args, stdin: path)
        }

        func process(_ args: [String]) -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
            p.arguments = args
            var env = ProcessInfo.processInfo.environment
            env["SCOMPOSE_ROOT"] = s.root
            p.environment = env
            return p
        }

        var containerDirs: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")) ?? []).filter { $0.count == 64 }
        }

        /// Removes a network as `network rm` would (also the default one, which it refuses).
        func remove(_ record: NetworkRecord) throws {
            try Engine(root: s.root, shimPath: "", progress: { _ in }).removeNetwork(record)
            #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/" + record.bridge))
        }

        /// Removes what is left, then the default network (which Docker never removes, so no
        /// command does): its bridge and tables must be gone.
        func clean() throws {
            for id in try run(["container", "ls", "-a", "-q", "--no-trunc"]).out.split(separator: "\n") {
                try run(["container", "rm", "-f", String(id)])
            }
            #expect(containerDirs.isEmpty, "containers left: \(containerDirs)")
            for record in NetworkStore(stateRoot: s.root).list() { try remove(record) }
            let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
            #expect(!mounts.contains(s.root))
        }
    }

    static func freePort() -> Int { Int.random(in: 20000...29999) }

    @Test(.enabled(if: canRun)) func walkThroughTranscript() throws {
        let box = try Box()
        defer { try? box.clean() }
        let app = box.s.dir + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        try """
            FROM busybox
            RUN mkdir -p /www && echo hello from myapp > /www/index.html
            EXPOSE 80
            CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]
            """.write(toFile: app + "/Dockerfile", atomically: true, encoding: .utf8)

        // $ scompose image build -t myapp .
        let built = try box.run(["image", "build", "-t", "myapp", app])
        #expect(built.status == 0, "\(built.err)")
        #expect(built.err.contains("naming to docker.io/library/myapp:latest done"), "\(built.err)")
        let quiet = try box.run(["image", "build", "-q", "-t", "myapp", app])
        #expect(quiet.out.hasPrefix("sha256:") && quiet.err.isEmpty, "\(quiet)")

        // $ scompose container run -d -p PORT:80 --name web myapp
        let port = Self.freePort()
        let started = try box.run(["container", "run", "-d", "-p", "\(port):80", "--name", "web", "myapp"])
        #expect(started.status == 0, "\(started.err)")
        let id = started.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))

        // $ scompose container logs -f web (follows what the requests below add)
        let follow = box.process(["container", "logs", "-f", String(id.prefix(5))])
        let followed = Pipe()
        follow.standardOutput = followed
        follow.standardError = followed
        try follow.run()

        // $ curl localhost:PORT (busybox's wget here: the VM has no curl)
        var page = ""
        for _ in 0..<50 where !page.contains("hello") {
            page = try box.s.run(["wget", "-q", "-O", "-", "http://127.0.0.1:\(port)/"], tool: "/bin/busybox").out
            if !page.contains("hello") { usleep(100_000) }
        }
        #expect(page == "hello from myapp\n")

        // $ scompose container ls
        let ls = try box.run(["container", "ls"])
        let lines = ls.out.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") == "CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES")
        #expect(lines.count == 2)
        let row = String(lines.last ?? "")
        #expect(row.hasPrefix(String(id.prefix(12)) + "   myapp   \"httpd -f -v -p 80 -h…\"   "), "\(ls.out)")
        #expect(row.contains("   Up ") && row.contains("0.0.0.0:\(port)->80/tcp") && row.hasSuffix("   web"), "\(ls.out)")
        let inspected = try box.run(["container", "inspect", "-f", "{{.State.Status}} {{.Name}} {{.HostConfig.PortBindings}}", "web"])
        #expect(inspected.out == "running /web {\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\(port)\"}]}\n", "\(inspected)")

        // $ scompose container exec -T web … (the command's status is ours)
        let exec = try box.run(["container", "exec", "-T", "web", "sh", "-c", "cat /www/index.html; exit 3"])
        #expect(exec.status == 3 && exec.out == "hello from myapp\n", "\(exec)")

        // $ scompose container exec -it web sh (through a pty)
        let (code, screen) = try Self.onTerminal(box.process(["container", "exec", "-it", "web", "sh", "-c", "tty; echo $((6 * 7)); exit 4"]))
        #expect(code == 4, "\(screen)")
        #expect(screen.contains("/dev/pts/") && screen.contains("42"), "\(screen)")

        // A second `--name web` is refused as Docker refuses it.
        let again = try box.run(["container", "run", "-d", "--name", "web", "myapp"])
        #expect(again.status == 125)
        #expect(again.err.contains("Conflict. The container name \"/web\" is already in use by container \"\(id)\""), "\(again.err)")
        #expect(again.err.split(separator: "\n").count == 1)

        // $ scompose container run --rm -i busybox sh -c 'read x; echo $x'
        let echoed = try box.run(["container", "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo $x"], input: "hello stdin\n")
        #expect(echoed.status == 0 && echoed.out == "hello stdin\n", "\(echoed)")
        #expect(box.containerDirs == [id])
        let failed = try box.run(["container", "run", "--rm", "busybox", "sh", "-c", "exit 5"])
        #expect(failed.status == 5)

        // The follower saw the request's log line; it ends with the container.
        // $ scompose container stop web; scompose container rm web; scompose image rm myapp
        let stop = try box.run(["container", "stop", "-t", "1", "web"])
        #expect(stop.status == 0 && stop.out == "web\n", "\(stop)")
        follow.waitUntilExit()
        let followedText = String(decoding: followed.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(followedText.contains("response:200"), "\(followedText)")
        #expect(try box.run(["container", "ls", "-a", "--format", "{{.Names}} {{.State}}"]).out == "web exited\n")
        let rm = try box.run(["container", "rm", "web"])
        #expect(rm.status == 0 && rm.out == "web\n", "\(rm)")
        #expect(try box.run(["image", "rm", "myapp"]).status == 0)
        #expect(box.containerDirs.isEmpty)
        #expect(try box.run(["network", "ls", "--format", "json"]).out.contains("\"Name\":\"bridge\""))
        #expect(try box.run(["network", "rm", "bridge"]).status == 1)
    }

    @Test(.enabled(if: canRun)) func badInputGivesDockersCodesAndLeavesNothing() throws {
        let box = try Box()
        defer { try? box.clean() }
        #expect(try box.run(["container", "run", "-d", "--name", "taken", "busybox", "sleep", "100"]).status == 0)
        let before = box.containerDirs
        let volumesBefore = try box.run(["volume", "ls", "-q"]).out
        let cases: [([String], Int32, String)] = [
            (["--pull", "never", "no-such-image:1"], 125, "No such image: no-such-image:1"),
            (["-p", "80:http", "busybox"], 125, "invalid containerPort: http"),
            (["--name", "taken", "busybox"], 125, "Conflict. The container name \"/taken\" is already in use"),
            (["--mount", "type=bind,source=/no/such/dir,target=/x", "busybox"], 125, "bind source path does not exist: /no/such/dir"),
            (["--no-such-flag", "busybox"], 125, "unknown flag: --no-such-flag"),
            (["-v", "rel/dir:/x", "busybox"], 125, "includes invalid characters for a local volume name"),
            (["--rm", "busybox", "no-such-command"], 127, "no-such-command"),
            (["--rm", "busybox", "/etc/passwd"], 126, "/etc/passwd"),
            (["-w", "rel", "busybox"], 125, "the working directory 'rel' is invalid, it needs to be an absolute path"),
            (["--device", "/dev/no-such-device", "busybox"], 125,
             "error gathering device information while adding custom device \"/dev/no-such-device\": no such file or directory"),
            (["--ulimit", "bogus=1", "busybox"], 125, "invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus"),
        ]
        for (args, code, message) in cases {
            let r = try box.run(["container", "run"] + args)
            #expect(r.status == code, "\(args): \(r.status) \(r.err)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
            #expect(box.containerDirs == before, "\(args) left a container")
        }
        #expect(try box.run(["volume", "ls", "-q"]).out == volumesBefore)
        // Names and IDs: a unique prefix works, an unknown one is Docker's error.
        let missing = try box.run(["container", "stop", "nothing-here"])
        #expect(missing.status == 1 && missing.err == "Error response from daemon: No such container: nothing-here\n")
        let running = try box.run(["container", "rm", "taken"])
        #expect(running.status == 1 && running.err.contains("container is running"))
        #expect(try box.run(["container", "rm", "-f", String(before[0].prefix(6))]).status == 0)
        #expect(box.containerDirs.isEmpty)
    }

    @Test(.enabled(if: canRun)) func namesResolveOnUserNetworksAndProjectNetworksNotOnTheDefault() throws {
        let p = try RuntimeBehaviourTests.Project(
            """
            services:
              app: {image: busybox, command: sleep 1000, stop_grace_period: 1s}
            """)
        let box = try Box(sharing: p.s)
        defer { try? box.clean() }
        #expect(try p.run(["up", "-d"]).status == 0)
        // A container on the project's network, reached by its alias from the project's service.
        let cache = try box.run(["container", "run", "-d", "--name", "cachebox", "--network", "\(p.name)_default", "--network-alias", "cache", "busybox", "sleep", "1000"])
        #expect(cache.status == 0, "\(cache.err)")
        let ping = try p.run(["exec", "-T", "app", "ping", "-c", "1", "-W", "3", "cache"])
        #expect(ping.status == 0, "\(ping.out) \(ping.err)")
        // The project's container is listed, with its labels.
        let listed = try box.run(["container", "ls", "-a", "--filter", "label=com.docker.compose.project=\(p.name)", "--format", "{{.Names}}"])
        #expect(listed.out == "\(p.name)-app-1\n", "\(listed)")
        // A user-defined network resolves names; the default one does not.
        let net = "ct\(getpid())net"
        #expect(try box.run(["network", "create", net]).status == 0)
        for name in ["one", "two"] {
            #expect(try box.run(["container", "run", "-d", "--name", name, "--network", net, "busybox", "sleep", "1000"]).status == 0)
        }
        #expect(try box.run(["container", "exec", "one", "ping", "-c", "1", "-W", "3", "two"]).status == 0)
        for name in ["three", "four"] {
            #expect(try box.run(["container", "run", "-d", "--name", name, "busybox", "sleep", "1000"]).status == 0)
        }
        #expect(try box.run(["container", "exec", "three", "ping", "-c", "1", "-W", "1", "four"]).status != 0)
        let resolv = try box.run(["container", "exec", "three", "cat", "/etc/resolv.conf"]).out
        #expect(!resolv.contains("127.0.0.11"), "\(resolv)")
        for name in ["cachebox", "one", "two", "three", "four"] { try box.run(["container", "rm", "-f", name]) }
        #expect(try box.run(["network", "rm", net]).status == 0)
        if let bridge = NetworkStore(stateRoot: p.s.root).get("bridge") { try box.remove(bridge) }
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func theOtherVerbs() throws {
        let box = try Box()
        defer { try? box.clean() }
        let port = Self.freePort()
        let id = try box.run(["container", "run", "-d", "-p", "\(port):80", "--name", "srv", "busybox", "sh", "-c", "echo started; exec sleep 1000"]).out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try box.run(["container", "port", "srv"]).out == "80/tcp -> 0.0.0.0:\(port)\n")
        // Docker's host-side flags: names, resolvers, limits, a device (allowed by the device
        // cgroup, which refuses the same node made with mknod), kernel parameters, /dev/shm.
        let fuse = FileManager.default.fileExists(atPath: "/dev/fuse")
        let hostSide = try box.run([
            "container", "run", "--rm", "--add-host", "db:10.1.2.3", "--dns", "9.9.9.9", "--dns-search", "corp", "--ulimit", "nofile=1000:2000",
            "--device", fuse ? "/dev/fuse:/dev/sub/fuse" : "/dev/null:/dev/sub/fuse", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--shm-size", "32m", "busybox", "sh", "-c",
            "grep -w db /etc/hosts; grep -v '^#' /etc/resolv.conf; ulimit -n; ulimit -Hn; (exec 3<>/dev/sub/fuse) && echo fuse-opened; "
                + "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2",
        ])
        #expect(hostSide.out == "10.1.2.3\tdb\nnameserver 9.9.9.9\nsearch corp\n1000\n2000\nfuse-opened\n80\n32768\n", "\(hostSide)")
        if !fuse { print("ContainerCommandTests: no /dev/fuse on this host; /dev/null stood in for it") }
        let refused = try box.run(["container", "run", "--rm", "busybox", "sh", "-c", "mknod /dev/f c 10 229 && (exec 3<>/dev/f) 2>/dev/null || echo refused"])
        #expect(refused.out == "refused\n", "\(refused)")
        // A working directory the image lacks is made, as Docker does.
        #expect(try box.run(["container", "run", "--rm", "-w", "/made/here", "busybox", "pwd"]).out == "/made/here\n")
        #expect(try box.run(["container", "port", "srv", "80"]).out == "0.0.0.0:\(port)\n")
        let top = try box.run(["container", "top", "srv"]).out
        #expect(top.hasPrefix("UID") && top.contains("sleep 1000"), "\(top)")
        #expect(try box.run(["container", "rename", "srv", "server"]).status == 0)
        #expect(try box.run(["container", "inspect", "-f", "{{.Name}}", String(id.prefix(8))]).out == "/server\n")
        #expect(try box.run(["container", "pause", "server"]).out == "server\n")
        #expect(try box.run(["container", "ls", "--format", "{{.Status}}"]).out.contains("(Paused)"))
        #expect(try box.run(["container", "unpause", "server"]).status == 0)
        let stats = try box.run(["container", "stats", "--no-stream", "--format", "json", "server"])
        #expect(stats.out.contains("\"Name\":\"server\""), "\(stats)")
        // A reader that goes away (`logs -f | head -1`) ends the follower as SIGPIPE would,
        // although the command ignores SIGPIPE for its sockets.
        #expect(try box.run(["container", "run", "-d", "--name", "talk", "busybox", "sh", "-c", "while true; do echo line; done"]).status == 0)
        let follower = box.process(["container", "logs", "-f", "talk"])
        let piped = Pipe()
        follower.standardOutput = piped
        try follower.run()
        _ = piped.fileHandleForReading.availableData
        try piped.fileHandleForReading.close()
        for _ in 0..<100 where follower.isRunning { usleep(50_000) }
        #expect(!follower.isRunning)
        if !follower.isRunning {
            #expect(follower.terminationReason == .uncaughtSignal && follower.terminationStatus == SIGPIPE)
        } else {
            follower.terminate()
        }
        #expect(try box.run(["container", "rm", "-f", "talk"]).status == 0)
        // cp both ways, commit, export.
        let file = box.s.dir + "/note.txt"
        try "note\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try box.run(["container", "cp", file, "server:/tmp/note.txt"]).status == 0)
        #expect(try box.run(["container", "exec", "server", "cat", "/tmp/note.txt"]).out == "note\n")
        #expect(try box.run(["container", "cp", "server:/tmp/note.txt", box.s.dir + "/back.txt"]).status == 0)
        #expect(try String(contentsOfFile: box.s.dir + "/back.txt", encoding: .utf8) == "note\n")
        let committed = try box.run(["container", "commit", "server", "noted:1"])
        #expect(committed.out.hasPrefix("sha256:"), "\(committed)")
        #expect(try box.run(["container", "run", "--rm", "noted:1", "cat", "/tmp/note.txt"]).out == "note\n")
        #expect(try box.run(["container", "export", "-o", box.s.dir + "/fs.tar", "server"]).status == 0)
        #expect(try box.s.run(["-tf", box.s.dir + "/fs.tar"], tool: "/bin/tar").out.contains("tmp/note.txt"))
        // wait prints the exit code once it ends; a created one starts and attaches with -a.
        let waiter = box.process(["container", "wait", "server"])
        let waited = Pipe()
        waiter.standardOutput = waited
        try waiter.run()
        #expect(try box.run(["container", "kill", "-s", "TERM", "server"]).status == 0)
        #expect(try box.run(["container", "kill", "server"]).status == 0)
        waiter.waitUntilExit()
        #expect(String(decoding: waited.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "137\n")
        let created = try box.run(["container", "create", "--name", "later", "busybox", "echo", "from later"])
        #expect(created.status == 0 && created.out.count == 65)
        #expect(try box.run(["container", "ls", "-a", "--filter", "status=created", "--format", "{{.Names}}"]).out == "later\n")
        let attached = try box.run(["container", "start", "-a", "later"])
        #expect(attached.status == 0 && attached.out == "from later\n", "\(attached)")
        // -d --rm: gone once it ends, with no daemon to remove it (its shim asks for it).
        let gone = try box.run(["container", "run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.3"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        var left = true
        for _ in 0..<100 where left {
            usleep(100_000)
            left = box.containerDirs.contains(gone)
        }
        #expect(!left, "run -d --rm left its container")
        let pruned = try box.run(["container", "prune", "-f"])
        #expect(pruned.out.contains("Deleted Containers:") && pruned.out.contains(id), "\(pruned)")
        #expect(box.containerDirs.isEmpty)
    }

    /// Runs `p` with a pty as its standard streams; its status and what it wrote there.
    static func onTerminal(_ p: Process) throws -> (Int32, String) {
        let (master, slave) = try Launcher.openPty(ptmx: "/dev/ptmx")
        defer { close(master) }
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        p.standardInput = handle
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        close(slave)
        var screen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            screen += buffer[0..<n]
        }
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: screen, as: UTF8.self))
    }
}
