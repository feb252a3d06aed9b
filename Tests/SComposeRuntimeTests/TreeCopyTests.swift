// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOS
import Testing

@testable import SComposeRuntime

/// The one tree copy (builds, `cp`, `watch`, volume seeds): hostile links on either side lead
/// nothing out of the trees; modes, owners and times as asked.
@Suite struct TreeCopyTests {
    func copy(_ dir: TempDir, _ tree: TreeCopy, from: String = "src", to: String = "dst") throws {
        let source = dir.open(from)
        let target = dir.open(to)
        defer {
            close(source)
            close(target)
        }
        #expect(source >= 0 && target >= 0)
        try tree.copyContents(of: source, into: target)
    }

    func info(_ path: String) -> stat {
        var st = Glibc.stat()
        lstat(path, &st)
        return st
    }

    func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        return n < 0 ? nil : String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The source's links are copied as links, never followed to what they name.
    @Test func sourceLinksAreCopiedNotFollowed() throws {
        let dir = try TempDir()
        try dir.file("outside/secret", "host")
        try dir.file("src/plain", "p")
        symlink(dir.path + "/outside", dir.path + "/src/dirlink")
        symlink("../outside/secret", dir.path + "/src/filelink")
        try Files.makeDirectories(dir.path + "/dst")
        try copy(dir, TreeCopy())
        #expect(link(dir.path + "/dst/dirlink") == dir.path + "/outside")
        #expect(link(dir.path + "/dst/filelink") == "../outside/secret")
        #expect(try String(decoding: Files.read(dir.path + "/dst/plain"), as: UTF8.self) == "p")
    }

    /// Links in the destination where the copy writes: a file replaces the link (never written
    /// through it), a directory replaces a link without a root, and follows it inside the root.
    @Test func destinationLinksLeadNowhereOutside() throws {
        let dir = try TempDir()
        try dir.file("outside/victim", "untouched")
        try dir.file("src/victim", "copied")
        try dir.file("src/sub/inner", "in")
        try dir.file("src/up/escaped", "in")
        try Files.makeDirectories(dir.path + "/dst")
        symlink(dir.path + "/outside/victim", dir.path + "/dst/victim")
        symlink(dir.path + "/outside", dir.path + "/dst/sub")
        symlink("../../..", dir.path + "/dst/up")
        try copy(dir, TreeCopy())
        #expect(try String(decoding: Files.read(dir.path + "/outside/victim"), as: UTF8.self) == "untouched")
        #expect(Files.list(dir.path + "/outside") == ["victim"])
        #expect(link(dir.path + "/dst/victim") == nil && link(dir.path + "/dst/sub") == nil && link(dir.path + "/dst/up") == nil)
        #expect(access(dir.path + "/dst/sub/inner", F_OK) == 0)
        #expect(access(dir.path + "/dst/up/escaped", F_OK) == 0)
        #expect(access("/escaped", F_OK) != 0)

        // With a root: links are the container's, resolved inside it.
        let rooted = try TempDir()
        try rooted.file("src/sub/inner", "in")
        try rooted.file("src/up/escaped", "in")
        try rooted.file("dst/data/.keep", "")
        symlink("/data", rooted.path + "/dst/sub")
        symlink("../../../../../../..", rooted.path + "/dst/up")
        let root = rooted.open("dst")
        defer { close(root) }
        try copy(rooted, TreeCopy(root: root))
        #expect(access(rooted.path + "/dst/data/inner", F_OK) == 0)
        #expect(link(rooted.path + "/dst/sub") == "/data")
        // `..` stops at the root: the copy lands in the root itself.
        #expect(access(rooted.path + "/dst/escaped", F_OK) == 0)
        #expect(access(rooted.path + "/escaped", F_OK) != 0)
    }

    @Test func modesOwnersAndTimes() throws {
        let dir = try TempDir()
        try dir.file("src/tool", "#!/bin/sh\n", mode: 0o4755)
        try dir.file("src/private/key", "k", mode: 0o600)
        chmod(dir.path + "/src/private", 0o751)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, dir.path + "/src/private/key", &times, 0)
        try Files.makeDirectories(dir.path + "/dst")
        try copy(dir, TreeCopy(preserveTimes: true))
        #expect(info(dir.path + "/dst/tool").st_mode & 0o7777 == 0o4755)
        #expect(info(dir.path + "/dst/private").st_mode & 0o7777 == 0o751)
        #expect(info(dir.path + "/dst/private/key").st_mode & 0o7777 == 0o600)
        #expect(info(dir.path + "/dst/private/key").st_mtim.tv_sec == 1_000_000)

        // `--chmod`: one mode for everything copied.
        try Files.makeDirectories(dir.path + "/dst2")
        try copy(dir, TreeCopy(mode: 0o640), to: "dst2")
        #expect(info(dir.path + "/dst2/tool").st_mode & 0o7777 == 0o640)
        #expect(info(dir.path + "/dst2/private").st_mode & 0o7777 == 0o640)
        #expect(info(dir.path + "/dst2/private/key").st_mtim.tv_sec != 1_000_000)

        guard getuid() == 0 else { return }
        chown(dir.path + "/src/private/key", 1234, 5678)
        try Files.makeDirectories(dir.path + "/dst3")
        try copy(dir, TreeCopy(owners: .source), to: "dst3")
        #expect(info(dir.path + "/dst3/private/key").st_uid == 1234 && info(dir.path + "/dst3/private/key").st_gid == 5678)
        try Files.makeDirectories(dir.path + "/dst4")
        try copy(dir, TreeCopy(owners: .fixed(uid: 42, gid: 43)), to: "dst4")
        #expect(info(dir.path + "/dst4/private/key").st_uid == 42 && info(dir.path + "/dst4/private").st_gid == 43)
        // Set-id bits survive the chown.
        #expect(info(dir.path + "/dst4/tool").st_mode & 0o7777 == 0o4755)
        try Files.makeDirectories(dir.path + "/dst5")
        try copy(dir, TreeCopy(owners: .unchanged), to: "dst5")
        #expect(info(dir.path + "/dst5/private/key").st_uid == 0)
    }

    /// COPY leaves an image's directory as it is; `cp` gives it the source's mode, as tar does.
    @Test func existingDirectories() throws {
        let dir = try TempDir()
        try dir.file("src/etc/conf", "c")
        chmod(dir.path + "/src/etc", 0o700)
        try dir.file("dst/etc/old", "o")
        chmod(dir.path + "/dst/etc", 0o755)
        try copy(dir, TreeCopy())
        #expect(info(dir.path + "/dst/etc").st_mode & 0o7777 == 0o755)
        #expect(Files.list(dir.path + "/dst/etc").sorted() == ["conf", "old"])
        try copy(dir, TreeCopy(updateExistingDirectories: true))
        #expect(info(dir.path + "/dst/etc").st_mode & 0o7777 == 0o700)
    }

    @Test func aFileDoesNotReplaceADirectory() throws {
        let dir = try TempDir()
        try dir.file("src/name", "file")
        try dir.file("dst/name/kept", "k")
        do {
            try copy(dir, TreeCopy(destinationLabel: "image"))
            Issue.record("a file replaced a directory")
        } catch {
            #expect("\(error)" == "cannot copy to name: it is a directory in the image")
        }
        #expect(access(dir.path + "/dst/name/kept", F_OK) == 0)
    }

    /// `.dockerignore`'s way: skipped entries, and excluded directories walked for what is kept.
    @Test func filter() throws {
        let dir = try TempDir()
        try dir.file("src/keep", "k")
        try dir.file("src/skip", "s")
        try dir.file("src/logs/old.log", "l")
        try dir.file("src/logs/keep.txt", "t")
        chmod(dir.path + "/src/logs", 0o777)
        try Files.makeDirectories(dir.path + "/dst")
        let tree = TreeCopy(filter: { relative, isDirectory in
            switch relative {
            case "skip", "logs/old.log": return .skip
            case "logs": return isDirectory ? .contentsOnly : .skip
            default: return .copy
            }
        })
        try copy(dir, tree)
        #expect(Files.list(dir.path + "/dst").sorted() == ["keep", "logs"])
        #expect(Files.list(dir.path + "/dst/logs") == ["keep.txt"])
        #expect(info(dir.path + "/dst/logs").st_mode & 0o7777 == 0o700)
    }

    /// Hard links are not kept: each name gets a copy of its own.
    @Test func hardLinksBecomeCopies() throws {
        let dir = try TempDir()
        try dir.file("src/a", "same")
        Glibc.link(dir.path + "/src/a", dir.path + "/src/b")
        try Files.makeDirectories(dir.path + "/dst")
        try copy(dir, TreeCopy())
        #expect(info(dir.path + "/dst/a").st_ino != info(dir.path + "/dst/b").st_ino)
        #expect(try String(decoding: Files.read(dir.path + "/dst/b"), as: UTF8.self) == "same")
    }
}
