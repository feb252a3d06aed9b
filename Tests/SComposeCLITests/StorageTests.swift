// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Volumes, bind mounts, tmpfs, secrets, configs and `cp`, for real (root, mounts), under a
/// temporary SCOMPOSE_ROOT; each test checks that nothing of its project is left.
@Suite(.serialized) struct StorageTests {
    static var canRun: Bool { ComposeRunTests.canRun }
    typealias Project = RuntimeBehaviourTests.Project

    func volumesDir(_ p: Project) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/volumes")) ?? []).filter { !$0.hasPrefix(".") }
    }

    @Test(.enabled(if: canRun)) func namedVolumeSurvivesDownAndIsSeededFromTheImage() throws {
        let p = try Project(
            """
            services:
              db:
                image: busybox
                command: sh -c 'echo row$$(date +%s%N) >> /var/lib/db/rows; stat -c "%u:%g %a" /var/lib/db /var/lib/db/seed; cat /var/lib/db/seed; sleep 1000'
                volumes: [dbdata:/var/lib/db]
              anon:
                image: busybox
                command: sh -c 'stat -c "%u:%g" /cache/preset; sleep 1000'
            volumes:
              dbdata: {}
            """, changes: ["VOLUME /cache"]) { rootfs in
            for dir in ["/var/lib/db", "/cache"] {
                try FileManager.default.createDirectory(atPath: rootfs + dir, withIntermediateDirectories: true)
            }
            try "from the image\n".write(toFile: rootfs + "/var/lib/db/seed", atomically: true, encoding: .utf8)
            try "x".write(toFile: rootfs + "/cache/preset", atomically: true, encoding: .utf8)
            chown(rootfs + "/var/lib/db", 999, 998)
            chmod(rootfs + "/var/lib/db", 0o700)
            chown(rootfs + "/var/lib/db/seed", 999, 998)
            chmod(rootfs + "/var/lib/db/seed", 0o640)
            chown(rootfs + "/cache/preset", 7, 7)
        }
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        let first = try p.waitFor("from the image", ["logs", "--no-log-prefix", "db"])
        #expect(first.contains("999:998 700\n999:998 640\n"), "the volume takes the image's owner and mode: \(first)")
        #expect(try p.waitFor("7:7", ["logs", "anon"]).contains("7:7"), "the image's VOLUME gets a seeded anonymous volume")
        let names = volumesDir(p)
        #expect(names.contains("\(p.name)_dbdata"))
        #expect(names.count == 3, "one named, an anonymous one for each service's VOLUME: \(names)")
        let volumeList = try p.s.run(["volume", "ls"]).out
        #expect(volumeList.hasPrefix("DRIVER    VOLUME NAME\n"))
        #expect(volumeList.contains("local     \(p.name)_dbdata"))
        let inspect = try p.s.run(["volume", "inspect", "\(p.name)_dbdata"]).out
        #expect(inspect.contains("\"com.docker.compose.volume\": \"dbdata\""), "\(inspect)")
        #expect(inspect.contains("\"Mountpoint\": \"\(p.s.root)/volumes/\(p.name)_dbdata/_data\""))
        #expect(try p.s.run(["volume", "rm", "\(p.name)_dbdata"]).status != 0, "a volume in use is not removed")

        #expect(try p.run(["down", "-t", "1"]).status == 0)
        #expect(volumesDir(p).count == 3, "down keeps volumes")
        #expect(try p.run(["up", "-d"]).status == 0)
        let rows = try p.s.run(["exec", "-T", "db", "cat", "/var/lib/db/rows"], tool: nil)
        _ = rows
        let again = try p.waitFor("row", ["exec", "-T", "db", "cat", "/var/lib/db/rows"])
        #expect(again.split(separator: "\n").count == 2, "the data of the first run is still there: \(again)")

        #expect(try p.run(["down", "-v", "-t", "1"]).status == 0)
        #expect(volumesDir(p).isEmpty, "down -v leaves nothing under volumes: \(volumesDir(p))")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func bindMountsTmpfsSecretsAndConfigs() throws {
        let p = try Project(
            """
            services:
              app:
                image: busybox
                command: sleep 1000
                volumes:
                  - ./src:/src
                  - ./src:/readonly:ro
                  - ./single.txt:/etc/single.txt
                  - type: bind
                    source: ./missing-ok
                    target: /created
                    bind: {create_host_path: true}
                tmpfs: ["/scratch:size=1m"]
                shm_size: 8m
                secrets:
                  - token
                  - source: token
                    target: custom
                    uid: "5"
                    gid: "6"
                    mode: 0400
                configs:
                  - source: conf
                    target: /etc/app.conf
              strict:
                image: busybox
                command: sleep 1000
                volumes:
                  - type: bind
                    source: ./does-not-exist
                    target: /x
                    bind: {create_host_path: false}
                profiles: [strict]
            secrets:
              token: {file: ./token.txt}
            configs:
              conf: {content: "port=8080"}
            """)
        let app = p.s.dir + "/app"
        try FileManager.default.createDirectory(atPath: app + "/src", withIntermediateDirectories: true)
        try "v1\n".write(toFile: app + "/src/page", atomically: true, encoding: .utf8)
        try "single\n".write(toFile: app + "/single.txt", atomically: true, encoding: .utf8)
        try "t0ken\n".write(toFile: app + "/token.txt", atomically: true, encoding: .utf8)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        func exec(_ script: String) throws -> ImageCommandTests.Run { try p.run(["exec", "-T", "app", "sh", "-c", script]) }
        #expect(try exec("cat /src/page").out == "v1\n")
        try "v2\n".write(toFile: app + "/src/page", atomically: false, encoding: .utf8)
        #expect(try exec("cat /src/page").out == "v2\n", "host edits show live")
        #expect(try exec("echo from-container > /src/new").status == 0)
        #expect((try? String(contentsOfFile: app + "/src/new", encoding: .utf8)) == "from-container\n")
        #expect(try exec("touch /readonly/x").status != 0, ":ro refuses writes")
        #expect(try exec("cat /etc/single.txt").out == "single\n")
        #expect(FileManager.default.fileExists(atPath: app + "/missing-ok"), "create_host_path makes the source")
        // tmpfs size is enforced.
        let full = try exec("dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1; du -k /scratch/big | cut -f1")
        #expect(full.out.contains("No space left on device"), "\(full.out)")
        #expect(try exec("mount | grep ' /scratch '").out.contains("size=1024k"))
        #expect(try exec("mount | grep ' /dev/shm '").out.contains("size=8192k"), "shm_size")
        // Secrets and configs: content, place, owner and mode.
        #expect(try exec("cat /run/secrets/token").out == "t0ken\n")
        #expect(try exec("stat -c '%u:%g %a' /run/secrets/custom; cat /run/secrets/custom").out == "5:6 400\nt0ken\n")
        #expect(try exec("cat /etc/app.conf").out == "port=8080")
        #expect(try exec("echo x > /run/secrets/token").status != 0, "secrets are read-only")
        // A missing source with create_host_path off is a clear error, and nothing is created.
        let strict = try p.run(["--profile", "strict", "up", "-d", "strict"])
        #expect(strict.status != 0)
        #expect(strict.err.contains("bind source path does not exist: \(app)/does-not-exist"), "\(strict.err)")
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/containers")) ?? []).contains { $0.hasPrefix(".creating") })
        try p.downAndCheckClean()
    }

    /// `commit`: the container's changes (not its volumes, tmpfs or the runtime's mount
    /// points) become one layer over its image, with `-c` changes and `-m` in the history;
    /// the image runs. `export`: the whole file system as a tar, a deleted file absent.
    @Test(.enabled(if: canRun)) func commitAndExport() throws {
        let p = try Project(
            """
            services:
              app:
                image: busybox
                command: [sh, -c, "echo changed > /note.txt && rm /etc/group && echo kept > /data/v && exec sleep 1000"]
                stop_signal: SIGKILL
                volumes: [data:/data]
                tmpfs: [/scratch]
              copy:
                image: app-committed:1
                command: [sh, -c, "cat /note.txt; echo $${COMMITTED}; test -e /etc/group || echo no-group; test -e /scratch || echo no-scratch"]
                profiles: [later]
            volumes:
              data: {}
            """)
        #expect(try p.run(["up", "-d", "app"]).status == 0)
        _ = try p.waitFor("Up")
        usleep(300_000)
        let commit = try p.run(["commit", "-m", "a note", "-c", "ENV COMMITTED=yes", "app", "app-committed:1"])
        #expect(commit.status == 0 && commit.out.isEmpty && commit.err.contains("Committed as sha256:"), "\(commit.err)")
        let history = try p.s.run(["image", "history", "app-committed:1"]).out
        #expect(history.contains("a note"), "\(history)")
        // The new layer holds the note and the deletion, nothing of the mounts.
        let run = try p.run(["--profile", "later", "run", "--rm", "-T", "copy"])
        #expect(run.out == "changed\nyes\nno-group\nno-scratch\n", "\(run.out) \(run.err)")
        // export: a tar of the running container's file system.
        let tarball = p.s.dir + "/export.tar"
        #expect(try p.run(["export", "-o", tarball, "app"]).status == 0)
        let names = try p.s.run(["-tf", tarball], tool: "/bin/tar").out.split(separator: "\n").map(String.init)
        #expect(names.contains("note.txt") && names.contains("bin/busybox") && !names.contains("etc/group"), "\(names)")
        #expect(!names.contains("data/v"), "volumes are not exported")
        let content = try p.s.run(["-xOf", tarball, "note.txt"], tool: "/bin/tar").out
        #expect(content == "changed\n")
        let missing = try p.run(["export", "-o", tarball, "nope"])
        #expect(missing.status != 0)
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func cpBothWaysPreservingModes() throws {
        let p = try Project(
            """
            services:
              box:
                image: busybox
                command: sh -c 'mkdir -p /out/sub && echo deep > /out/sub/file && chmod 751 /out/sub && echo top > /out/top && chmod 600 /out/top && sleep 1000'
            """)
        #expect(try p.run(["up", "-d"]).status == 0)
        _ = try p.waitFor("top", ["exec", "-T", "box", "ls", "/out"])
        let host = p.s.dir + "/host"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        // Out of the container: a directory, then a file.
        #expect(try p.run(["cp", "box:/out", host + "/copied"]).status == 0)
        #expect((try? String(contentsOfFile: host + "/copied/sub/file", encoding: .utf8)) == "deep\n")
        let subMode = (try FileManager.default.attributesOfItem(atPath: host + "/copied/sub")[.posixPermissions] as? Int) ?? 0
        #expect(subMode == 0o751)
        #expect(try p.run(["cp", "box:/out/top", host]).status == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: host + "/top")[.posixPermissions] as? Int) == 0o600)
        // Into the container: a file into a directory, and a directory.
        try "in\n".write(toFile: host + "/in.txt", atomically: true, encoding: .utf8)
        chmod(host + "/in.txt", 0o640)
        #expect(try p.run(["cp", host + "/in.txt", "box:/tmp/"]).status == 0)
        #expect(try p.run(["exec", "-T", "box", "stat", "-c", "%a %s", "/tmp/in.txt"]).out == "640 3\n")
        #expect(try p.run(["cp", host + "/copied", "box:/restored"]).status == 0)
        #expect(try p.run(["exec", "-T", "box", "cat", "/restored/sub/file"]).out == "deep\n")
        // A stopped container too.
        #expect(try p.run(["stop", "-t", "0"]).status == 0)
        #expect(try p.run(["cp", host + "/in.txt", "box:/stopped.txt"]).status == 0)
        #expect(try p.run(["cp", "box:/stopped.txt", host + "/back.txt"]).status == 0)
        #expect((try? String(contentsOfFile: host + "/back.txt", encoding: .utf8)) == "in\n")
        #expect(try p.run(["cp", "box:/no/such", host]).status != 0)
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func hostileSymlinksNeverPlaceMountsOrCopiesOnTheHost() throws {
        let marker = "scompose-escape-\(getpid())"
        let p = try Project(
            """
            services:
              evil:
                image: busybox
                command: sh -c 'echo inside > /data/\(marker); echo inside > /bound/\(marker); sleep 1000'
                volumes:
                  - store:/data
                  - ./src:/bound
            volumes:
              store: {}
            """) { rootfs in
            // Mount targets that point out of the container's root.
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/data", withDestinationPath: "/../../../../../../tmp")
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/bound", withDestinationPath: "../../../../../tmp")
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/escape", withDestinationPath: "/../../../../../../tmp")
        }
        try FileManager.default.createDirectory(atPath: p.s.dir + "/app/src", withIntermediateDirectories: true)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        _ = try p.waitFor(marker, ["exec", "-T", "evil", "ls", "/tmp"])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/" + marker), "nothing is written to the host's /tmp")
        // The mounts landed inside the container's root: its own /tmp.
        #expect(try p.run(["exec", "-T", "evil", "ls", "/tmp"]).out.contains(marker))
        #expect(FileManager.default.fileExists(atPath: p.s.dir + "/app/src/" + marker))
        // cp through a symlink stays inside the container too.
        try "payload\n".write(toFile: p.s.dir + "/payload", atomically: true, encoding: .utf8)
        #expect(try p.run(["cp", p.s.dir + "/payload", "evil:/escape/\(marker)-cp"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/\(marker)-cp"))
        #expect(try p.run(["exec", "-T", "evil", "cat", "/tmp/\(marker)-cp"]).out == "payload\n")
        try p.run(["down", "-v", "-t", "0"])
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func recreateKeepsAnonymousVolumesAndSecretChangesRecreate() throws {
        let yaml = """
            services:
              keeper:
                image: busybox
                command: sh -c 'echo $$MARK >> /anon/marks; sleep 1000'
                environment: {MARK: one}
                stop_grace_period: 1s
                volumes: [/anon, opts:/bound, "shared:/shared"]
                secrets: [fromenv]
              reader:
                image: busybox
                command: sleep 1000
                volumes_from: ["keeper:ro"]
            volumes:
              opts:
                driver_opts: {type: none, o: bind, device: HOSTDIR}
              shared:
                external: true
            secrets:
              fromenv: {environment: SECRET_VALUE}
            """
        let p = try Project(yaml.replacingOccurrences(of: "shared:/shared", with: "/unused"))
        let hostDir = p.s.dir + "/device"
        try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        try "on the host\n".write(toFile: hostDir + "/f", atomically: true, encoding: .utf8)
        func write(_ text: String) throws {
            try ("name: \(p.name)\n" + text.replacingOccurrences(of: "HOSTDIR", with: hostDir))
                .write(toFile: p.file, atomically: true, encoding: .utf8)
        }
        // An external volume that does not exist is a clear error.
        try write(yaml)
        let missing = try p.run(["up", "-d"])
        #expect(missing.status != 0)
        #expect(missing.err.contains("external volume \"shared\" not found"), "\(missing.err)")
        #expect(try p.s.run(["volume", "create", "shared"]).status == 0)
        var env = ProcessInfo.processInfo.environment
        env["SECRET_VALUE"] = "s1"
        let up = try runWith(p, env, ["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(try p.run(["exec", "-T", "keeper", "cat", "/bound/f", "/run/secrets/fromenv"]).out == "on the host\ns1")
        #expect(try p.run(["exec", "-T", "reader", "sh", "-c", "cat /bound/f; touch /anon/x"]).status != 0, "volumes_from :ro")
        #expect(try p.run(["exec", "-T", "reader", "cat", "/bound/f"]).out == "on the host\n")
        // A changed environment recreates the container; its anonymous volume goes to the new one.
        try write(yaml.replacingOccurrences(of: "MARK: one", with: "MARK: two"))
        #expect(try runWith(p, env, ["up", "-d"]).status == 0)
        #expect(try p.waitFor("two", ["exec", "-T", "keeper", "cat", "/anon/marks"]) == "one\ntwo\n")
        // A changed secret value recreates it too.
        env["SECRET_VALUE"] = "s2"
        let changed = try runWith(p, env, ["up", "-d"])
        #expect(changed.err.contains("keeper-1  Recreate"), "\(changed.err)")
        #expect(try p.run(["exec", "-T", "keeper", "cat", "/run/secrets/fromenv"]).out == "s2")
        #expect(try p.run(["down", "-v", "-t", "0"]).status == 0)
        #expect(volumesDir(p) == ["shared"], "external volumes stay: \(volumesDir(p))")
        #expect(try p.s.run(["volume", "rm", "shared"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: hostDir + "/f"), "a bound device is not the volume's to delete")
        try p.downAndCheckClean()
    }

    func runWith(_ p: Project, _ env: [String: String], _ args: [String]) throws -> ImageCommandTests.Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        process.arguments = ["-f", p.file] + args
        var environment = env
        environment["SCOMPOSE_ROOT"] = p.s.root
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ImageCommandTests.Run(status: process.terminationStatus, out: "", err: String(decoding: e, as: UTF8.self))
    }
}
