// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The few D-Bus values scompose sends (to systemd's manager), as declarative values with their
/// wire form (little-endian marshalling of the D-Bus specification), so that messages are
/// tested as golden bytes without a bus.
public indirect enum DBusValue: Sendable, Equatable {
    case byte(UInt8)
    case bool(Bool)
    case uint32(UInt32)
    case string(String)
    case objectPath(String)
    case signature(String)
    /// Elements of one type, given by its signature (for empty arrays).
    case array(elementSignature: String, [DBusValue])
    case structure([DBusValue])
    case variant(DBusValue)

    /// The value's type signature.
    public var signature: String {
        switch self {
        case .byte: return "y"
        case .bool: return "b"
        case .uint32: return "u"
        case .string: return "s"
        case .objectPath: return "o"
        case .signature: return "g"
        case .array(let element, _): return "a" + element
        case .structure(let fields): return "(" + fields.map(\.signature).joined() + ")"
        case .variant: return "v"
        }
    }

    /// The alignment of a value of this type, in bytes.
    var alignment: Int {
        switch self {
        case .byte, .signature, .variant: return 1
        case .bool, .uint32, .string, .objectPath, .array: return 4
        case .structure: return 8
        }
    }

    /// The alignment of values of the type whose signature starts `signature`.
    static func alignment(ofSignature signature: Substring) -> Int {
        switch signature.first {
        case "y", "g", "v": return 1
        case "(", "{", "x", "t", "d": return 8
        default: return 4
        }
    }

    /// Appends the value at `out`'s end, aligned as the specification says (offsets count from
    /// the message's first byte, which `out` starts with).
    func marshal(into out: inout [UInt8]) {
        out.pad(to: alignment)
        switch self {
        case .byte(let b): out.append(b)
        case .bool(let b): out.appendUInt32(b ? 1 : 0)
        case .uint32(let n): out.appendUInt32(n)
        case .string(let s), .objectPath(let s):
            out.appendUInt32(UInt32(s.utf8.count))
            out += Array(s.utf8)
            out.append(0)
        case .signature(let s):
            out.append(UInt8(s.utf8.count))
            out += Array(s.utf8)
            out.append(0)
        case .array(let element, let items):
            let lengthAt = out.count
            out.appendUInt32(0)
            // The length counts the elements, not the padding before the first one.
            out.pad(to: Self.alignment(ofSignature: Substring(element)))
            let start = out.count
            for item in items { item.marshal(into: &out) }
            out.setUInt32(UInt32(out.count - start), at: lengthAt)
        case .structure(let fields):
            for field in fields { field.marshal(into: &out) }
        case .variant(let value):
            DBusValue.signature(value.signature).marshal(into: &out)
            value.marshal(into: &out)
        }
    }
}

/// A D-Bus message: a method call we send, or what came back.
public struct DBusMessage: Sendable, Equatable {
    /// `METHOD_CALL` and the replies to one.
    public enum Kind: UInt8, Sendable {
        case methodCall = 1, methodReturn = 2, error = 3, signal = 4
    }

    public var kind: Kind
    public var serial: UInt32
    public var path: String?
    public var interface: String?
    public var member: String?
    public var destination: String?
    /// For replies: the serial of the call they answer.
    public var replySerial: UInt32?
    /// For errors: the error's name (`org.freedesktop.systemd1.UnitExists`).
    public var errorName: String?
    public var body: [DBusValue]
    /// For received messages: the first string of the body (an error's message), if any.
    public var firstString: String?

    /// A method call.
    public static func call(
        serial: UInt32, destination: String?, path: String, interface: String, member: String, body: [DBusValue]
    ) -> DBusMessage {
        DBusMessage(
            kind: .methodCall, serial: serial, path: path, interface: interface, member: member, destination: destination,
            replySerial: nil, errorName: nil, body: body, firstString: nil)
    }

    /// The wire form (little-endian).
    public var bytes: [UInt8] {
        var body: [UInt8] = []
        // The body starts 8-aligned, so alignment inside it is the same as from its start.
        for value in self.body { value.marshal(into: &body) }
        var fields: [DBusValue] = []
        func field(_ code: UInt8, _ value: DBusValue) { fields.append(.structure([.byte(code), .variant(value)])) }
        if let path { field(1, .objectPath(path)) }
        if let interface { field(2, .string(interface)) }
        if let member { field(3, .string(member)) }
        if let errorName { field(4, .string(errorName)) }
        if let replySerial { field(5, .uint32(replySerial)) }
        if let destination { field(6, .string(destination)) }
        if !self.body.isEmpty { field(8, .signature(self.body.map(\.signature).joined())) }
        var out: [UInt8] = [UInt8(ascii: "l"), kind.rawValue, 0, 1]
        out.appendUInt32(UInt32(body.count))
        out.appendUInt32(serial)
        DBusValue.array(elementSignature: "(yv)", fields).marshal(into: &out)
        out.pad(to: 8)
        return out + body
    }

    /// Why bytes are not a message we can read.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The length of the message at the start of `bytes` once its fixed header is there (16
    /// bytes), or nil before.
    public static func length(ofMessageAt bytes: [UInt8]) throws(ParseError) -> Int? {
        guard bytes.count >= 16 else { return nil }
        guard bytes[0] == UInt8(ascii: "l") else { throw ParseError(description: "big-endian D-Bus messages are not read") }
        let bodyLength = Int(bytes.uint32(at: 4))
        let fieldsLength = Int(bytes.uint32(at: 12))
        let headerEnd = 16 + fieldsLength
        return (headerEnd + 7) / 8 * 8 + bodyLength
    }

    /// Reads a whole message's header fields (and, for errors, the message string).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> DBusMessage {
        guard let total = try length(ofMessageAt: bytes), bytes.count >= total else {
            throw ParseError(description: "a truncated D-Bus message")
        }
        guard let kind = Kind(rawValue: bytes[1]) else { throw ParseError(description: "message type \(bytes[1])") }
        var message = DBusMessage(
            kind: kind, serial: bytes.uint32(at: 8), path: nil, interface: nil, member: nil, destination: nil,
            replySerial: nil, errorName: nil, body: [], firstString: nil)
        let fieldsEnd = 16 + Int(bytes.uint32(at: 12))
        var i = 16
        var signature = ""
        while i < fieldsEnd {
            i = (i + 7) / 8 * 8
            guard i + 4 <= fieldsEnd else { break }
            let code = bytes[i]
            let sigLength = Int(bytes[i + 1])
            guard i + 2 + sigLength < bytes.count else { throw ParseError(description: "a bad header field") }
            let type = String(decoding: bytes[(i + 2)..<(i + 2 + sigLength)], as: UTF8.self)
            i += 3 + sigLength
            switch type {
            case "s", "o":
                i = (i + 3) / 4 * 4
                let n = Int(bytes.uint32(at: i))
                guard i + 4 + n <= bytes.count else { throw ParseError(description: "a bad header string") }
                let text = String(decoding: bytes[(i + 4)..<(i + 4 + n)], as: UTF8.self)
                i += 4 + n + 1
                switch code {
                case 1: message.path = text
                case 2: message.interface = text
                case 3: message.member = text
                case 4: message.errorName = text
                case 6: message.destination = text
                default: break
                }
            case "u":
                i = (i + 3) / 4 * 4
                if code == 5 { message.replySerial = bytes.uint32(at: i) }
                i += 4
            case "g":
                let n = Int(bytes[i])
                guard i + 1 + n <= bytes.count else { throw ParseError(description: "a bad header signature") }
                if code == 8 { signature = String(decoding: bytes[(i + 1)..<(i + 1 + n)], as: UTF8.self) }
                i += 2 + n
            default:
                throw ParseError(description: "a header field of type \(type)")
            }
        }
        // Errors carry their message first; a method's reply here is an object path (a job).
        if signature.first == "s" || signature.first == "o" {
            let start = (fieldsEnd + 7) / 8 * 8
            if start + 4 <= total {
                let n = Int(bytes.uint32(at: start))
                if start + 4 + n <= total { message.firstString = String(decoding: bytes[(start + 4)..<(start + 4 + n)], as: UTF8.self) }
            }
        }
        return message
    }
}

extension [UInt8] {
    fileprivate mutating func pad(to alignment: Int) {
        while count % alignment != 0 { append(0) }
    }

    fileprivate mutating func appendUInt32(_ n: UInt32) {
        append(UInt8(n & 0xff))
        append(UInt8((n >> 8) & 0xff))
        append(UInt8((n >> 16) & 0xff))
        append(UInt8(n >> 24))
    }

    fileprivate mutating func setUInt32(_ n: UInt32, at i: Int) {
        self[i] = UInt8(n & 0xff)
        self[i + 1] = UInt8((n >> 8) & 0xff)
        self[i + 2] = UInt8((n >> 16) & 0xff)
        self[i + 3] = UInt8(n >> 24)
    }

    fileprivate func uint32(at i: Int) -> UInt32 {
        guard i + 4 <= count else { return 0 }
        return UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24
    }
}
