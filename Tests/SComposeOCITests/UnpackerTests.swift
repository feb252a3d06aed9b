// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

import CLinux
@testable import SComposeOCI

/// Hostile layers must never write outside the snapshot, and a bad layer leaves nothing behind.
@Suite struct HostileLayerTests {
    let isRoot = getuid() == 0

    /// Unpacks `tar` into `work/snap`; returns the error if any. `work/outside` is a sentinel
    /// directory next to it that must stay empty.
    func unpack(_ tar: [UInt8], compress: Bool = false, maxBytes: Int64 = 1 << 30) throws -> (TempDir, OCIError?) {
        let work = try TempDir()
        try FileManager.default.createDirectory(atPath: work.path + "/outside", withIntermediateDirectories: true)
        let layer = try work.write("layer.tar", compress ? try gzip(tar) : tar)
        var unpacker = LayerUnpacker(maxBytes: maxBytes)
        unpacker.preserveOwnership = isRoot
        do {
            try unpacker.unpack(layer: layer, into: work.path + "/snap")
            return (work, nil)
        } catch {
            return (work, error)
        }
    }

    func expectContained(_ work: TempDir) {
        #expect((try? FileManager.default.contentsOfDirectory(atPath: work.path + "/outside")) == [])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/scompose-pwned"))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: work.path))?.sorted() ?? []
        #expect(names.allSatisfy { ["layer.tar", "outside", "snap"].contains($0) }, "\(names)")
    }

    @Test func ordinaryLayer() throws {
        var t = TarBuilder()
        t.add("bin/", kind: .directory, mode: 0o755)
        t.add("bin/tool", content: Array("#!/bin/sh\n".utf8), mode: 0o4755)
        t.add("bin/alias", kind: .symlink, link: "tool")
        t.add("bin/hard", kind: .hardlink, link: "bin/tool")
        t.add("./etc/conf", content: Array("x=1\n".utf8), uid: 1000, gid: 1000)
        let (work, error) = try unpack(t.archive, compress: true)
        #expect(error == nil)
        let snap = work.path + "/snap"
        #expect(try String(contentsOfFile: snap + "/bin/tool", encoding: .utf8) == "#!/bin/sh\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: snap + "/bin/alias") == "tool")
        var a = stat()
        var b = stat()
        stat(snap + "/bin/tool", &a)
        stat(snap + "/bin/hard", &b)
        #expect(a.st_ino == b.st_ino)
        #expect(a.st_mode & 0o7777 == 0o4755)
        if isRoot {
            var c = stat()
            stat(snap + "/etc/conf", &c)
            #expect(c.st_uid == 1000 && c.st_gid == 1000)
        }
        expectContained(work)
    }

    @Test func dotDotIsRejected() throws {
        var t = TarBuilder()
        t.add("../outside/pwned", content: [1])
        let (work, error) = try unpack(t.archive)
        #expect(error != nil)
        #expect(!work.exists("snap"))
        expectContained(work)
    }

    @Test func absolutePathsStayInside() throws {
        var t = TarBuilder()
        t.add("/tmp/scompose-pwned", content: [1])
        let (work, error) = try unpack(t.archive)
        #expect(error == nil)
        #expect(work.exists("snap/tmp/scompose-pwned"))
        expectContained(work)
    }

    @Test func writingThroughASymlinkIsRejected() throws {
        for target in ["../outside", "/tmp", "..", "."] {
            var t = TarBuilder()
            t.add("link", kind: .symlink, link: target)
            t.add("link/pwned", content: [1])
            let (work, error) = try unpack(t.archive)
            #expect(error != nil, "symlink to \(target)")
            #expect(!work.exists("snap"))
            expectContained(work)
        }
    }

    @Test func symlinkDirectoryThenNestedWriteIsRejected() throws {
        var t = TarBuilder()
        t.add("a/", kind: .directory, mode: 0o755)
        t.add("a/b", kind: .symlink, link: "/")
        t.add("a/b/tmp/scompose-pwned", content: [1])
        let (work, error) = try unpack(t.archive)
        #expect(error != nil)
        expectContained(work)
    }

    @Test func hardlinksOutsideAreRejected() throws {
        var t = TarBuilder()
        t.add("hl", kind: .hardlink, link: "../outside/x")
        let (work, error) = try unpack(t.archive)
        #expect(error != nil)
        expectContained(work)
    }

    @Test func hardlinkToASymlinkLinksTheSymlinkItself() throws {
        var t = TarBuilder()
        t.add("sl", kind: .symlink, link: "/etc/passwd")
        t.add("hl", kind: .hardlink, link: "sl")
        t.add("hl", content: Array("replaced".utf8))
        let (work, error) = try unpack(t.archive)
        #expect(error == nil)
        #expect(try String(contentsOfFile: work.path + "/snap/hl", encoding: .utf8) == "replaced")
        let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        #expect(!passwd.contains("replaced"))
        expectContained(work)
    }

    @Test func whiteouts() throws {
        var t = TarBuilder()
        t.add("dir/", kind: .directory, mode: 0o755)
        t.add("dir/.wh..wh..opq")
        t.add("dir/.wh.gone")
        let (work, error) = try unpack(t.archive)
        if isRoot {
            #expect(error == nil)
            var st = stat()
            #expect(lstat(work.path + "/snap/dir/gone", &st) == 0)
            #expect(st.st_mode & S_IFMT == S_IFCHR && st.st_rdev == 0)
            var value = [UInt8](repeating: 0, count: 4)
            let n = sc_lgetxattr(work.path + "/snap/dir", "trusted.overlay.opaque", &value, 4)
            #expect(n == 1 && value[0] == UInt8(ascii: "y"))
        }
        expectContained(work)
    }

    @Test func whiteoutsAimedOutsideAreRejected() throws {
        for name in ["../.wh.outside", ".wh..", "dir/.wh.."] {
            var t = TarBuilder()
            t.add(name)
            let (work, error) = try unpack(t.archive)
            #expect(error != nil, "\(name)")
            #expect(FileManager.default.fileExists(atPath: work.path + "/outside"))
            expectContained(work)
        }
    }

    @Test func deviceNodesAreContained() throws {
        guard isRoot else { return }
        var t = TarBuilder()
        t.add("dev/", kind: .directory, mode: 0o755)
        t.add("dev/sda", kind: .char, mode: 0o600, devMajor: 8, devMinor: 0)
        let (work, error) = try unpack(t.archive)
        #expect(error == nil)
        var st = stat()
        #expect(lstat(work.path + "/snap/dev/sda", &st) == 0)
        expectContained(work)
    }

    @Test func hugeDeclaredSizesAreBounded() throws {
        var t = TarBuilder()
        t.add("big", content: [1, 2, 3], declaredSize: 1 << 33)
        let (work, error) = try unpack(t.archive, maxBytes: 1 << 20)
        #expect(error != nil)
        #expect(!work.exists("snap"))
        let (work2, error2) = try unpack(t.archive)
        #expect(error2 != nil, "data shorter than declared is a truncated layer")
        #expect(!work2.exists("snap"))
    }

    @Test func truncatedGzipFails() throws {
        var t = TarBuilder()
        t.add("file", content: [UInt8](repeating: 7, count: 100_000))
        let compressed = try gzip(t.archive)
        let work = try TempDir()
        let layer = try work.write("layer.tar", Array(compressed.prefix(compressed.count / 2)))
        #expect(throws: OCIError.self) { try LayerUnpacker().unpack(layer: layer, into: work.path + "/snap") }
        #expect(!work.exists("snap"))
        #expect(throws: OCIError.self) { try LayerUnpacker.diffID(of: layer) }
    }

    @Test func diffIDIsTheUncompressedDigest() throws {
        var t = TarBuilder()
        t.add("a", content: Array("hello".utf8))
        let work = try TempDir()
        let plain = try work.write("plain.tar", t.archive)
        let packed = try work.write("packed.tar.gz", try gzip(t.archive))
        #expect(try LayerUnpacker.diffID(of: plain) == Digest(of: t.archive))
        #expect(try LayerUnpacker.diffID(of: packed) == Digest(of: t.archive))
    }
}

@Suite struct ContentStoreTests {
    @Test func ingestVerifiesDigests() throws {
        let work = try TempDir()
        let store = try ContentStore(root: work.path + "/content")
        let d = try store.ingest(Array("hello".utf8))
        #expect(d.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try store.read(d) == Array("hello".utf8))
        let wrong = Digest(of: Array("other".utf8))
        #expect(throws: OCIError.digestMismatch(expected: wrong, actual: d)) {
            try store.ingest(Array("hello!".utf8).dropLast().map { $0 }, expected: wrong)
        }
        #expect(!store.has(wrong))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: work.path + "/content/ingest")) == [])
    }
}

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("myorg/app", "docker.io/myorg/app:latest", "myorg/app:latest"),
        ("localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app:v1"),
        ("ghcr.io/o/r/x:tag", "ghcr.io/o/r/x:tag", "ghcr.io/o/r/x:tag"),
        ("index.docker.io/library/redis", "docker.io/library/redis:latest", "redis:latest"),
    ])
    func normalizes(input: String, full: String, familiar: String) throws {
        let r = try ImageReference(parsing: input)
        #expect(r.description == full)
        #expect(r.familiar == familiar)
    }

    @Test func digests() throws {
        let hex = String(repeating: "a", count: 64)
        let r = try ImageReference(parsing: "alpine@sha256:\(hex)")
        #expect(r.tag == nil && r.digest?.hex == hex)
    }

    @Test(arguments: ["", "upper/CASE", "a:b:c", "x@sha256:zz", "bad tag:with space", "-x"])
    func rejects(input: String) {
        #expect(throws: ImageReference.Invalid.self) { try ImageReference(parsing: input) }
    }

    @Test func chainIDs() {
        let a = Digest(of: [1])
        let b = Digest(of: [2])
        let chain = Digest.chainIDs([a, b])
        #expect(chain[0] == a)
        #expect(chain[1] == Digest(of: Array("\(a) \(b)".utf8)))
    }
}
