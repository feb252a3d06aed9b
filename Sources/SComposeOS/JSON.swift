// SPDX-License-Identifier: Apache-2.0

/// A JSON value with its object keys in order, the one JSON type of the project: state files
/// (read and written by `StateJSONEncoder`/`StateJSONDecoder`, with no Foundation, so the shim,
/// one per container, need not load it), the compose model as `config --format json` prints
/// it, and the rows of `--format json`.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text, as read or as written: exact for any integer width, and the writer
    /// of a float decides its form (Go's, for the compose model).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// An integer.
    public static func int(_ i: Int64) -> JSONValue { .number(String(i)) }

    /// The value of `key` in an object (the last one if repeated, as Go's decoder keeps).
    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.last { $0.0 == key }?.1 }
        return nil
    }
}

/// Why a JSON text or value could not be read.
public struct JSONCodingError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// JSON text → `JSONValue`.
struct JSONParser {
    let b: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { b = bytes }

    mutating func parse() throws(JSONCodingError) -> JSONValue {
        let v = try value(depth: 0)
        skip()
        guard i == b.count else { throw JSONCodingError("trailing data at byte \(i)") }
        return v
    }

    mutating func skip() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws(JSONCodingError) -> JSONValue {
        guard depth < 512 else { throw JSONCodingError("nesting too deep") }
        skip()
        guard i < b.count else { throw JSONCodingError("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(String, JSONValue)] = []
            skip()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(pairs)
            }
            while true {
                skip()
                let key = try string()
                skip()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw JSONCodingError("expected : at byte \(i)") }
                i += 1
                pairs.append((key, try value(depth: depth + 1)))
                skip()
                guard i < b.count else { throw JSONCodingError("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw JSONCodingError("expected , or } at byte \(i)")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skip()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skip()
                guard i < b.count else { throw JSONCodingError("unexpected end") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw JSONCodingError("expected , or ] at byte \(i)")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let start = i
            while i < b.count, (b[i] >= 0x30 && b[i] <= 0x39) || b[i] == 0x2d || b[i] == 0x2b || b[i] == 0x2e || b[i] == 0x65 || b[i] == 0x45 {
                i += 1
            }
            guard i > start else { throw JSONCodingError("unexpected byte at \(i)") }
            return .number(String(decoding: b[start..<i], as: UTF8.self))
        }
    }

    mutating func literal(_ word: String) throws(JSONCodingError) {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, Array(b[i..<(i + w.count)]) == w else { throw JSONCodingError("bad literal at byte \(i)") }
        i += w.count
    }

    mutating func hex4() throws(JSONCodingError) -> UInt32 {
        guard i + 4 <= b.count else { throw JSONCodingError("bad escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            i += 1
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: throw JSONCodingError("bad escape")
            }
            v = v << 4 | d
        }
        return v
    }

    mutating func string() throws(JSONCodingError) -> String {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw JSONCodingError("expected a string at byte \(i)") }
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard i < b.count else { break }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xd800 && scalar < 0xdc00, i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low &- 0xdc00)
                }
                out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{fffd}").utf8)
            default: out.append(e)  // \" \\ \/
            }
        }
        throw JSONCodingError("unterminated string")
    }
}

extension JSONValue {
    /// Compact JSON bytes; object keys sorted when `sortKeys`.
    public func bytes(sortKeys: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        write(&out, sortKeys: sortKeys)
        return out
    }

    /// JSON on one line, keys in their order (as `docker … --format json` prints rows).
    public func compactText() -> String {
        String(decoding: bytes(sortKeys: false), as: UTF8.self)
    }

    /// JSON text indented by `indent` per level, keys sorted when `sortKeys` (as Go's encoder
    /// prints maps), empty arrays and objects as `[]` and `{}`.
    public func text(indent: String = "  ", sortKeys: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        writeIndented(&out, level: 0, indent: Array(indent.utf8), sortKeys: sortKeys)
        return String(decoding: out, as: UTF8.self)
    }

    func writeIndented(_ out: inout [UInt8], level: Int, indent: [UInt8], sortKeys: Bool) {
        func pad(_ n: Int) {
            for _ in 0..<n { out += indent }
        }
        switch self {
        case .array(let items) where !items.isEmpty:
            out += Array("[\n".utf8)
            for (i, item) in items.enumerated() {
                pad(level + 1)
                item.writeIndented(&out, level: level + 1, indent: indent, sortKeys: sortKeys)
                if i < items.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            pad(level)
            out.append(UInt8(ascii: "]"))
        case .object(let pairs) where !pairs.isEmpty:
            let ordered = sortKeys ? pairs.sorted { $0.0 < $1.0 } : pairs
            out += Array("{\n".utf8)
            for (i, (k, v)) in ordered.enumerated() {
                pad(level + 1)
                Self.quote(k, into: &out)
                out += Array(": ".utf8)
                v.writeIndented(&out, level: level + 1, indent: indent, sortKeys: sortKeys)
                if i < ordered.count - 1 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            pad(level)
            out.append(UInt8(ascii: "}"))
        default:
            write(&out, sortKeys: sortKeys)
        }
    }

    func write(_ out: inout [UInt8], sortKeys: Bool) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let v): out += Array((v ? "true" : "false").utf8)
        case .number(let n): out += Array(n.utf8)
        case .string(let s): Self.quote(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                item.write(&out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            for (k, pair) in (sortKeys ? pairs.sorted { $0.0 < $1.0 } : pairs).enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                Self.quote(pair.0, into: &out)
                out.append(UInt8(ascii: ":"))
                pair.1.write(&out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func quote(_ s: String, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 0xf)]]
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Encoder

/// `Encodable` → JSON text, keys sorted, nil optionals left out.
public struct StateJSONEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let box = EncodingBox()
        try value.encode(to: TreeEncoder(box: box, path: []))
        return box.tree.bytes()
    }
}

final class EncodingBox {
    var tree: JSONValue = .null
}

/// Writes into a node of a tree held by reference: containers keep a path to where they write.
struct TreeEncoder: Encoder {
    let box: EncodingBox
    let path: [PathPart]
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    enum PathPart {
        case key(String)
        case index(Int)
    }

    func set(_ value: JSONValue) { box.tree = Self.replacing(box.tree, at: path[...], with: value) }
    func get() -> JSONValue { Self.node(box.tree, at: path[...]) }

    static func node(_ tree: JSONValue, at path: ArraySlice<PathPart>) -> JSONValue {
        guard let first = path.first else { return tree }
        switch (first, tree) {
        case (.key(let k), .object(let pairs)): return node(pairs.first { $0.0 == k }?.1 ?? .null, at: path.dropFirst())
        case (.index(let n), .array(let items)): return n < items.count ? node(items[n], at: path.dropFirst()) : .null
        default: return .null
        }
    }

    static func replacing(_ tree: JSONValue, at path: ArraySlice<PathPart>, with value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        switch first {
        case .key(let k):
            var pairs: [(String, JSONValue)] = []
            if case .object(let p) = tree { pairs = p }
            if let idx = pairs.firstIndex(where: { $0.0 == k }) {
                pairs[idx].1 = replacing(pairs[idx].1, at: path.dropFirst(), with: value)
            } else {
                pairs.append((k, replacing(.null, at: path.dropFirst(), with: value)))
            }
            return .object(pairs)
        case .index(let n):
            var items: [JSONValue] = []
            if case .array(let a) = tree { items = a }
            while items.count <= n { items.append(.null) }
            items[n] = replacing(items[n], at: path.dropFirst(), with: value)
            return .array(items)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = get() {} else { set(.object([])) }
        return KeyedEncodingContainer(KeyedTreeEncoder<Key>(encoder: self))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .array = get() {} else { set(.array([])) }
        return UnkeyedTreeEncoder(encoder: self)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { SingleTreeEncoder(encoder: self) }

    func child(_ part: PathPart) -> TreeEncoder { TreeEncoder(box: box, path: path + [part]) }
}

struct KeyedTreeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: TreeEncoder
    var codingPath: [CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { encoder.child(.key(key.stringValue)).set(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: encoder.child(.key(key.stringValue)))
    }
    mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
        encoder.child(.key(key.stringValue)).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        encoder.child(.key(key.stringValue)).unkeyedContainer()
    }
    mutating func superEncoder() -> Encoder { encoder.child(.key("super")) }
    mutating func superEncoder(forKey key: Key) -> Encoder { encoder.child(.key(key.stringValue)) }
}

struct UnkeyedTreeEncoder: UnkeyedEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [CodingKey] { [] }
    var count: Int {
        if case .array(let items) = encoder.get() { return items.count }
        return 0
    }

    mutating func next() -> TreeEncoder { encoder.child(.index(count)) }
    mutating func encodeNil() throws { next().set(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let slot = next()
        slot.set(.null)
        try value.encode(to: slot)
    }
    mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type) -> KeyedEncodingContainer<N> {
        next().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer { next().unkeyedContainer() }
    mutating func superEncoder() -> Encoder { next() }
}

struct SingleTreeEncoder: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [CodingKey] { [] }

    mutating func encodeNil() throws { encoder.set(.null) }
    mutating func encode(_ value: Bool) throws { encoder.set(.bool(value)) }
    mutating func encode(_ value: String) throws { encoder.set(.string(value)) }
    mutating func encode(_ value: Double) throws { encoder.set(.number(Self.number(value))) }
    mutating func encode(_ value: Float) throws { encoder.set(.number(Self.number(Double(value)))) }
    mutating func encode(_ value: Int) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: Int8) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: Int16) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: Int32) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: Int64) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: UInt) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { encoder.set(.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { encoder.set(.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: encoder) }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

// MARK: - Decoder

/// JSON text → `Decodable`; a missing key decodes as nil for optionals.
public struct StateJSONDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var parser = JSONParser(bytes)
        let tree = try parser.parse()
        return try T(from: TreeDecoder(tree: tree))
    }
}

struct TreeDecoder: Decoder {
    let tree: JSONValue
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let pairs) = tree else { throw JSONCodingError("expected an object") }
        var dict: [String: JSONValue] = [:]
        for (k, v) in pairs { dict[k] = v }
        return KeyedDecodingContainer(KeyedTreeDecoder<Key>(values: dict))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = tree else { throw JSONCodingError("expected an array") }
        return UnkeyedTreeDecoder(items: items)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleTreeDecoder(tree: tree) }
}

struct KeyedTreeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: [String: JSONValue]
    var codingPath: [CodingKey] { [] }
    var allKeys: [Key] { values.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    func value(_ key: Key) throws -> JSONValue {
        guard let v = values[key.stringValue] else { throw JSONCodingError("missing key \"\(key.stringValue)\"") }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { (values[key.stringValue] ?? .null) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: TreeDecoder(tree: try value(key)))
    }

    func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
        try TreeDecoder(tree: try value(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try TreeDecoder(tree: try value(key)).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { TreeDecoder(tree: values["super"] ?? .null) }
    func superDecoder(forKey key: Key) throws -> Decoder { TreeDecoder(tree: values[key.stringValue] ?? .null) }
}

struct UnkeyedTreeDecoder: UnkeyedDecodingContainer {
    let items: [JSONValue]
    var currentIndex = 0
    var codingPath: [CodingKey] { [] }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [JSONValue]) { self.items = items }

    mutating func next() throws -> JSONValue {
        guard !isAtEnd else { throw JSONCodingError("array too short") }
        defer { currentIndex += 1 }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if items[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: TreeDecoder(tree: try next())) }
    mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
        try TreeDecoder(tree: try next()).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try TreeDecoder(tree: try next()).unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { TreeDecoder(tree: try next()) }
}

struct SingleTreeDecoder: SingleValueDecodingContainer {
    let tree: JSONValue
    var codingPath: [CodingKey] { [] }

    func decodeNil() -> Bool { tree == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let v) = tree else { throw JSONCodingError("expected a boolean") }
        return v
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let v) = tree else { throw JSONCodingError("expected a string") }
        return v
    }

    func text() throws -> String {
        guard case .number(let n) = tree else { throw JSONCodingError("expected a number") }
        return n
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let t = try text()
        if let v = I(t) { return v }
        if let d = Double(t), d == d.rounded(), let v = I(exactly: d) { return v }
        throw JSONCodingError("number \(t) does not fit \(I.self)")
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard let v = Double(try text()) else { throw JSONCodingError("bad number") }
        return v
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: TreeDecoder(tree: tree)) }
}

/// JSON text for command output written by hand.
public enum JSONText {
    /// `s` as a JSON string literal, quotes included.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        JSONValue.quote(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Reading a tree by hand

extension JSONValue {
    /// Parses JSON text.
    public static func parse(_ bytes: [UInt8]) throws(JSONCodingError) -> JSONValue {
        var parser = JSONParser(bytes)
        return try parser.parse()
    }

    /// The value of `key` in an object (the last one if repeated).
    public func value(_ key: String) -> JSONValue? { self[key] }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int? {
        if case .number(let n) = self { return Int(n) }
        return nil
    }

    public var uint64Value: UInt64? {
        if case .number(let n) = self { return UInt64(n) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// An object of strings (`labels`).
    public var stringMap: [String: String]? {
        guard case .object(let pairs) = self else { return nil }
        var out: [String: String] = [:]
        for (k, v) in pairs { if case .string(let s) = v { out[k] = s } }
        return out
    }
}

extension JSONValue {
    /// Every leaf as `path = value`, objects' keys in their order, `[i]` for array elements and
    /// arrays of scalars on one line: a text form of a value that tests read line by line.
    public func flattened(_ path: String) -> [String] {
        switch self {
        case .object(let pairs):
            return pairs.flatMap { $0.1.flattened(path + "." + $0.0) }
        case .array(let items):
            if items.allSatisfy({ if case .array = $0 { return false }; if case .object = $0 { return false }; return true }) {
                return ["\(path) = [" + items.map(\.scalarText).joined(separator: ", ") + "]"]
            }
            return items.enumerated().flatMap { $0.element.flattened("\(path)[\($0.offset)]") }
        default:
            return ["\(path) = \(scalarText)"]
        }
    }

    /// A scalar as JSON writes it (strings quoted and escaped).
    var scalarText: String {
        var out: [UInt8] = []
        write(&out, sortKeys: false)
        return String(decoding: out, as: UTF8.self)
    }
}
