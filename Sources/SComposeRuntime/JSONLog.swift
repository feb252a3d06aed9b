// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Docker's `json-file` log: one `{"log","stream","time"}` object per line, rotated by size
/// into `<file>.1` … `<file>.<max-file - 1>` (`logging.options` max-size and max-file).
public struct JSONLogWriter {
    public let path: String
    /// Bytes after which the file is rotated; nil: never.
    public let maxSize: Int64?
    /// How many files are kept, the current one included (Docker's default: 1).
    public let maxFiles: Int
    private var fd: Int32
    private var size: Int64
    /// Records lost to a failed write (a full disk) since the last one that went through.
    public private(set) var dropped = 0
    /// A failed write left part of a record: the next one starts on a line of its own.
    private var torn = false

    public init(path: String, maxSize: Int64?, maxFiles: Int) {
        self.path = path
        self.maxSize = maxSize.flatMap { $0 > 0 ? $0 : nil }
        self.maxFiles = max(1, maxFiles)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        var st = stat()
        size = fd >= 0 && fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// The record for one line of output, as Docker writes it.
    public static func record(_ line: [UInt8], stream: String, time: String) -> [UInt8] {
        var out: [UInt8] = Array(#"{"log":""#.utf8)
        out.reserveCapacity(line.count + 64)
        escape(line, into: &out)
        out += Array(#"","stream":""#.utf8) + Array(stream.utf8) + Array(#"","time":""#.utf8) + Array(time.utf8)
        out += Array("\"}\n".utf8)
        return out
    }

    /// JSON string escaping of raw bytes; invalid UTF-8 becomes U+FFFD as Go's encoder does.
    public static func escape(_ bytes: [UInt8], into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        // Fast path for the common case: printable ASCII.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != 0x22 && $0 != 0x5c }) {
            out += bytes
            return
        }
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            switch scalar.value {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0x3c, 0x3e, 0x26:  // Go escapes <, > and & in JSON strings
                out += Array("\\u00".utf8) + [hex[Int(scalar.value >> 4)], hex[Int(scalar.value & 0xf)]]
            case 0..<0x20:
                out += Array("\\u00".utf8) + [hex[Int(scalar.value >> 4)], hex[Int(scalar.value & 0xf)]]
            default:
                out += Array(String(scalar).utf8)
            }
        }
    }

    /// Appends one record, rotating first if it would exceed max-size. A record that cannot
    /// be written (the disk is full) is dropped and counted; the first one written after
    /// drops is preceded by one line saying how many were lost, so the gap is visible in
    /// `logs` and the failure costs one line, not one per lost record.
    public mutating func write(_ line: [UInt8], stream: String) {
        let now = Clock.rfc3339Now()
        var record = Self.record(line, stream: stream, time: now)
        if dropped > 0 {
            let notice = "scompose: \(dropped) log line\(dropped == 1 ? "" : "s") dropped: no space left on device\n"
            record = Self.record(Array(notice.utf8), stream: "stderr", time: now) + record
        }
        if torn { record.insert(UInt8(ascii: "\n"), at: 0) }
        if let maxSize, size > 0, size + Int64(record.count) > maxSize { rotate() }
        guard fd >= 0 else { return }
        var done = 0
        while done < record.count {
            let n = record.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + done }, record.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                dropped += 1
                if done > 0 { torn = true }
                size += Int64(done)
                return
            }
            done += n
        }
        dropped = 0
        torn = false
        size += Int64(record.count)
    }

    mutating func rotate() {
        if maxFiles == 1 {
            _ = ftruncate(fd, 0)
            size = 0
            return
        }
        for n in stride(from: maxFiles - 1, to: 1, by: -1) { rename("\(path).\(n - 1)", "\(path).\(n)") }
        rename(path, path + ".1")
        Glibc.close(fd)
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0o640)
        size = 0
    }

    public mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Reads a container's json-file log (rotated files oldest first) and follows it across rotations.
public struct JSONLogReader {
    public let path: String
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    private var pending: [UInt8] = []

    public init(path: String) { self.path = path }

    /// Every complete record so far, from the oldest rotated file on.
    public mutating func readAll() -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var n = 1
        var rotated: [String] = []
        while access("\(path).\(n)", F_OK) == 0 {
            rotated.append("\(path).\(n)")
            n += 1
        }
        for file in rotated.reversed() {
            if let bytes = try? Files.read(file) { lines += Self.split(bytes, pending: &pending) }
            pending = []
        }
        openCurrent()
        lines += readNew()
        return lines
    }

    /// Records written since the last call (after a rotation, the rest of the old file first).
    public mutating func readNew() -> [[UInt8]] {
        if fd < 0 { openCurrent() }
        guard fd >= 0 else { return [] }
        var lines = drain()
        var onDisk = stat()
        var held = stat()
        if stat(path, &onDisk) == 0, UInt64(onDisk.st_ino) != inode {
            // Rotated: what we hold open is now `.1`; it was drained above, move to the new file.
            Glibc.close(fd)
            fd = -1
            pending = []
            openCurrent()
            lines += drain()
        } else if fstat(fd, &held) == 0, lseek(fd, 0, SEEK_CUR) > held.st_size {
            // Truncated in place (max-file 1).
            lseek(fd, 0, SEEK_SET)
            pending = []
            lines += drain()
        }
        return lines
    }

    private mutating func openCurrent() {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        var st = stat()
        if fd >= 0, fstat(fd, &st) == 0 { inode = UInt64(st.st_ino) }
    }

    private mutating func drain() -> [[UInt8]] {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var data: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return Self.split(data, pending: &pending)
    }

    static func split(_ data: [UInt8], pending: inout [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var all = pending
        all += data
        var start = 0
        for i in all.indices where all[i] == UInt8(ascii: "\n") {
            if i > start { lines.append(Array(all[start..<i])) }
            start = i + 1
        }
        pending = Array(all[start...])
        return lines
    }

    public mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
