// SPDX-License-Identifier: Apache-2.0
import Crypto

/// A content digest, `sha256:<64 hex>`: the only algorithm images use in practice.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// The lower-case hex of the SHA-256.
    public let hex: String

    /// Parses `sha256:<64 lower-case hex>`; anything else is rejected (digests become file names).
    public init?(_ text: String) {
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = String(text.dropFirst(7))
        guard Digest.isHex(hex) else { return nil }
        self.hex = hex
    }

    /// The digest of some bytes.
    public init(of bytes: some Sequence<UInt8>) {
        var hasher = SHA256()
        hasher.update(data: Array(bytes))
        self.init(finalizing: hasher)
    }

    /// The digest a running hash ends with.
    public init(finalizing hasher: SHA256) {
        let digest = hasher.finalize()
        hex = digest.map { b in
            let s = String(b, radix: 16)
            return b < 16 ? "0" + s : s
        }.joined()
    }

    static func isHex(_ s: String) -> Bool {
        s.utf8.count == 64
            && s.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) }
    }

    public var description: String { "sha256:" + hex }

    /// The first 12 hex digits, as `docker images` shows IDs.
    public var short: String { String(hex.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    /// The digest of 32 random bytes: a fresh 64-hex identifier (containers, volumes).
    public static func random() -> Digest { Digest(of: (0..<32).map { _ in UInt8.random(in: 0...255) }) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = Digest(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid digest \(text)"))
        }
        self = d
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// The chain ID of a layer stack (OCI image spec): the first diff ID, then
    /// `sha256(parent + " " + diffID)` for each next layer.
    public static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
        var out: [Digest] = []
        for d in diffIDs {
            if let parent = out.last {
                out.append(Digest(of: Array("\(parent) \(d)".utf8)))
            } else {
                out.append(d)
            }
        }
        return out
    }
}
