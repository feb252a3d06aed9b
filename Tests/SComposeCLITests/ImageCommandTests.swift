// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeCLI
import Testing

/// `scompose image …` end to end, through the built binary, on a busybox image made from
/// Debian's busybox-static, under a temporary SCOMPOSE_ROOT.
@Suite(.serialized) struct ImageCommandTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var binary: String {
        ProcessInfo.processInfo.environment["SCOMPOSE_BIN"] ?? repo.appendingPathComponent(".build/debug/scompose").path
    }

    /// How many times longer than here a wait for the CLI may take (`SCOMPOSE_TEST_TIME_SCALE`,
    /// default 1): scripts/vm/suites.sh sets it under TCG emulation, where every command costs
    /// about ten times as much. Applied to the bounds that wait for a command's effect.
    static var timeScale: Double {
        ProcessInfo.processInfo.environment["SCOMPOSE_TEST_TIME_SCALE"].flatMap(Double.init).map { max($0, 1) } ?? 1
    }

    /// `n` polls scaled by `timeScale`.
    static func polls(_ n: Int) -> Int { Int(Double(n) * timeScale) }

    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    final class Sandbox {
        let dir: String
        var root: String { dir + "/state" }

        init() throws {
            // Writing to a pipe whose reader is gone must fail, not kill the test runner.
            signal(SIGPIPE, SIG_IGN)
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-img-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }

        deinit {
            // A test that stops before its `down` (or a `down` that forgot something) must not
            // leave bridges and nftables tables on the machine after its state is gone: they
            // are removed here, and leaving them fails the test.
            let left = Self.networks(root: root)
            if !left.isEmpty {
                for n in left {
                    _ = try? run(["link", "del", n.bridge], tool: "/usr/sbin/ip")
                    _ = try? run(["delete", "table", "ip", n.table], tool: "/usr/sbin/nft")
                }
                Issue.record("networks left at the end of the test: \(left.map(\.name))")
            }
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// The networks of a state root whose bridge exists: (name, bridge, nftables table).
        static func networks(root: String) -> [(name: String, bridge: String, table: String)] {
            let dir = root + "/networks"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return names.compactMap { name in
                guard let data = FileManager.default.contents(atPath: dir + "/" + name + "/network.json"),
                    let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let bridge = record["bridge"] as? String, let id = record["id"] as? String,
                    FileManager.default.fileExists(atPath: "/sys/class/net/" + bridge)
                else { return nil }
                return (name, bridge, "scompose-n-" + String(id.prefix(12)))
            }
        }

        @discardableResult
        func run(_ args: [String], stdin: String? = nil, tool: String? = nil) throws -> Run {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool ?? ImageCommandTests.binary)
            p.arguments = args
            var env = ProcessInfo.processInfo.environment
            env["SCOMPOSE_ROOT"] = root
            p.environment = env
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            if let stdin { p.standardInput = FileHandle(forReadingAtPath: stdin) }
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
        }

        /// A busybox root file system tarball (gzip), like a `docker export`.
        func busyboxRootfs() throws -> String {
            let rootfs = dir + "/rootfs"
            for d in ["bin", "etc", "tmp", "www"] {
                try FileManager.default.createDirectory(atPath: rootfs + "/" + d, withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
            for tool in ["sh", "ls", "cat", "echo", "httpd", "wget", "sleep"] {
                try FileManager.default.createSymbolicLink(atPath: rootfs + "/bin/" + tool, withDestinationPath: "busybox")
            }
            try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
            let tarball = dir + "/rootfs.tar.gz"
            let r = try run(["-C", rootfs, "-czf", tarball, "."], tool: "/bin/tar")
            #expect(r.status == 0, "\(r.err)")
            return tarball
        }
    }

    static var haveBusybox: Bool { FileManager.default.isExecutableFile(atPath: "/bin/busybox") }
    static var haveSkopeo: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") }

    @Test(.enabled(if: haveBusybox)) func importListInspectHistory() throws {
        let s = try Sandbox()
        let tarball = try s.busyboxRootfs()
        let imported = try s.run([
            "image", "import", "-c", "CMD [\"sh\"]", "-c", "ENV A=1", "-c", "EXPOSE 80", "-m", "from busybox-static",
            tarball, "busybox:test",
        ])
        #expect(imported.status == 0, "\(imported.err)")
        #expect(imported.out.hasPrefix("sha256:"))
        let id = String(imported.out.dropFirst(7).prefix(12))

        let ls = try s.run(["image", "ls"])
        let lines = ls.out.split(separator: "\n")
        #expect(lines.first?.hasPrefix("REPOSITORY   TAG    IMAGE ID       CREATED") == true)
        #expect(lines.count == 2)
        #expect(lines[1].hasPrefix("busybox      test   \(id)"))
        #expect(try s.run(["image", "ls", "-q"]).out == id + "\n")

        let inspect = try s.run(["image", "inspect", "busybox:test"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspect.out.utf8)) as? [[String: Any]])
        let image = try #require(json.first)
        #expect(image["Id"] as? String == "sha256:" + imported.out.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(image["RepoTags"] as? [String] == ["busybox:test"])
        #expect(image["Os"] as? String == "linux")
        #expect(image["Comment"] as? String == "from busybox-static")
        let config = try #require(image["Config"] as? [String: Any])
        #expect(config["Cmd"] as? [String] == ["sh"])
        #expect(config["Env"] as? [String] == ["A=1"])
        #expect((config["ExposedPorts"] as? [String: Any])?.keys.sorted() == ["80/tcp"])
        let rootfs = try #require(image["RootFS"] as? [String: Any])
        #expect((rootfs["Layers"] as? [String])?.count == 1)
        #expect((image["Size"] as? Int ?? 0) > 1_000_000)

        let history = try s.run(["image", "history", "busybox:test"])
        #expect(history.out.hasPrefix("IMAGE          CREATED"))
        #expect(history.out.contains("Imported from \(tarball.prefix(20))"))
        #expect(history.out.contains("from busybox-static"))

        // The snapshot holds the unpacked root file system.
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: s.root + "/snapshots").filter { !$0.hasSuffix(".size") }
        #expect(snapshots.count == 1)
        #expect(FileManager.default.isExecutableFile(atPath: s.root + "/snapshots/" + snapshots[0] + "/bin/busybox"))

        #expect(try s.run(["image", "tag", "busybox:test", "example.com/tools/busybox:1"]).status == 0)
        let untag = try s.run(["image", "rm", "busybox:test"])
        #expect(untag.out == "Untagged: busybox:test\n")
        let rm = try s.run(["image", "rm", "example.com/tools/busybox:1"])
        #expect(rm.out.hasPrefix("Untagged: example.com/tools/busybox:1\nDeleted: sha256:\(id)"))
        // Garbage: no blob or snapshot is left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root + "/content/blobs/sha256") == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.root + "/snapshots") == [])
        #expect(try s.run(["image", "inspect", "nope"]).status != 0)

        // Prune: a dangling image goes, a named one stays unless -a.
        #expect(try s.run(["image", "import", tarball]).status == 0)
        #expect(try s.run(["image", "import", tarball, "busybox:keep"]).status == 0)
        let prune = try s.run(["image", "prune", "-f"])
        #expect(prune.out.contains("deleted: sha256:"))
        #expect(prune.out.contains("Total reclaimed space: 1.98MB") || prune.out.contains("Total reclaimed space: 2"))
        #expect(try s.run(["image", "ls", "-q"]).out.split(separator: "\n").count == 1)
        #expect(try s.run(["image", "prune", "-a", "-f"]).out.contains("untagged: busybox:keep"))
        #expect(try s.run(["image", "ls", "-q"]).out.isEmpty)
    }

    @Test(.enabled(if: haveBusybox)) func saveAndLoadRoundTrip() throws {
        let s = try Sandbox()
        let tarball = try s.busyboxRootfs()
        #expect(try s.run(["image", "import", tarball, "busybox:rt"]).status == 0)
        let layers = try s.run(["image", "inspect", "busybox:rt"]).out
        for format in ["docker", "oci"] {
            let archive = s.dir + "/save-\(format).tar"
            let saved = try s.run(["image", "save", "--format", format, "-o", archive, "busybox:rt"])
            #expect(saved.status == 0, "\(saved.err)")
            let fresh = try Sandbox()
            let loaded = try fresh.run(["image", "load", "-i", archive])
            #expect(loaded.status == 0, "\(loaded.err)")
            #expect(loaded.out == "Loaded image: busybox:rt\n")
            let again = try fresh.run(["image", "inspect", "busybox:rt"]).out
            #expect(Self.layers(again) == Self.layers(layers))
        }
        // Standard input, and a gzip-compressed archive.
        let archive = s.dir + "/save.tar"
        #expect(try s.run(["image", "save", "-o", archive, "busybox:rt"]).status == 0)
        let fresh = try Sandbox()
        let fromStdin = try fresh.run(["image", "load"], stdin: archive)
        #expect(fromStdin.out == "Loaded image: busybox:rt\n", "\(fromStdin.err)")
        #expect(try s.run(["-k", archive], tool: "/bin/gzip").status == 0)
        let compressed = try Sandbox()
        let fromGzip = try compressed.run(["image", "load", "-i", archive + ".gz"])
        #expect(fromGzip.out == "Loaded image: busybox:rt\n", "\(fromGzip.err)")
    }

    @Test(.enabled(if: haveBusybox)) func severalImagesInOneArchive() throws {
        let s = try Sandbox()
        let tarball = try s.busyboxRootfs()
        #expect(try s.run(["image", "import", "-c", "CMD [\"sh\"]", tarball, "one:1"]).status == 0)
        #expect(try s.run(["image", "import", "-c", "CMD [\"ls\"]", tarball, "two:2"]).status == 0)
        let digests = try s.run(["image", "ls", "--digests"]).out
        #expect(digests.hasPrefix("REPOSITORY   TAG   DIGEST"))
        #expect(digests.contains("sha256:"))
        for format in ["docker", "oci"] {
            let archive = s.dir + "/two-\(format).tar"
            #expect(try s.run(["image", "save", "--format", format, "-o", archive, "one:1", "two:2"]).status == 0)
            let fresh = try Sandbox()
            let loaded = try fresh.run(["image", "load", "-i", archive])
            #expect(loaded.out.split(separator: "\n").sorted() == ["Loaded image: one:1", "Loaded image: two:2"], "\(format)")
            // Both images share their only layer: one blob and one snapshot for it.
            let snapshots = try FileManager.default.contentsOfDirectory(atPath: fresh.root + "/snapshots")
            #expect(snapshots.filter { !$0.hasSuffix(".size") }.count == 1)
        }
    }

    static func layers(_ inspect: String) -> [String] {
        guard let json = try? JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [[String: Any]],
            let rootfs = json.first?["RootFS"] as? [String: Any]
        else { return [] }
        return rootfs["Layers"] as? [String] ?? []
    }

    @Test(.enabled(if: haveBusybox && haveSkopeo)) func skopeoInterop() throws {
        let s = try Sandbox()
        let tarball = try s.busyboxRootfs()
        #expect(try s.run(["image", "import", tarball, "busybox:interop"]).status == 0)
        let ours = Self.layers(try s.run(["image", "inspect", "busybox:interop"]).out)
        let archive = s.dir + "/ours.tar"
        #expect(try s.run(["image", "save", "-o", archive, "busybox:interop"]).status == 0)
        let policy = s.dir + "/policy.json"
        try #"{"default":[{"type":"insecureAcceptAnything"}]}"#.write(toFile: policy, atomically: true, encoding: .utf8)
        // skopeo reads what we save and writes both archive formats, which we load.
        for (transport, name) in [("docker-archive", "busybox:viaskopeo"), ("oci-archive", "example.com/busybox:viaskopeo")] {
            let out = s.dir + "/skopeo-\(transport).tar"
            let copied = try s.run(
                ["--policy", policy, "copy", "-q", "docker-archive:\(archive)", "\(transport):\(out):\(name)"],
                tool: "/usr/bin/skopeo")
            #expect(copied.status == 0, "\(copied.err)")
            let fresh = try Sandbox()
            let loaded = try fresh.run(["image", "load", "-i", out])
            #expect(loaded.status == 0, "\(loaded.err)")
            let list = try fresh.run(["image", "ls", "-q"]).out.split(separator: "\n")
            #expect(list.count == 1)
            let inspected = try fresh.run(["image", "inspect", String(list[0])]).out
            #expect(Self.layers(inspected) == ours, "\(transport)")
        }
    }

    @Test(.enabled(if: haveBusybox)) func concurrentLoadsLeaveOneImage() throws {
        let s = try Sandbox()
        let tarball = try s.busyboxRootfs()
        #expect(try s.run(["image", "import", tarball, "busybox:conc"]).status == 0)
        let archive = s.dir + "/conc.tar"
        #expect(try s.run(["image", "save", "-o", archive, "busybox:conc"]).status == 0)
        let fresh = try Sandbox()
        var processes: [Process] = []
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["image", "load", "-q", "-i", archive]
            p.environment = ["SCOMPOSE_ROOT": fresh.root, "PATH": "/usr/bin:/bin"]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            processes.append(p)
        }
        for p in processes {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        #expect(try fresh.run(["image", "ls", "-q"]).out.split(separator: "\n").count == 1)
        let ingest = try FileManager.default.contentsOfDirectory(atPath: fresh.root + "/content/ingest")
        #expect(ingest.isEmpty)
        let partial = try FileManager.default.contentsOfDirectory(atPath: fresh.root + "/snapshots").filter { $0.contains("partial") }
        #expect(partial.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.root + "/content/blobs/sha256").count == 3)
    }

    @Test func badArchivesAreRejectedCleanly() throws {
        let s = try Sandbox()
        let junk = s.dir + "/junk.tar"
        try Data("this is not a tar".utf8).write(to: URL(fileURLWithPath: junk))
        let r = try s.run(["image", "load", "-i", junk])
        #expect(r.status != 0)
        #expect(!r.err.isEmpty)
        #expect(try s.run(["image", "ls", "-q"]).out.isEmpty)
        let bad = try s.run(["image", "import", s.dir + "/missing.tar"])
        #expect(bad.status != 0)
    }
}

@Suite struct GlobalFlagTests {
    @Test func globalFlagsMoveAfterTheVerb() {
        #expect(
            SCompose.movingGlobalFlags(["-f", "a.yaml", "-p", "x", "config", "--services"])
                == ["config", "--file", "a.yaml", "--project-name", "x", "--services"])
        // After the verb, `run -p` publishes a port, as in Compose.
        #expect(
            SCompose.movingGlobalFlags(["-p", "x", "run", "-p", "8080:80", "web"])
                == ["run", "--project-name", "x", "-p", "8080:80", "web"])
        #expect(SCompose.movingGlobalFlags(["--project-name=x", "config"]) == ["config", "--project-name=x"])
        #expect(SCompose.movingGlobalFlags(["image", "prune", "-f"]) == ["image", "prune", "-f"])
        #expect(SCompose.movingGlobalFlags(["--version"]) == ["--version"])
    }

    @Test func booleanOptionsStandAloneAsInGo() {
        #expect(SCompose.standAloneBooleans(["commit", "--pause", "web"]) == ["commit", "--pause=true", "web"])
        #expect(SCompose.standAloneBooleans(["commit", "--pause=false", "web"]) == ["commit", "--pause=false", "web"])
        #expect(SCompose.standAloneBooleans(["watch", "--prune"]) == ["watch", "--prune=true"])
        #expect(SCompose.standAloneBooleans(["up", "--pause"]) == ["up", "--pause"])
    }
}
