// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOS
import Testing

@testable import SComposeRuntime

/// overlayfs's mount options (written in one place for containers, builds, `cp`, `commit`,
/// `export` and volume seeds), and the mount that only a descriptor keeps.
@Suite struct OverlayTests {
    @Test func topLayerFirstThenUpperAndWork() {
        #expect(Overlay(layers: ["/s/l1", "/s/l2", "/s/l3"]).options == "lowerdir=/s/l3:/s/l2:/s/l1")
        #expect(
            Overlay(layers: ["/s/l1", "/s/l2"], upper: "/c/upper", work: "/c/work").options
                == "lowerdir=/s/l2:/s/l1,upperdir=/c/upper,workdir=/c/work")
        // export: the upper directory as the top read-only layer.
        #expect(Overlay(layers: ["/s/l1", "/c/upper"]).options == "lowerdir=/c/upper:/s/l1")
    }

    /// overlayfs splits at `,` and `:` and unescapes `\`: each path stays one path.
    @Test func separatorsInPathsAreEscaped() {
        #expect(Overlay.escape("/plain/path") == "/plain/path")
        #expect(Overlay.escape("/a:b") == "/a\\:b")
        #expect(Overlay.escape("/a,b") == "/a\\,b")
        #expect(Overlay.escape("/a\\b") == "/a\\\\b")
        #expect(Overlay.escape(":\u{301}") == "\\:\u{301}")
        #expect(
            Overlay(layers: ["/l:1", "/l,2"], upper: "/u\\p", work: "/w,k").options
                == "lowerdir=/l\\,2:/l\\:1,upperdir=/u\\\\p,workdir=/w\\,k")
    }

    /// mount(2) takes one page of options: longer ones would be cut, so they are refused.
    @Test func optionsLongerThanAPageAreRefused() throws {
        #expect(Overlay.optionsLimit == Int(sysconf(Int32(_SC_PAGESIZE))) - 1)
        let layer = "/" + String(repeating: "x", count: 99)
        let fits = Overlay(layers: Array(repeating: layer, count: 40))  // 9 + 40 × 100 + 39 = 4048
        #expect(try fits.checkedOptions(limit: 4095) == fits.options)
        let long = Overlay(layers: Array(repeating: layer, count: 41))
        #expect(long.options.utf8.count == 4149)
        do {
            _ = try long.checkedOptions(limit: 4095)
            Issue.record("options of 4149 bytes were taken")
        } catch {
            #expect(error.step == .assemble)
            #expect(error.reason.contains("4149") && error.reason.contains("4095"), "\(error)")
            #expect(error.message(assemble: "cannot assemble X", open: "cannot open X").hasPrefix("cannot assemble X: its 41 layers"))
        }
    }

    /// One directory alone is no overlay: the directory itself is opened.
    @Test func aSingleDirectoryIsOpenedAsItIs() throws {
        let dir = try TempDir()
        try dir.file("only/f", "x")
        let fd = try Overlay(layers: [dir.path + "/only"]).openDetached(under: dir.path + "/scratch", flags: O_RDONLY)
        defer { close(fd) }
        #expect(faccessat(fd, "f", F_OK, 0) == 0)
        let upperOnly = try Overlay(layers: [], upper: dir.path + "/only", work: dir.path + "/w").openDetached(
            under: dir.path + "/scratch", flags: O_RDONLY)
        defer { close(upperOnly) }
        #expect(faccessat(upperOnly, "f", F_OK, 0) == 0)
        #expect(throws: OverlayError.self) { try Overlay(layers: []).openDetached(under: dir.path, flags: O_RDONLY) }
    }

    /// Layers stacked with the last on top, reachable only through the descriptor: no mount
    /// stays behind, nor its mount point.
    @Test(.enabled(if: getuid() == 0, "mounts need root")) func mountedThenDetached() throws {
        let dir = try TempDir()
        try dir.file("l1/a", "low")
        try dir.file("l1/b", "low")
        try dir.file("l2:x/a", "high")
        let scratch = dir.path + "/scratch"
        let fd = try Overlay(layers: [dir.path + "/l1", dir.path + "/l2:x"]).openDetached(under: scratch, flags: O_RDONLY)
        defer { close(fd) }
        #expect(try dir.read(fd, "a") == "high")
        #expect(try dir.read(fd, "b") == "low")
        // Read-only without an upper directory.
        #expect(openat(fd, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) < 0 && errno == EROFS)
        #expect(Files.list(scratch).isEmpty)
        let mounts = String(decoding: try Files.read("/proc/self/mountinfo"), as: UTF8.self)
        #expect(!mounts.contains(scratch))

        try dir.file("upper/.keep", "")
        try Files.makeDirectories(dir.path + "/work")
        let rw = try Overlay(layers: [dir.path + "/l1"], upper: dir.path + "/upper", work: dir.path + "/work").openDetached(
            under: scratch, flags: O_RDONLY)
        defer { close(rw) }
        let out = openat(rw, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        #expect(out >= 0)
        close(out)
        #expect(access(dir.path + "/upper/new", F_OK) == 0)
        #expect(Files.list(scratch).isEmpty)
    }
}
