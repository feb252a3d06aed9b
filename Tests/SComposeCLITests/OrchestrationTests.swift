// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The verbs and behaviours of orchestration beyond `up`, for real: one-off `run`, `attach`,
/// lifecycle hooks, the event log, `stats`, `restart: true` dependants, `scale`, parallel
/// starts and the restart back-off.
@Suite(.serialized) struct OrchestrationTests {
    static var canRun: Bool { ComposeRunTests.canRun }
    typealias Project = RuntimeBehaviourTests.Project

    @Test(.enabled(if: canRun)) func runOneOffContainers() throws {
        let p = try Project(
            """
            services:
              db:
                image: busybox
                command: sh -c 'echo db > /tmp/db; sleep 1000'
                stop_grace_period: 1s
                healthcheck: {test: ["CMD", "test", "-f", "/tmp/db"], interval: 1s}
              app:
                image: busybox
                command: echo from the service
                environment: {GREETING: hello}
                ports: ["127.0.0.1:18093:80"]
                depends_on: {db: {condition: service_healthy}}
            """)
        // Dependencies start first; output goes to our stdout and stderr; the code is the command's.
        let run = try p.run(["run", "--rm", "-T", "app", "sh", "-c", "echo $GREETING out; echo oops >&2; exit 3"])
        #expect(run.status == 3, "\(run.err)")
        #expect(run.out == "hello out\n", "\(run.out)")
        #expect(run.err.contains("oops\n") && run.err.contains("db-1  Started"), "\(run.err)")
        #expect(try p.run(["ps", "-a", "app"]).out.split(separator: "\n").count == 1, "--rm removed it")
        #expect(try p.run(["ps", "db"]).out.contains("(healthy)"))
        // Our input is the container's, its end too.
        let input = p.s.dir + "/input.txt"
        try "line one\nline two\n".write(toFile: input, atomically: true, encoding: .utf8)
        let cat = try p.s.run(["-f", p.file, "run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "cat; echo done"], stdin: input)
        #expect(cat.status == 0, "\(cat.err)")
        #expect(cat.out == "line one\nline two\ndone\n")
        // -e, -u, -w, --entrypoint, -v, --name; a kept one-off is listed under its name.
        let host = p.s.dir + "/shared"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        chmod(host, 0o777)
        let flags = try p.run([
            "run", "-T", "--no-deps", "--name", "\(p.name)-custom", "-e", "EXTRA=1", "-u", "1000", "-w", "/tmp",
            "-v", "\(host):/shared", "--entrypoint", "sh -c", "app", "echo $EXTRA $(id -u) $(pwd) > /shared/out",
        ])
        #expect(flags.status == 0, "\(flags.out) \(flags.err)")
        #expect((try? String(contentsOfFile: host + "/out", encoding: .utf8)) == "1 1000 /tmp\n")
        #expect(try p.run(["ps", "-a"]).out.contains("\(p.name)-custom"))
        // Without --service-ports, the service's ports are not published; -p publishes.
        let ports = try p.run(["run", "-T", "--no-deps", "-d", "-p", "127.0.0.1:18094:80", "app", "nc", "-ll", "-p", "80", "-e", "echo", "hi"])
        #expect(ports.status == 0, "\(ports.err)")
        let name = ports.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(name.hasPrefix("\(p.name)-app-run-") && name.count == "\(p.name)-app-run-".count + 12, "\(name)")
        let published = try p.run(["port", "--index", "1", "app", "80"])
        #expect(!published.out.contains("18093"))
        var answer = ""
        for _ in 0..<20 {
            answer = try p.s.run(["nc", "-w", "1", "127.0.0.1", "18094"], tool: "/bin/busybox").out
            if answer.contains("hi") { break }
            usleep(100_000)
        }
        #expect(answer.contains("hi"))
        // A one-off is no orphan, and `up` leaves it alone.
        let up = try p.run(["up", "-d", "db"])
        #expect(!up.err.contains("orphan"), "\(up.err)")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func attachHooksEventsAndStats() throws {
        let p = try Project(
            """
            services:
              ticker:
                image: busybox
                init: true
                command: sh -c 'i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.2; done'
                stop_grace_period: 1s
                volumes: ["./hooks:/hooks"]
                post_start:
                  - command: sh -c 'echo started > /hooks/post_start'
                pre_stop:
                  - command: sh -c 'echo stopping > /hooks/pre_stop'
            """)
        let hooks = p.s.dir + "/app/hooks"
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect((try? String(contentsOfFile: hooks + "/post_start", encoding: .utf8)) == "started\n")
        // attach follows the output from now on until we let go.
        let attach = Process()
        attach.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        attach.arguments = ["-f", p.file, "attach", "--no-stdin", "ticker"]
        var env = ProcessInfo.processInfo.environment
        env["SCOMPOSE_ROOT"] = p.s.root
        attach.environment = env
        let out = Pipe()
        attach.standardOutput = out
        attach.standardError = FileHandle.nullDevice
        try attach.run()
        usleep(UInt32(1_200_000 * ImageCommandTests.timeScale))
        // Stopping the container ends the attachment with its code.
        let stop = try p.run(["stop", "ticker"])
        #expect(stop.status == 0, "\(stop.err)")
        attach.waitUntilExit()
        let seen = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(seen.components(separatedBy: "tick ").count >= 3, "\(seen)")
        #expect(attach.terminationStatus == 143 || attach.terminationStatus == 137 || attach.terminationStatus == 0)
        #expect((try? String(contentsOfFile: hooks + "/pre_stop", encoding: .utf8)) == "stopping\n")
        // stats of the running container, as JSON lines.
        #expect(try p.run(["start", "ticker"]).status == 0)
        let stats = try p.run(["stats", "--no-stream", "--format", "json"])
        #expect(stats.status == 0, "\(stats.err)")
        #expect(stats.out.contains("\"Name\":\"\(p.name)-ticker-1\"") && stats.out.contains("\"PIDs\":\""), "\(stats.out)")
        #expect(try p.run(["stats", "--no-stream"]).out.hasPrefix("CONTAINER ID"))
        try p.downAndCheckClean()
        // The event log saw it all, in order.
        let events = try p.run(["events", "--json", "--since", "5m", "--until", "0s"])
        let actions = events.out.split(separator: "\n").compactMap { line -> String? in
            guard let data = String(line).data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return object["action"] as? String
        }
        #expect(Array(actions.prefix(2)) == ["create", "start"], "\(actions)")
        #expect(actions.contains("die") && actions.contains("stop") && actions.last == "destroy", "\(actions)")
        let text = try p.run(["events", "--since", "5m", "--until", "0s"]).out
        #expect(text.contains(" container create ") && text.contains("name=\(p.name)-ticker-1"), "\(text)")
        // A rotated log is read first, then the current one.
        let log = p.s.root + "/projects/\(p.name).events"
        let lastLine = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last.map(String.init) ?? ""
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        try (lastLine + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let both = try p.run(["events", "--json", "--since", "5m", "--until", "0s"]).out.split(separator: "\n")
        #expect(both.count == events.out.split(separator: "\n").count + 1 && both.last == both[both.count - 2], "\(both)")
    }

    @Test(.enabled(if: canRun)) func restartTrueDependantsScaleAndBackOff() throws {
        func yaml(_ version: String) -> String {
            """
            services:
              db:
                image: busybox
                command: sleep 1000
                environment: {VERSION: "\(version)"}
                stop_grace_period: 1s
              app:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                depends_on: {db: {condition: service_started, restart: true}}
              other:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                depends_on: [db]
              crasher:
                image: busybox
                command: sh -c 'exit 1'
                restart: always
                profiles: [crash]
            """
        }
        let p = try Project(yaml("1"))
        #expect(try p.run(["up", "-d", "--parallel", "1"]).status == 0)
        func ids() throws -> [String: String] {
            var out: [String: String] = [:]
            for line in try p.run(["ps", "--format", "{{.Name}} {{.ID}}"]).out.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
            }
            return out
        }
        let before = try ids()
        #expect(before.count == 3, "\(before)")
        // One variable of db changes: db recreated, app (restart: true) restarted, other kept.
        try ("name: \(p.name)\n" + yaml("2")).write(toFile: p.file, atomically: true, encoding: .utf8)
        let plan = try p.run(["up", "-d", "--dry-run"])
        #expect(plan.err.contains("recreate \(p.name)-db-1 (config changed)"), "\(plan.err)")
        #expect(plan.err.contains("restart \(p.name)-app-1 (db recreated)") && plan.err.contains("keep \(p.name)-other-1"))
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("db-1  Recreate") && up.err.contains("app-1  Restarting") && up.err.contains("other-1  Running"), "\(up.err)")
        let after = try ids()
        #expect(after["\(p.name)-db-1"] != before["\(p.name)-db-1"])
        #expect(after["\(p.name)-app-1"] == before["\(p.name)-app-1"] && after["\(p.name)-other-1"] == before["\(p.name)-other-1"])
        // scale: only the number of containers changes.
        let scaled = try p.run(["scale", "other=3"])
        #expect(scaled.status == 0, "\(scaled.err)")
        #expect(try p.run(["ps", "-q", "other"]).out.split(separator: "\n").count == 3)
        // A container that always fails is restarted with Docker's back-off (100 ms, doubling),
        // a handful of times in 3 s, not hundreds.
        #expect(try p.run(["--profile", "crash", "up", "-d", "crasher"]).status == 0)
        usleep(3_000_000)
        let id = try p.run(["--profile", "crash", "ps", "-a", "-q", "crasher"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let state = (try? String(contentsOfFile: p.s.root + "/containers/\(id)/state.json", encoding: .utf8)) ?? ""
        let count = state.components(separatedBy: "\"restartCount\":").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect((3...7).contains(count ?? -1), "\(state)")
        try p.run(["--profile", "crash", "down", "-t", "1"])
        try p.downAndCheckClean()
    }

    /// The `depends_on` labels of existing containers, which outlive the files that wrote
    /// them, can form a cycle (here made by editing a record): `stop`, `start` and `boot`
    /// report it, as Docker Compose does, rather than pick an order that ignores it.
    @Test(.enabled(if: canRun)) func cycleAmongDependsOnLabelsIsReported() throws {
        let p = try Project(
            """
            services:
              a: {image: busybox, command: sleep 1000, restart: always, stop_signal: SIGKILL, depends_on: [b]}
              b: {image: busybox, command: sleep 1000, restart: always, stop_signal: SIGKILL}
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        let id = try p.run(["ps", "-q", "b"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let record = URL(fileURLWithPath: p.s.root + "/containers/\(id)/container.json")
        let original = try Data(contentsOf: record)
        var object = try JSONSerialization.jsonObject(with: original) as? [String: Any] ?? [:]
        var labels = object["labels"] as? [String: String] ?? [:]
        labels["com.docker.compose.depends_on"] = "a:service_started:false"
        object["labels"] = labels
        try JSONSerialization.data(withJSONObject: object).write(to: record)
        let cycle = "dependency cycle detected: a -> b -> a"
        for verb in ["stop", "start", "restart"] {
            let result = try p.run([verb])
            #expect(result.status == 1 && result.err.contains(cycle), "\(verb): \(result.err)")
        }
        #expect(try p.run(["ps", "--format", "{{.Service}}"]).out == "a\nb\n", "nothing was stopped")
        try ReliabilityTests.simulateReboot(p)
        let boot = try p.s.run(["boot"])
        #expect(boot.status != 0 && boot.err.contains("Project \(p.name)  Error: \(cycle)"), "\(boot.err)")
        #expect(try p.run(["ps", "-q"]).out.isEmpty, "a project with a cycle stays down")
        try original.write(to: record)
        #expect(try p.s.run(["boot"]).status == 0)
        #expect(try p.run(["ps", "--format", "{{.Service}}"]).out == "a\nb\n")
        try p.downAndCheckClean()
    }
}
