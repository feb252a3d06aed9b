// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

// The two channels between a client (the CLI, the engine) and a container's shim, and every
// message on them. Both sides encode and decode through the types of this file only.
//
//  client                                        shim (scompose-shim DIR 3)
//    │ posix_spawn, the sync pipe's write end as fd 3
//    ├──────────────────────────────────────────▶│ reads spec.json, forks, the parent exits
//    │                                           │ (cgroup, scope, port reservations)
//    │◀─────────────── failed ───────────────────┤ setup failed: pipe closed, shim gone
//    │◀─────────────── listening ────────────────┤ only with `waitForAttach` (`run`)
//    │ ── attach[ stdin] ─▶ control socket ──────▶│ the client attaches before the first byte
//    │◀─────────────── ok ───────────────────────┤   of output
//    │◀─────────────── started(pid) ─────────────┤ the container runs; pipe closed
//    │                         or failed ────────┤ the container could not start
//
//  Afterwards, one connection per request on `shim.sock` in the container directory (the
//  peer must be root), one line each way:
//    stop SIGNAL SECONDS   ─▶ ok      a user stop: the restart policy ends, SIGKILL after SECONDS
//    kill SIGNAL           ─▶ ok      a user signal: the restart policy ends
//    resize ROWS COLS      ─▶ ok | error no tty
//    attach[ stdin]        ─▶ ok, then the connection is a stream: `AttachFrame`s from the
//                             shim until the run's exit frame; raw input from a client with
//                             `stdin`, whose half-close ends the container's input.
//    anything else         ─▶ error unknown request | error bad request

/// A line on the sync pipe, from the shim to the client that started it (JSON objects, so
/// that a message may carry any text).
public enum ShimSyncMessage: Sendable, Equatable {
    /// The control socket listens; the container waits for an attached client (`run`).
    case listening
    /// The container runs as `pid` (as the host sees it).
    case started(pid: Int32)
    /// Set-up or the start failed; `errno` when a system call was the cause.
    case failed(message: String, errno: Int32?)

    /// The line, newline included.
    public var line: [UInt8] {
        var out: [UInt8]
        switch self {
        case .listening:
            out = Array(#"{"listening":true}"#.utf8)
        case .started(let pid):
            out = Array(#"{"pid":\#(pid)}"#.utf8)
        case .failed(let message, let errno):
            out = Array(#"{"error":""#.utf8)
            JSONLogWriter.escape(Array(message.utf8), into: &out)
            out.append(UInt8(ascii: "\""))
            if let errno { out += Array(#","errno":\#(errno)"#.utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Parses one line (without its newline); nil for anything else.
    public init?(line: [UInt8]) {
        guard let tree = try? JSONValue.parse(line) else { return nil }
        if tree.value("listening")?.boolValue == true {
            self = .listening
        } else if let pid = tree.value("pid")?.intValue {
            self = .started(pid: Int32(truncatingIfNeeded: pid))
        } else if let message = tree.value("error")?.stringValue {
            self = .failed(message: message, errno: tree.value("errno")?.intValue.map { Int32(truncatingIfNeeded: $0) })
        } else {
            return nil
        }
    }

    /// Writes the message to `fd` (the shim's end of the sync pipe).
    public func send(_ fd: Int32) {
        let bytes = line
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// A request on the control socket.
public enum ShimRequest: Sendable, Equatable {
    /// Stop as the user asked: `signal`, then SIGKILL after `seconds`.
    case stop(signal: Int32, seconds: Int64)
    /// Send `signal` as the user asked.
    case kill(signal: Int32)
    /// Resize the container's pty.
    case resize(rows: UInt16, columns: UInt16)
    /// Turn the connection into an attach stream; with `stdin`, the client's bytes are input.
    case attach(stdin: Bool)

    /// The request line, newline included.
    public var line: String {
        switch self {
        case .stop(let signal, let seconds): "stop \(signal) \(seconds)\n"
        case .kill(let signal): "kill \(signal)\n"
        case .resize(let rows, let columns): "resize \(rows) \(columns)\n"
        case .attach(let stdin): stdin ? "attach stdin\n" : "attach\n"
        }
    }

    /// Why a line is not a request, in the words of the reply.
    public enum ParseError: Error, Equatable {
        case unknown
        case bad
    }

    /// Parses a request line (its newline optional).
    public init(line: String) throws(ParseError) {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
        switch (words.first, words.count) {
        case ("stop", 3):
            guard let signal = Int32(words[1]), let seconds = Int64(words[2]) else { throw .bad }
            self = .stop(signal: signal, seconds: seconds)
        case ("kill", 2):
            guard let signal = Int32(words[1]) else { throw .bad }
            self = .kill(signal: signal)
        case ("resize", 3):
            guard let rows = UInt16(words[1]), let columns = UInt16(words[2]) else { throw .bad }
            self = .resize(rows: rows, columns: columns)
        case ("attach", 1):
            self = .attach(stdin: false)
        case ("attach", 2) where words[1] == "stdin":
            self = .attach(stdin: true)
        default:
            throw .unknown
        }
    }
}

/// The reply to a request: one line.
public enum ShimReply: Sendable, Equatable {
    case ok
    case error(String)

    public static let badRequest = ShimReply.error("bad request")
    public static let unknownRequest = ShimReply.error("unknown request")
    public static let noTTY = ShimReply.error("no tty")

    /// The reply line, newline included.
    public var line: String {
        switch self {
        case .ok: "ok\n"
        case .error(let reason): "error \(reason)\n"
        }
    }

    /// Parses a reply line (without its newline).
    public init(line: String) {
        if line == "ok" {
            self = .ok
        } else if line.hasPrefix("error ") {
            self = .error(String(line.dropFirst(6)))
        } else {
            self = .error(line)
        }
    }
}

/// The control socket's place: `shim.sock` in the container directory, reached through
/// `/proc/self/fd/<dirfd>/` so that long state roots do not overflow `sun_path`.
public enum ShimSocket {
    public static let name = "shim.sock"

    /// `sockaddr_un` for `/proc/self/fd/<dirfd>/shim.sock`.
    public static func address(dirFD: Int32) -> sockaddr_un {
        UnixSocket.address("/proc/self/fd/\(dirFD)/\(name)")
    }
}

/// The framing of an attach stream from the shim: a byte for the stream, three zero bytes, the
/// payload's length (big-endian 32 bits), the payload, as Docker's attach multiplexing.
public enum AttachFrame: Sendable, Equatable {
    case stdout(ArraySlice<UInt8>)
    case stderr(ArraySlice<UInt8>)
    /// The run ended with this status.
    case exit(Int32)

    static let stdoutStream: UInt8 = 1
    static let stderrStream: UInt8 = 2
    static let exitStream: UInt8 = 3

    /// The frame's bytes.
    public var bytes: [UInt8] {
        switch self {
        case .stdout(let payload): Self.header(Self.stdoutStream, length: payload.count) + payload
        case .stderr(let payload): Self.header(Self.stderrStream, length: payload.count) + payload
        case .exit(let code):
            Self.header(Self.exitStream, length: 4) + Self.bigEndian(UInt32(bitPattern: code))
        }
    }

    static func header(_ stream: UInt8, length: Int) -> [UInt8] {
        [stream, 0, 0, 0] + bigEndian(UInt32(truncatingIfNeeded: length))
    }

    static func bigEndian(_ n: UInt32) -> [UInt8] {
        [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
    }

    /// Cuts whole frames from the front of `buffer` (what is left is an incomplete frame).
    /// An exit frame of the wrong length, or a stream byte unknown to us, reads as output.
    public static func take(from buffer: inout [UInt8]) -> [AttachFrame] {
        var frames: [AttachFrame] = []
        var offset = 0
        while buffer.count - offset >= 8 {
            let length = buffer[(offset + 4)..<(offset + 8)].reduce(0) { $0 << 8 | Int($1) }
            guard buffer.count - offset - 8 >= length else { break }
            let payload = buffer[(offset + 8)..<(offset + 8 + length)]
            switch buffer[offset] {
            case exitStream where length == 4:
                frames.append(.exit(Int32(bitPattern: payload.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })))
            case stderrStream:
                frames.append(.stderr(ArraySlice(payload)))
            default:
                frames.append(.stdout(ArraySlice(payload)))
            }
            offset += 8 + length
        }
        buffer.removeFirst(offset)
        return frames
    }
}
