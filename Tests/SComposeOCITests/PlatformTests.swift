// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import SComposeOCI

/// A name is held by one image per platform: what `find`, `tag`, `rm` and `push` see.
@Suite struct PlatformTests {
    static let arm64 = Platform(architecture: "arm64", os: "linux")
    static let amd64 = Platform(architecture: "amd64", os: "linux")

    /// Two one-layer images named `registry.test/app:1`, for amd64 and arm64.
    func twoPlatforms(_ dir: TempDir) throws -> (ImageStore, amd64: ImageRecord, arm64: ImageRecord) {
        let store = try ImageStore(root: dir.path)
        var tar = TarBuilder()
        tar.add("hello", content: Array("hi\n".utf8))
        let file = dir.path + "/rootfs.tar"
        try Data(tar.archive).write(to: URL(fileURLWithPath: file))
        let name = try ImageReference(parsing: "registry.test/app:1")
        let amd = try store.importRootfs(file: file, reference: name, changes: ImageChanges([]), message: nil, source: "-", platform: Self.amd64)
        let arm = try store.importRootfs(file: file, reference: name, changes: ImageChanges([]), message: nil, source: "-", platform: Self.arm64)
        return (store, amd, arm)
    }

    @Test func namesPerPlatform() throws {
        let dir = try TempDir()
        let (store, amd, arm) = try twoPlatforms(dir)
        #expect(amd.id != arm.id && amd.platform == "linux/amd64" && arm.platform == "linux/arm64")
        // Both keep the name; `find` gives the asked platform's, the host's without one.
        #expect(try store.list().allSatisfy { $0.names == ["registry.test/app:1"] })
        #expect(try store.find("registry.test/app:1", platform: Self.arm64)?.id == arm.id)
        #expect(try store.find("registry.test/app:1", platform: Platform(architecture: "arm64", os: "linux", variant: "v8"))?.id == arm.id)
        #expect(try store.find("registry.test/app:1", platform: Platform(architecture: "s390x", os: "linux")) == nil)
        let host = Platform.host.matches(Self.arm64) ? arm.id : amd.id
        #expect(try store.find("registry.test/app:1")?.id == host)
        #expect(try store.find(arm.id.description, platform: Self.amd64) == nil)
        // A new image of one platform takes the name from that platform's image only.
        var tar = TarBuilder()
        tar.add("other", content: Array("x\n".utf8))
        let file = dir.path + "/other.tar"
        try Data(tar.archive).write(to: URL(fileURLWithPath: file))
        let newer = try store.importRootfs(
            file: file, reference: try ImageReference(parsing: "registry.test/app:1"), changes: ImageChanges([]), message: nil,
            source: "-", platform: Self.arm64)
        #expect(try store.find("registry.test/app:1", platform: Self.arm64)?.id == newer.id)
        #expect(try store.find("registry.test/app:1", platform: Self.amd64)?.id == amd.id)
        #expect(try store.find(arm.id.description)?.names == [])
        // `tag` names every platform's image; `rm` of the name removes it from each.
        try store.tag("registry.test/app:1", try ImageReference(parsing: "registry.test/copy:2"))
        #expect(try store.images(named: "registry.test/copy:2").map(\.id).sorted { $0.hex < $1.hex } == [amd.id, newer.id].sorted { $0.hex < $1.hex })
        let lines = try store.remove("registry.test/copy:2", force: false, inUse: { _ in false })
        #expect(lines == ["Untagged: registry.test/copy:2"])
        #expect(try store.images(named: "registry.test/copy:2").isEmpty)
        // Removing the last name deletes both images, and refuses (changing nothing) when one is in use.
        #expect(throws: OCIError.self) {
            try store.remove("registry.test/app:1", force: false, inUse: { $0.id == newer.id })
        }
        #expect(try store.images(named: "registry.test/app:1").count == 2)
        let removed = try store.remove("registry.test/app:1", force: false, inUse: { _ in false })
        #expect(removed.first == "Untagged: registry.test/app:1" && removed.filter { $0.hasPrefix("Deleted:") }.count == 2, "\(removed)")
    }

    /// Records written before platforms were recorded still resolve (from the config) and
    /// learn their platform on the next change.
    @Test func indexesWithoutPlatforms() throws {
        let dir = try TempDir()
        let (store, amd, _) = try twoPlatforms(dir)
        let index = dir.path + "/images/index.json"
        var text = try String(contentsOfFile: index, encoding: .utf8)
        text = text.replacingOccurrences(of: #","platform":"linux/arm64""#, with: "")
        text = text.replacingOccurrences(of: #","platform":"linux/amd64""#, with: "")
        try text.write(toFile: index, atomically: true, encoding: .utf8)
        #expect(!text.contains("platform"))
        #expect(try store.find("registry.test/app:1", platform: Self.amd64)?.id == amd.id)
        try store.tag(amd.id.description, try ImageReference(parsing: "registry.test/other:1"))
        #expect(try store.list().allSatisfy { $0.platform != nil })
    }
}
