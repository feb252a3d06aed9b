// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The Dockerfile builder for real: `scompose build`, `up` building what is missing, the
/// layer cache, history, and failures that leave nothing behind.
@Suite(.serialized) struct BuildTests {
    static var canRun: Bool { ComposeRunTests.canRun }
    typealias Project = RuntimeBehaviourTests.Project

    /// The debootstrap root file system `scripts/make-debian-image.sh` keeps.
    static var debianCache: String {
        ProcessInfo.processInfo.environment["SCOMPOSE_DEBIAN_CACHE"] ?? "/var/cache/scompose/debian-bookworm.v2.tar.gz"
    }
    static var canRunDebian: Bool { canRun && FileManager.default.fileExists(atPath: debianCache) }

    static func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The bases the instruction test runs on: busybox always, Debian (debootstrap) when its
    /// root file system is at hand.
    static var bases: [String] { canRunDebian ? ["busybox:latest", "debian:bookworm"] : ["busybox:latest"] }

    @Test(.enabled(if: canRun), arguments: bases) func everyInstruction(base: String) throws {
        let p = try Project(
            """
            services:
              app:
                build:
                  context: .
                  args: {GREETING: hello, BASE: "\(base)"}
                  labels: {org.example.from: compose}
            """)
        if base.hasPrefix("debian") {
            #expect(try p.s.run(["image", "import", Self.debianCache, base]).status == 0)
        }
        let dir = p.s.dir + "/app"
        try Self.write(
            """
            # syntax=docker/dockerfile:1
            ARG BASE=busybox:latest
            FROM ${BASE} AS builder
            ARG GREETING=unset
            WORKDIR /src
            COPY src/ ./
            RUN echo "$GREETING from the builder" > /src/built.txt && \\
                cat /src/main.txt >> /src/built.txt
            RUN <<EOF
            echo heredoc ran > /src/heredoc.txt
            EOF

            FROM ${BASE}
            ARG GREETING
            ENV APP_HOME=/app GREETING_COPY=${GREETING}
            LABEL org.example.name="demo app" org.example.version=1
            RUN echo 'appuser:x:1234:1234::/home/appuser:/bin/sh' >> /etc/passwd && \
                echo 'appuser:x:1234:' >> /etc/group && mkdir -p /home/appuser
            WORKDIR $APP_HOME
            COPY --from=builder /src/built.txt /src/heredoc.txt ./
            COPY --from=busybox:latest /etc/passwd /from-image/passwd
            COPY --chown=appuser:appuser --chmod=640 config.ini /etc/app/
            ADD files.tar.gz /opt/
            COPY . /ctx/
            EXPOSE 8080 9090/udp
            VOLUME /data
            STOPSIGNAL SIGINT
            HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /app/built.txt
            SHELL ["/bin/sh", "-c"]
            USER appuser
            ENTRYPOINT ["/bin/sh", "-c"]
            CMD ["echo $GREETING_COPY; id -u; pwd; cat built.txt heredoc.txt"]
            """, dir + "/Dockerfile")
        try Self.write("main\n", dir + "/src/main.txt")
        try Self.write("[app]\nkey=1\n", dir + "/config.ini")
        try Self.write("secret\n", dir + "/secret.env")
        try Self.write("ignored\n", dir + "/logs/a.log")
        try Self.write("kept\n", dir + "/logs/keep.log")
        try Self.write("old\n", dir + "/config.bak")
        try Self.write("secret.env\nlogs\n!logs/keep.log\n*.bak\n", dir + "/.dockerignore")
        let payload = p.s.dir + "/payload"
        try Self.write("from the archive\n", payload + "/pkg/readme.txt")
        #expect(try p.s.run(["-C", payload, "-czf", dir + "/files.tar.gz", "pkg"], tool: "/bin/tar").status == 0)

        let build = try p.run(["build"])
        #expect(build.status == 0, "\(build.err)")
        #expect(build.err.contains("[app builder 3/5] COPY src/ ./"), "\(build.err)")
        #expect(build.err.contains("naming to docker.io/library/\(p.name)-app:latest"), "\(build.err)")

        let out = try p.run(["run", "--rm", "-T", "app"])
        #expect(out.status == 0, "\(out.err)")
        #expect(out.out == "hello\n1234\n/app\nhello from the builder\nmain\nheredoc ran\n", "\(out.out)")
        let check = try p.run([
            "run", "--rm", "-T", "-u", "0", "--entrypoint", "sh", "app", "-c",
            "stat -c '%U %G %a' /etc/app/config.ini; head -c 5 /from-image/passwd; echo; cat /opt/pkg/readme.txt; ls -a /ctx | tr '\\n' ' '; echo; ls /ctx/logs",
        ])
        #expect(check.status == 0, "\(check.err)")
        let lines = check.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "appuser appuser 640", "\(check.out)")
        #expect(lines.contains("from the archive"))
        #expect(lines.contains("root:"), "COPY --from an image: \(check.out)")
        // .dockerignore: secret.env, logs/ and *.bak are out; logs/keep.log comes back.
        #expect(lines.contains { $0.contains(".dockerignore") && $0.contains("Dockerfile") && !$0.contains("secret.env") && !$0.contains("config.bak") }, "\(check.out)")
        #expect(lines.last == "keep.log", "\(check.out)")

        let inspect = try p.s.run(["image", "inspect", "\(p.name)-app"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [[String: Any]])
        let config = try #require(json.first?["Config"] as? [String: Any])
        #expect(config["User"] as? String == "appuser")
        #expect(config["WorkingDir"] as? String == "/app")
        #expect(config["StopSignal"] as? String == "SIGINT")
        #expect((config["Env"] as? [String])?.contains("GREETING_COPY=hello") == true)
        #expect((config["ExposedPorts"] as? [String: Any])?.keys.sorted() == ["8080/tcp", "9090/udp"])
        #expect((config["Volumes"] as? [String: Any])?.keys.sorted() == ["/data"])
        let labels = config["Labels"] as? [String: String]
        #expect(labels?["org.example.name"] == "demo app" && labels?["org.example.from"] == "compose", "\(String(describing: labels))")
        let health = config["Healthcheck"] as? [String: Any]
        #expect(health?["Test"] as? [String] == ["CMD-SHELL", "test -f /app/built.txt"])
        #expect(health?["Interval"] as? Int == 5_000_000_000 && health?["Retries"] as? Int == 4)

        // An unchanged rebuild is all cache and gives the same image.
        let idBefore = try p.s.run(["image", "ls", "-q", "\(p.name)-app"]).out
        let again = try p.run(["build"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.err.components(separatedBy: "CACHED").count - 1 == 11, "every step that makes a layer: \(again.err)")
        #expect(try p.s.run(["image", "ls", "-q", "\(p.name)-app"]).out == idBefore)
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func cacheReusesDependencyLayersAfterACodeChange() throws {
        let p = try Project(
            """
            services:
              web:
                build: .
                command: cat /app/app.txt /deps/installed.txt
            """)
        let dir = p.s.dir + "/app"
        try Self.write(
            """
            FROM busybox:latest
            WORKDIR /app
            COPY requirements.txt .
            RUN mkdir /deps && sed 's/$/ installed/' requirements.txt > /deps/installed.txt
            COPY . .
            """, dir + "/Dockerfile")
        try Self.write("flask\n", dir + "/requirements.txt")
        try Self.write("version 1\n", dir + "/app.txt")
        // `up` builds the missing image.
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("Built"), "\(up.err)")
        #expect(try p.waitFor("version 1", ["logs", "web"]).contains("flask installed"))
        // A change in the app's code: the dependency step comes from the cache, the copy runs.
        try Self.write("version 2\n", dir + "/app.txt")
        let rebuild = try p.run(["up", "-d", "--build"])
        #expect(rebuild.status == 0, "\(rebuild.err)")
        let steps = rebuild.err.split(separator: "\n").map(String.init)
        func state(of instruction: String) -> String? {
            guard let line = steps.first(where: { $0.hasSuffix(instruction) }), let number = line.split(separator: " ").first
            else { return nil }
            return steps.first { $0.hasPrefix(number + " CACHED") || $0.hasPrefix(number + " DONE") }
        }
        #expect(state(of: "RUN mkdir /deps && sed 's/$/ installed/' requirements.txt > /deps/installed.txt")?.contains("CACHED") == true, "\(rebuild.err)")
        #expect(state(of: "COPY . .")?.contains("DONE") == true, "\(rebuild.err)")
        #expect(rebuild.err.contains("Recreate"), "the container runs the new image: \(rebuild.err)")
        let logs = try p.waitFor("version 2", ["logs", "web"])
        #expect(logs.contains("version 2"), "\(logs)\n\(rebuild.err)")
        let history = try p.s.run(["image", "history", "\(p.name)-web"])
        #expect(history.status == 0, "\(history.err)")
        #expect(history.out.contains("COPY . . # buildkit") && history.out.contains("RUN /bin/sh -c mkdir /deps"), "\(history.out)")
        #expect(history.out.contains("WORKDIR /app"), "\(history.out)")
        try p.downAndCheckClean()
    }

    /// `RUN --mount` of every type: binds of the context and of another stage (read-only
    /// unless `rw`, writes thrown away), a cache that outlives builds, tmpfs, secrets as files
    /// and variables (never in a layer), and no mount point left in the image.
    @Test(.enabled(if: canRun)) func runMounts() throws {
        let p = try Project(
            """
            services:
              app:
                build:
                  context: .
                  secrets: [token, {source: envtoken, target: api_key}]
              bad:
                build: {context: ., dockerfile: Dockerfile.bad}
            secrets:
              token: {file: ./token.txt}
              envtoken: {environment: SCOMPOSE_TEST_API_KEY}
            """)
        let dir = p.s.dir + "/app"
        try Self.write("s3cret-file-value", dir + "/token.txt")
        try Self.write("data a\n", dir + "/data/a.txt")
        try Self.write("single\n", dir + "/single.txt")
        try Self.write(
            """
            FROM busybox:latest AS tools
            RUN mkdir -p /opt/tool && echo "from the tools stage" > /opt/tool/note.txt

            FROM busybox:latest
            RUN --mount=type=bind,source=data,target=/mnt/data \\
                --mount=type=bind,source=single.txt,target=/mnt/single.txt \\
                cat /mnt/data/a.txt /mnt/single.txt > /bound.txt && \\
                (touch /mnt/data/x 2>/dev/null && echo rw || echo ro) >> /bound.txt
            RUN --mount=type=bind,from=tools,source=/opt/tool,target=/t,rw touch /t/scratch && cat /t/note.txt > /fromstage.txt
            RUN --mount=type=cache,target=/var/cache/thing,id=thing echo run >> /var/cache/thing/count && \\
                wc -l < /var/cache/thing/count > /cachecount.txt
            RUN --mount=type=tmpfs,target=/scratchpad,size=1m df -k /scratchpad | tail -1 | awk '{print $2}' > /tmpfs.txt
            RUN --mount=type=secret,id=token --mount=type=secret,id=api_key,env=API_KEY_VALUE --mount=type=secret,id=absent \\
                wc -c < /run/secrets/token > /secret.txt && \\
                echo "${#API_KEY_VALUE}" >> /secret.txt && \\
                (test -e /run/secrets/absent && echo absent-present || echo absent-missing) >> /secret.txt
            CMD cat /bound.txt /fromstage.txt /cachecount.txt /tmpfs.txt /secret.txt; ls /mnt; for d in /t /var /run /scratchpad; do test -e $d && echo left $d; done; true
            """, dir + "/Dockerfile")
        try Self.write(
            "FROM busybox:latest\nRUN --mount=type=secret,id=nope,required true\n", dir + "/Dockerfile.bad")
        setenv("SCOMPOSE_TEST_API_KEY", "key-from-env", 1)
        defer { unsetenv("SCOMPOSE_TEST_API_KEY") }
        let build = try p.run(["build", "app"])
        #expect(build.status == 0, "\(build.err)")
        let run = try p.run(["run", "--rm", "-T", "app"])
        #expect(
            run.out == "data a\nsingle\nro\nfrom the tools stage\n1\n1024\n17\n12\nabsent-missing\n",
            "\(run.out) \(run.err)")
        // The cache mount outlives the build: a build without the layer cache counts 2.
        let again = try p.run(["build", "--no-cache", "app"])
        #expect(again.status == 0, "\(again.err)")
        #expect(try p.run(["run", "--rm", "-T", "app"]).out.contains("\n2\n1024\n"))
        // A changed bind source runs its step again; the rest comes from the cache.
        try Self.write("data b\n", dir + "/data/a.txt")
        let changed = try p.run(["build", "app"])
        #expect(changed.status == 0 && changed.err.contains("CACHED"), "\(changed.err)")
        #expect(try p.run(["run", "--rm", "-T", "app"]).out.hasPrefix("data b\n"))
        // Secrets never reach a stored blob or snapshot.
        let grep = try p.s.run(["-rlE", "s3cret-file-value|key-from-env", p.s.root], tool: "/bin/grep")
        #expect(grep.out.isEmpty, "\(grep.out)")
        // A required secret nobody gave, and a malformed mount, are clear errors.
        let bad = try p.run(["build", "bad"])
        #expect(bad.status != 0 && bad.err.contains("secret nope not found"), "\(bad.err)")
        try Self.write("FROM busybox:latest\nRUN --mount=type=bind,targt=/x true\n", dir + "/Dockerfile.bad")
        let typo = try p.run(["build", "bad"])
        #expect(typo.status != 0 && typo.err.contains("Dockerfile.bad:2") && typo.err.contains("unexpected key 'targt'"), "\(typo.err)")
        try p.downAndCheckClean()
    }

    /// `watch`: `develop.watch` rules act on changes: `sync` copies new, changed and nested
    /// files in and removes deleted ones (ignores respected), `sync+restart` restarts,
    /// `rebuild` builds and recreates.
    @Test(.enabled(if: canRun)) func watchSyncsRestartsAndRebuilds() throws {
        let p = try Project(
            """
            services:
              app:
                build: .
                stop_signal: SIGKILL
                develop:
                  watch:
                    - {action: sync, path: ./src, target: /app/src, ignore: [skip/]}
                    - {action: sync+restart, path: ./conf, target: /app/conf}
                    - {action: rebuild, path: ./Dockerfile}
            """)
        let dir = p.s.dir + "/app"
        try Self.write("one\n", dir + "/src/a.txt")
        try Self.write("conf1\n", dir + "/conf/c.txt")
        let dockerfile = """
            FROM busybox:latest
            COPY src /app/src
            COPY conf /app/conf
            CMD ["sh", "-c", "echo GREETING; cat /app/conf/c.txt; exec sleep 1000"]
            """
        try Self.write(dockerfile.replacingOccurrences(of: "GREETING", with: "first"), dir + "/Dockerfile")
        let output = p.s.dir + "/watch.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        watch.arguments = ["-f", p.file, "watch"]
        watch.environment = ProcessInfo.processInfo.environment.merging(["SCOMPOSE_ROOT": p.s.root]) { $1 }
        watch.standardOutput = FileHandle(forWritingAtPath: output)
        watch.standardError = FileHandle(forWritingAtPath: output)
        try watch.run()
        defer {
            // SIGKILL: the test runner's children start with SIGTERM blocked.
            kill(watch.processIdentifier, SIGKILL)
            watch.waitUntilExit()
        }
        func until(_ what: String, _ check: () throws -> Bool) throws {
            for _ in 0..<ImageCommandTests.polls(100) {
                if try check() { return }
                usleep(100_000)
            }
            Issue.record("timed out waiting for \(what): \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        }
        try until("Watch enabled") { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("Watch enabled") }
        func inContainer(_ command: String) throws -> String { try p.run(["exec", "-T", "app", "sh", "-c", command]).out }
        // sync: a change, a new nested file, an ignored one.
        try Self.write("two\n", dir + "/src/a.txt")
        try Self.write("deep\n", dir + "/src/new/deep/x.txt")
        try Self.write("skipped\n", dir + "/src/skip/s.txt")
        try until("the sync") { try inContainer("cat /app/src/a.txt /app/src/new/deep/x.txt 2>&1") == "two\ndeep\n" }
        #expect(try inContainer("test -e /app/src/skip && echo there || echo absent") == "absent\n")
        // A deletion.
        try FileManager.default.removeItem(atPath: dir + "/src/a.txt")
        try until("the deletion") { try inContainer("test -e /app/src/a.txt && echo there || echo gone") == "gone\n" }
        // sync+restart: the container starts again with the new file.
        try Self.write("conf2\n", dir + "/conf/c.txt")
        try until("the restart") { try p.run(["logs", "--no-log-prefix", "app"]).out.contains("conf2") }
        // rebuild: a new image, and the container made from it.
        try Self.write(dockerfile.replacingOccurrences(of: "GREETING", with: "rebuilt"), dir + "/Dockerfile")
        try until("the rebuild") { try p.run(["logs", "--no-log-prefix", "app"]).out.hasPrefix("rebuilt") }
        let said = try String(contentsOfFile: output, encoding: .utf8)
        #expect(said.contains("Syncing service \"app\" after") && said.contains("Rebuilding service(s) [\"app\"]"), "\(said)")
        kill(watch.processIdentifier, SIGKILL)
        try p.downAndCheckClean()
    }

    /// `up --watch`: the logs and the watch together; a sync reaches the container, and
    /// Ctrl-C stops everything (not the end of a container, which a rebuild replaces).
    @Test(.enabled(if: canRun)) func upWatchSyncsBesideTheLogs() throws {
        let p = try Project(
            """
            services:
              app:
                build: .
                command: [sh, -c, "echo started; exec sleep 1000"]
                stop_grace_period: 1s
                develop:
                  watch:
                    - {action: sync, path: ./src, target: /app/src}
            """)
        let dir = p.s.dir + "/app"
        try Self.write("one\n", dir + "/src/a.txt")
        try Self.write("FROM busybox:latest\nCOPY src /app/src\n", dir + "/Dockerfile")
        let output = p.s.dir + "/up.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let up = Process()
        up.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
        up.arguments = ["-f", p.file, "up", "--watch"]
        up.environment = ProcessInfo.processInfo.environment.merging(["SCOMPOSE_ROOT": p.s.root]) { $1 }
        up.standardOutput = FileHandle(forWritingAtPath: output)
        up.standardError = FileHandle(forWritingAtPath: output)
        try up.run()
        defer {
            kill(up.processIdentifier, SIGKILL)
            up.waitUntilExit()
        }
        func said() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        for _ in 0..<ImageCommandTests.polls(100) where !(said().contains("Watch enabled") && said().contains("started")) { usleep(100_000) }
        try Self.write("two\n", dir + "/src/a.txt")
        var seen = ""
        for _ in 0..<100 where seen != "two\n" {
            usleep(100_000)
            seen = try p.run(["exec", "-T", "app", "cat", "/app/src/a.txt"]).out
        }
        #expect(seen == "two\n", "\(said())")
        kill(up.processIdentifier, SIGINT)
        for _ in 0..<100 where up.isRunning { usleep(100_000) }
        #expect(!up.isRunning && said().contains("Gracefully Stopping"), "\(said())")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func addFromURLs() throws {
        let p = try Project("services:\n  fetched:\n    build: .\n")
        let site = p.s.dir + "/site"
        try Self.write("fetched over HTTP\n", site + "/data.txt")
        let port = RegistryTests.LocalRegistry.freePort()
        let server = try RegistryTests.Server(
            "/usr/bin/python3", ["-m", "http.server", "--bind", "127.0.0.1", "--directory", site, String(port)], port: port)
        try Self.write(
            """
            FROM busybox:latest
            ADD http://127.0.0.1:\(port)/data.txt /opt/
            ADD --chmod=644 http://127.0.0.1:\(port)/data.txt /opt/renamed.txt
            CMD ["sh", "-c", "stat -c '%a %n' /opt/data.txt /opt/renamed.txt; cat /opt/renamed.txt"]
            """, p.s.dir + "/app/Dockerfile")
        let build = try p.run(["build"])
        #expect(build.status == 0, "\(build.err)")
        let run = try p.run(["run", "--rm", "-T", "fetched"])
        #expect(run.out == "600 /opt/data.txt\n644 /opt/renamed.txt\nfetched over HTTP\n", "\(run.out) \(run.err)")
        // A missing file is a clear error.
        try Self.write("FROM busybox:latest\nADD http://127.0.0.1:\(port)/missing.txt /opt/\n", p.s.dir + "/app/Dockerfile")
        let missing = try p.run(["build"])
        #expect(missing.status != 0 && missing.err.contains("404"), "\(missing.err)")
        try p.downAndCheckClean()
        _ = server
    }

    /// COPY into a directory that the image has as a link follows the link as the container
    /// sees it: inside the image, never to the host path of the same name.
    @Test(.enabled(if: canRun)) func copyThroughLinksInTheImageStaysInIt() throws {
        let p = try Project("services:\n  linked:\n    build: .\n")
        let victim = p.s.dir + "/host-victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try Self.write("in the image\n", p.s.dir + "/app/tree/app/file")
        try Self.write("planted\n", p.s.dir + "/app/tree/escape/planted")
        try Self.write(
            """
            FROM busybox:latest
            RUN mkdir /data && ln -s /data /app && ln -s \(victim) /escape
            COPY tree/ /
            CMD ["sh", "-c", "cat /data/file; cat /escape/planted"]
            """, p.s.dir + "/app/Dockerfile")
        let build = try p.run(["build"])
        #expect(build.status == 0, "\(build.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: victim).isEmpty, "nothing is written on the host")
        let run = try p.run(["run", "--rm", "-T", "linked"])
        #expect(run.out == "in the image\nplanted\n", "\(run.out) \(run.err)")
        try p.downAndCheckClean()
    }

    @Test(.enabled(if: canRun)) func failingRunLeavesNoImage() throws {
        let p = try Project(
            """
            services:
              broken:
                build:
                  context: .
                  dockerfile_inline: |
                    FROM busybox:latest
                    RUN echo before the failure
                    RUN echo doomed; echo to stderr >&2; exit 3
                    RUN echo never
            """)
        let images = try p.s.run(["image", "ls", "-q"]).out
        let build = try p.run(["build"])
        #expect(build.status != 0)
        #expect(build.err.contains("doomed") && build.err.contains("to stderr"), "\(build.err)")
        #expect(build.err.contains("did not complete successfully: exit code: 3"), "\(build.err)")
        #expect(!build.err.contains("never\n"))
        #expect(try p.s.run(["image", "ls", "-q"]).out == images, "no image or tag was made")
        let bad = try p.run(["build", "--build-arg", "X=1"])
        #expect(bad.status != 0)
        // A Dockerfile error names its line.
        let q = try Project(
            """
            services:
              typo:
                build:
                  context: .
                  dockerfile_inline: |
                    FROM busybox:latest
                    RUNN echo hi
            """)
        let typo = try q.run(["build"])
        #expect(typo.status != 0)
        #expect(typo.err.contains(":2:") && typo.err.lowercased().contains("unknown instruction"), "\(typo.err)")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/tmp")) ?? []
        #expect(leftovers.isEmpty, "build scratch space is removed: \(leftovers)")
    }

    @Test(.enabled(if: canRunDebian, "no debian:bookworm root file system cache (scripts/make-debian-image.sh)"))
    func debianBaseWithUsersAndOwners() throws {
        let p = try Project(
            """
            services:
              api:
                build:
                  context: .
                  target: runtime
                command: ["sleep", "1000"]
                stop_grace_period: 1s
            """)
        #expect(try p.s.run(["image", "import", Self.debianCache, "debian:bookworm"]).status == 0)
        let dir = p.s.dir + "/app"
        try Self.write(
            """
            FROM debian:bookworm AS base
            RUN groupadd -g 2000 svc && useradd -m -u 2000 -g svc -s /bin/bash svc

            FROM base AS runtime
            ENV LANG=C.UTF-8
            WORKDIR /home/svc/app
            COPY --chown=svc:svc app.sh ./
            RUN chmod 755 app.sh && rm -rf /usr/share/doc/*
            USER svc
            HEALTHCHECK --interval=1s CMD test -x /home/svc/app/app.sh
            CMD ["./app.sh"]
            """, dir + "/Dockerfile")
        try Self.write("#!/bin/bash\necho \"$(id -un):$(id -gn) $LANG $(stat -c %U app.sh) $(ls /usr/share/doc | wc -l)\"\n", dir + "/app.sh")
        let build = try p.run(["build"])
        #expect(build.status == 0, "\(build.err)")
        let run = try p.run(["run", "--rm", "-T", "api", "./app.sh"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out == "svc:svc C.UTF-8 svc 0\n", "\(run.out)")
        let up = try p.run(["up", "-d", "--wait"])
        #expect(up.status == 0, "\(up.err)")
        let ps = try p.run(["ps"])
        #expect(ps.out.contains("(healthy)"), "\(ps.out)")
        try p.downAndCheckClean()
    }
}
