// SPDX-License-Identifier: Apache-2.0

/// An IPv6 address: two host-order halves, written as RFC 5952 says (lower case, the longest
/// run of two or more zero groups shortened to `::`).
public struct IPv6: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses `fd00::1`, `fd00:0:0:0:0:0:0:1`, `::`; a dotted IPv4 tail (`::ffff:1.2.3.4`) too.
    public init?(_ text: String) {
        guard !text.isEmpty, text.count <= 45 else { return nil }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, f) in fields.enumerated() {
                if i == fields.count - 1, f.contains("."), let v4 = IPv4(String(f)) {
                    out += [UInt16(v4.value >> 16), UInt16(v4.value & 0xffff)]
                } else {
                    guard (1...4).contains(f.count), let g = UInt16(f, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        self.init(groups: all)
    }

    init(groups g: [UInt16]) {
        high = g[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = g[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// Network order.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let b = Array(bytes)
        high = b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = b[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(high >> (56 - 8 * UInt64($0)) & 0xff) } + (0..<8).map { UInt8(low >> (56 - 8 * UInt64($0)) & 0xff) }
    }

    var groups: [UInt16] {
        (0..<4).map { UInt16(high >> (48 - 16 * UInt64($0)) & 0xffff) } + (0..<4).map { UInt16(low >> (48 - 16 * UInt64($0)) & 0xffff) }
    }

    public var description: String {
        let g = groups
        // The longest run of zero groups (two or more), the first of equals.
        var best = (start: -1, length: 0)
        var i = 0
        while i < 8 {
            guard g[i] == 0 else {
                i += 1
                continue
            }
            var j = i
            while j < 8 && g[j] == 0 { j += 1 }
            if j - i > best.length && j - i >= 2 { best = (i, j - i) }
            i = j
        }
        let hex = g.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        return hex[..<best.start].joined(separator: ":") + "::" + hex[(best.start + best.length)...].joined(separator: ":")
    }

    /// This address plus `n` (carrying into the high half).
    public func adding(_ n: UInt64) -> IPv6 {
        let (sum, overflow) = low.addingReportingOverflow(n)
        return IPv6(high: high &+ (overflow ? 1 : 0), low: sum)
    }

    public static func < (a: IPv6, b: IPv6) -> Bool { (a.high, a.low) < (b.high, b.low) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let a = IPv6(text) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad IPv6 \(text)")) }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv6 subnet (`fd00:1::/64`).
public struct Subnet6: Sendable, Hashable, CustomStringConvertible, Codable {
    public var address: IPv6
    public var prefix: Int

    public init(_ address: IPv6, prefix: Int) {
        self.prefix = prefix
        let m = Self.mask(prefix)
        self.address = IPv6(high: address.high & m.high, low: address.low & m.low)
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let a = IPv6(String(parts[0])), let p = Int(parts[1]), (0...128).contains(p) else { return nil }
        self.init(a, prefix: p)
    }

    static func mask(_ prefix: Int) -> (high: UInt64, low: UInt64) {
        func half(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : UInt64.max << UInt64(64 - bits) }
        return (half(prefix), half(prefix - 64))
    }

    public var first: IPv6 { address }
    public var last: IPv6 {
        let m = Self.mask(prefix)
        return IPv6(high: address.high | ~m.high, low: address.low | ~m.low)
    }
    public func contains(_ a: IPv6) -> Bool {
        let m = Self.mask(prefix)
        return a.high & m.high == address.high && a.low & m.low == address.low
    }
    public func overlaps(_ other: Subnet6) -> Bool {
        prefix <= other.prefix ? contains(other.address) : other.contains(address)
    }
    /// How many addresses it has, capped at `UInt64.max`.
    public var size: UInt64 { prefix <= 64 ? .max : (prefix == 128 ? 1 : UInt64(1) << UInt64(128 - prefix)) }
    public var description: String { "\(address)/\(prefix)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let s = Subnet6(text) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad subnet \(text)")) }
        self = s
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
