// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Writes ustar archives by hand, so tests can make the malformed and hostile layers no
/// ordinary tool would write.
struct TarBuilder {
    enum Kind: UInt8 {
        case file = 48  // "0"
        case hardlink = 49  // "1"
        case symlink = 50  // "2"
        case char = 51  // "3"
        case directory = 53  // "5"
    }

    private(set) var bytes: [UInt8] = []

    mutating func add(
        _ name: String, kind: Kind = .file, content: [UInt8] = [], mode: Int = 0o644, link: String = "",
        declaredSize: Int? = nil, uid: Int = 0, gid: Int = 0, devMajor: Int = 0, devMinor: Int = 0
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int, _ length: Int) {
            for (i, b) in text.utf8.prefix(length).enumerated() { header[offset + i] = b }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            let s = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, length - 1 - s.count)) + s, offset, length - 1)
        }
        put(name, 0, 100)
        octal(mode, 100, 8)
        octal(uid, 108, 8)
        octal(gid, 116, 8)
        octal(declaredSize ?? content.count, 124, 12)
        octal(1_700_000_000, 136, 12)
        header[156] = kind.rawValue
        put(link, 157, 100)
        put("ustar", 257, 6)
        put("00", 263, 2)
        octal(devMajor, 329, 8)
        octal(devMinor, 337, 8)
        for i in 148..<156 { header[i] = 32 }
        let sum = header.reduce(0) { $0 + Int($1) }
        octal(sum, 148, 7)
        header[155] = 32
        bytes += header
        bytes += content
        let pad = (512 - content.count % 512) % 512
        bytes += [UInt8](repeating: 0, count: pad)
    }

    /// The archive with its end-of-archive blocks.
    var archive: [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}

/// A temporary directory removed at the end of the test.
final class TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-oci-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func exists(_ name: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDir)
    }

    /// Every path below, for "nothing else appeared" checks.
    func tree() -> [String] {
        (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
    }
}

/// gzip through the system tool (a fixture, not project code).
func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    signal(SIGPIPE, SIG_IGN)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-c", "-n"]
    let input = Pipe()
    let output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    let writer = Thread {
        input.fileHandleForWriting.write(Data(bytes))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Array(data)
}
