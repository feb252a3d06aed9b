// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// `up -d`, `ps`, `logs`, `stop`, `down` on a two-service busybox project, for real (root,
/// namespaces, overlayfs, cgroups), under a temporary SCOMPOSE_ROOT; checks nothing is left.
@Suite(.serialized) struct ComposeRunTests {
    static var canRun: Bool { getuid() == 0 && ImageCommandTests.haveBusybox }

    @Test(.enabled(if: canRun)) func upPsLogsDown() throws {
        let s = try ImageCommandTests.Sandbox()
        let tarball = try s.busyboxRootfs()
        #expect(try s.run(["image", "import", tarball, "busybox:latest"]).status == 0)
        let project = s.dir + "/app"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        try """
            name: rt\(getpid())
            services:
              web:
                image: busybox
                command: sh -c 'echo web up; while true; do echo tick; sleep 0.2; done'
                depends_on: [once]
                mem_limit: 64m
              once:
                image: busybox
                command: ["sh", "-c", "echo once ran; exit 3"]
            """.write(toFile: project + "/compose.yaml", atomically: true, encoding: .utf8)
        let file = project + "/compose.yaml"
        let up = try s.run(["-f", file, "up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("Container rt\(getpid())-web-1  Started"))
        // The one-shot's order: started before web, as web depends on it.
        let onceIndex = up.err.range(of: "once-1  Started")?.lowerBound
        let webIndex = up.err.range(of: "web-1  Started")?.lowerBound
        if let onceIndex, let webIndex {
            #expect(onceIndex < webIndex)
        } else {
            Issue.record("both containers should report Started:\n\(up.err)")
        }

        let ps = try s.run(["-f", file, "ps"])
        #expect(ps.out.contains("rt\(getpid())-web-1"))
        #expect(!ps.out.contains("once-1"), "ps without -a lists running containers only")
        let psAll = try s.run(["-f", file, "ps", "-a"])
        #expect(psAll.out.contains("Exited (3)"))
        #expect(psAll.out.contains("Up "))

        // Output arrives in the logs, and -f follows new lines.
        var logs = ""
        for _ in 0..<50 {
            logs = try s.run(["-f", file, "logs", "web"]).out
            if logs.contains("tick") { break }
            usleep(100_000)
        }
        #expect(logs.contains("web-1  | web up"))
        let once = try s.run(["-f", file, "logs", "--no-log-prefix", "once"]).out
        #expect(once == "once ran\n")

        // exec joins the container: its pid namespace, its hostname, the command's exit code.
        let exec = try s.run(["-f", file, "exec", "-T", "web", "sh", "-c", "ls /proc | grep -c '^[0-9]'; exit 7"])
        #expect(exec.status == 7)
        #expect((Int(exec.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99) <= 6)
        let asUser = try s.run(["-f", file, "exec", "-u", "1000", "-w", "/tmp", "-e", "X=1", "web", "sh", "-c", "id -u; pwd; echo $X"])
        #expect(asUser.out == "1000\n/tmp\n1\n")
        #expect(try s.run(["-f", file, "exec", "web", "no-such-command"]).status == 127)
        #expect(try s.run(["-f", file, "exec", "once", "true"]).status == 1)

        // kill, start, restart keep the same container.
        #expect(try s.run(["-f", file, "kill", "web"]).status == 0)
        var killed = ""
        for _ in 0..<50 {
            killed = try s.run(["-f", file, "ps", "-a"]).out
            if killed.contains("Exited (137)") { break }
            usleep(100_000)
        }
        #expect(killed.contains("Exited (137)"))
        #expect(try s.run(["-f", file, "start", "web"]).status == 0)
        #expect(try s.run(["-f", file, "ps"]).out.contains("web-1"))
        #expect(try s.run(["-f", file, "restart", "-t", "1", "web"]).status == 0)
        #expect(try s.run(["-f", file, "ps"]).out.contains("web-1"))

        let records = try FileManager.default.contentsOfDirectory(atPath: s.root + "/containers")
        #expect(records.count == 2)

        let down = try s.run(["-f", file, "down", "-t", "2"])
        #expect(down.status == 0, "\(down.err)")
        #expect(down.err.contains("web-1  Stopped"), "\(down.err)")
        #expect(down.err.contains("web-1  Removed"))
        #expect(try s.run(["-f", file, "ps", "-a", "-q"]).out.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root + "/containers").isEmpty)
        // No cgroup, mount or process of these containers is left.
        for id in records {
            for controller in ["memory", "pids", "cpu", "freezer"] {
                #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(controller)/scompose/\(id)"))
            }
        }
        let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
        #expect(!mounts.contains(s.root))
    }

    @Test(.enabled(if: canRun)) func missingImageIsAClearError() throws {
        let s = try ImageCommandTests.Sandbox()
        let project = s.dir + "/app"
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        try "services:\n  a:\n    image: nothing-here:1\n    pull_policy: never\n".write(
            toFile: project + "/compose.yaml", atomically: true, encoding: .utf8)
        let up = try s.run(["-f", project + "/compose.yaml", "up", "-d"])
        #expect(up.status != 0)
        #expect(up.err.contains("No such image: nothing-here:1"))
        #expect(!up.err.contains("Network"), "nothing is made before the images are known: \(up.err)")
        // A registry nobody answers for: a clear error at once, nothing made either.
        try "services:\n  a:\n    image: 127.0.0.1:1/nothing-here:1\n".write(
            toFile: project + "/compose.yaml", atomically: true, encoding: .utf8)
        let started = Date()
        let pull = try s.run(["-f", project + "/compose.yaml", "up", "-d"])
        #expect(pull.status != 0 && pull.err.contains("127.0.0.1:1/v2/nothing-here/manifests/1"), "\(pull.err)")
        #expect(Date().timeIntervalSince(started) < 5 * ImageCommandTests.timeScale, "an unreachable registry is not retried")
        #expect(!pull.err.contains("Network"), "\(pull.err)")
        try s.run(["-f", project + "/compose.yaml", "down"])
    }
}
