// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// A kernel error for a netlink request, as errno.
public struct NetlinkError: Error, Sendable, CustomStringConvertible, Equatable {
    public var operation: String
    public var errno: Int32
    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}

/// A netlink attribute (`struct rtattr`), possibly nested.
public enum NetlinkAttribute: Sendable, Equatable {
    case bytes(UInt16, [UInt8])
    case nested(UInt16, [NetlinkAttribute])

    public static func string(_ type: UInt16, _ s: String) -> NetlinkAttribute { .bytes(type, Array(s.utf8) + [0]) }
    public static func u32(_ type: UInt16, _ v: UInt32) -> NetlinkAttribute { .bytes(type, le32(v)) }
    /// An IPv4 address in network order.
    public static func ipv4(_ type: UInt16, _ a: IPv4) -> NetlinkAttribute { .bytes(type, a.bytes) }

    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

    func encode(into out: inout [UInt8]) {
        let start = out.count
        out += [0, 0, 0, 0]
        switch self {
        case .bytes(let type, let payload):
            out += payload
            out[start + 2] = UInt8(type & 0xff)
            out[start + 3] = UInt8(type >> 8)
        case .nested(let type, let children):
            for c in children { c.encode(into: &out) }
            out[start + 2] = UInt8(type & 0xff)
            out[start + 3] = UInt8((type | 0x8000) >> 8)  // NLA_F_NESTED
        }
        let length = out.count - start
        out[start] = UInt8(length & 0xff)
        out[start + 1] = UInt8(length >> 8)
        while out.count % 4 != 0 { out.append(0) }
    }
}

/// An IPv4 address.
public struct IPv4: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// Host order.
    public var value: UInt32
    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let n = UInt32(p), n < 256, !p.isEmpty, p.count <= 3 else { return nil }
            v = v << 8 | n
        }
        value = v
    }

    /// Network order.
    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    public var description: String { bytes.map(String.init).joined(separator: ".") }
    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let a = IPv4(text) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad IPv4 \(text)")) }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv4 subnet (`172.18.0.0/16`).
public struct Subnet: Sendable, Hashable, CustomStringConvertible, Codable {
    public var address: IPv4
    public var prefix: Int

    public init(_ address: IPv4, prefix: Int) {
        self.prefix = prefix
        self.address = IPv4(address.value & Self.mask(prefix))
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let a = IPv4(String(parts[0])), let p = Int(parts[1]), (0...32).contains(p) else { return nil }
        self.init(a, prefix: p)
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }
    public var mask: UInt32 { Self.mask(prefix) }
    public var first: IPv4 { address }
    public var last: IPv4 { IPv4(address.value | ~mask) }
    public func contains(_ a: IPv4) -> Bool { a.value & mask == address.value }
    public func overlaps(_ other: Subnet) -> Bool {
        let m = Self.mask(min(prefix, other.prefix))
        return address.value & m == other.address.value & m
    }
    public var description: String { "\(address)/\(prefix)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let s = Subnet(text) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad subnet \(text)")) }
        self = s
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// rtnetlink requests (no `ip`): links, bridges, veth pairs, addresses, routes. Requests are
/// acknowledged and kernel errors come back as `NetlinkError`. A `Netlink` talks to the
/// network namespace its socket was made in.
public final class Netlink {
    // Message types and flags (linux/rtnetlink.h, linux/netlink.h).
    public static let RTM_NEWLINK: UInt16 = 16
    public static let RTM_DELLINK: UInt16 = 17
    public static let RTM_GETLINK: UInt16 = 18
    public static let RTM_SETLINK: UInt16 = 19
    public static let RTM_NEWADDR: UInt16 = 20
    public static let RTM_GETADDR: UInt16 = 22
    public static let RTM_NEWROUTE: UInt16 = 24
    public static let RTM_GETROUTE: UInt16 = 26
    static let NLM_F_REQUEST: UInt16 = 1
    static let NLM_F_ACK: UInt16 = 4
    static let NLM_F_EXCL: UInt16 = 0x200
    static let NLM_F_CREATE: UInt16 = 0x400
    static let NLM_F_DUMP: UInt16 = 0x300
    static let NLMSG_ERROR: UInt16 = 2
    static let NLMSG_DONE: UInt16 = 3
    // Attributes.
    static let IFLA_ADDRESS: UInt16 = 1
    static let IFLA_IFNAME: UInt16 = 3
    static let IFLA_MTU: UInt16 = 4
    static let IFLA_MASTER: UInt16 = 10
    static let IFLA_LINKINFO: UInt16 = 18
    static let IFLA_NET_NS_FD: UInt16 = 28
    static let IFLA_INFO_KIND: UInt16 = 1
    static let IFLA_INFO_DATA: UInt16 = 2
    static let VETH_INFO_PEER: UInt16 = 1
    static let IFA_ADDRESS: UInt16 = 1
    static let IFA_LOCAL: UInt16 = 2
    static let IFA_BROADCAST: UInt16 = 4
    static let RTA_DST: UInt16 = 1
    static let RTA_OIF: UInt16 = 4
    static let RTA_GATEWAY: UInt16 = 5

    public let fd: Int32
    var sequence: UInt32 = 1

    /// A netlink socket in the current network namespace.
    public init() throws(NetlinkError) {
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else { throw NetlinkError("netlink socket", errno: errno) }
    }

    /// A netlink socket of another protocol (`NETLINK_NETFILTER` for nftables).
    public init(protocol number: Int32) throws(NetlinkError) {
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), number)
        guard fd >= 0 else { throw NetlinkError("netlink socket", errno: errno) }
    }

    public static let NETLINK_NETFILTER: Int32 = 12

    /// Whether the nftables table NAME of a family (`ip`: AF_INET) exists: one `NFT_MSG_GETTABLE` on a netfilter
    /// socket, so that `up` of an existing network need not load libnftables to check.
    public func nftablesTableExists(_ name: String, family: UInt8 = UInt8(AF_INET)) throws(NetlinkError) -> Bool {
        let getTable: UInt16 = 10 << 8 | 1  // NFNL_SUBSYS_NFTABLES, NFT_MSG_GETTABLE
        do {
            // struct nfgenmsg: family, version 0, resource id 0.
            try request("nftables table \(name)", type: getTable, flags: 0, header: [family, 0, 0, 0], attributes: [.string(1, name)])
            return true
        } catch {
            if error.errno == ENOENT { return false }
            throw error
        }
    }

    /// Takes over a netlink socket made elsewhere (in another namespace).
    public init(socket: Int32) { fd = socket }

    deinit { close(fd) }

    /// `struct nlmsghdr` + a fixed header + attributes.
    public static func message(
        type: UInt16, flags: UInt16, sequence: UInt32, header: [UInt8], attributes: [NetlinkAttribute]
    ) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        out += header
        while out.count % 4 != 0 { out.append(0) }
        for a in attributes { a.encode(into: &out) }
        let le = NetlinkAttribute.le32(UInt32(out.count))
        out.replaceSubrange(0..<4, with: le)
        out[4] = UInt8(type & 0xff)
        out[5] = UInt8(type >> 8)
        out[6] = UInt8(flags & 0xff)
        out[7] = UInt8(flags >> 8)
        out.replaceSubrange(8..<12, with: NetlinkAttribute.le32(sequence))
        return out
    }

    /// `struct ifinfomsg`.
    public static func ifinfo(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
        [0 /* AF_UNSPEC */, 0, 0, 0] + NetlinkAttribute.le32(UInt32(bitPattern: index)) + NetlinkAttribute.le32(flags)
            + NetlinkAttribute.le32(change)
    }

    /// `struct ifaddrmsg` for IPv4.
    public static func ifaddr(prefix: Int, index: Int32) -> [UInt8] {
        [UInt8(AF_INET), UInt8(prefix), 0, 0] + NetlinkAttribute.le32(UInt32(bitPattern: index))
    }

    /// `struct rtmsg` for an IPv4 route in the main table.
    public static func rtmsg(dstLength: Int, scope: UInt8) -> [UInt8] {
        [UInt8(AF_INET), UInt8(dstLength), 0, 0, 254 /* main */, 3 /* boot */, scope, 1 /* unicast */, 0, 0, 0, 0]
    }

    /// Sends a request and waits for its acknowledgement (or, for a dump, gathers the replies).
    @discardableResult
    func request(_ what: String, type: UInt16, flags: UInt16, header: [UInt8], attributes: [NetlinkAttribute]) throws(NetlinkError)
        -> [[UInt8]]
    {
        sequence &+= 1
        let seq = sequence
        let dump = flags & Self.NLM_F_DUMP == Self.NLM_F_DUMP
        let bytes = Self.message(
            type: type, flags: flags | Self.NLM_F_REQUEST | (dump ? 0 : Self.NLM_F_ACK), sequence: seq, header: header,
            attributes: attributes)
        // struct sockaddr_nl { family, pad, pid 0 (the kernel), groups 0 }.
        let kernel: [UInt8] = [UInt8(AF_NETLINK), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let sent = bytes.withUnsafeBytes { buffer in
            kernel.withUnsafeBytes { address in
                sendto(fd, buffer.baseAddress, buffer.count, 0, address.baseAddress?.assumingMemoryBound(to: sockaddr.self), 12)
            }
        }
        guard sent == bytes.count else { throw NetlinkError(what, errno: errno) }
        var replies: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 {
                if errno == EINTR { continue }
                throw NetlinkError(what, errno: errno)
            }
            var offset = 0
            while offset + 16 <= n {
                let length = Int(Self.u32(buffer, offset))
                let kind = UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8
                let replySeq = Self.u32(buffer, offset + 8)
                guard length >= 16, offset + length <= n else { break }
                if replySeq == seq {
                    if kind == Self.NLMSG_ERROR {
                        let code = Int32(bitPattern: Self.u32(buffer, offset + 16))
                        if code != 0 { throw NetlinkError(what, errno: -code) }
                        return replies
                    }
                    if kind == Self.NLMSG_DONE { return replies }
                    replies.append(Array(buffer[offset..<(offset + length)]))
                }
                offset += (length + 3) & ~3
            }
        }
    }

    static func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    /// The attributes of a reply after its fixed header of `headerSize` bytes.
    static func attributes(_ message: [UInt8], headerSize: Int) -> [(UInt16, ArraySlice<UInt8>)] {
        var out: [(UInt16, ArraySlice<UInt8>)] = []
        var i = 16 + ((headerSize + 3) & ~3)
        while i + 4 <= message.count {
            let length = Int(UInt16(message[i]) | UInt16(message[i + 1]) << 8)
            let type = (UInt16(message[i + 2]) | UInt16(message[i + 3]) << 8) & 0x3fff
            guard length >= 4, i + length <= message.count else { break }
            out.append((type, message[(i + 4)..<(i + length)]))
            i += (length + 3) & ~3
        }
        return out
    }

    // MARK: - Links

    /// The index of a link by name, nil if there is none.
    public func linkIndex(_ name: String) throws(NetlinkError) -> Int32? {
        do {
            let replies = try request(
                "find link \(name)", type: Self.RTM_GETLINK, flags: 0, header: Self.ifinfo(),
                attributes: [.string(Self.IFLA_IFNAME, name)])
            guard let reply = replies.first, reply.count >= 32 else { return nil }
            return Int32(bitPattern: Self.u32(reply, 20))
        } catch {
            if error.errno == ENODEV { return nil }
            throw error
        }
    }

    /// Every link: (index, name).
    public func links() throws(NetlinkError) -> [(Int32, String)] {
        let replies = try request("list links", type: Self.RTM_GETLINK, flags: Self.NLM_F_DUMP, header: Self.ifinfo(), attributes: [])
        return replies.compactMap { reply in
            guard reply.count >= 32 else { return nil }
            let index = Int32(bitPattern: Self.u32(reply, 20))
            let name = Self.attributes(reply, headerSize: 16).first { $0.0 == Self.IFLA_IFNAME }
                .map { String(decoding: $0.1.prefix { $0 != 0 }, as: UTF8.self) }
            return name.map { (index, $0) }
        }
    }

    public func createBridge(_ name: String, mtu: UInt32? = nil) throws(NetlinkError) {
        var attrs: [NetlinkAttribute] = [.string(Self.IFLA_IFNAME, name)]
        if let mtu { attrs.append(.u32(Self.IFLA_MTU, mtu)) }
        attrs.append(.nested(Self.IFLA_LINKINFO, [.string(Self.IFLA_INFO_KIND, "bridge")]))
        try request(
            "create bridge \(name)", type: Self.RTM_NEWLINK, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL,
            header: Self.ifinfo(), attributes: attrs)
    }

    /// A veth pair; the peer goes into the network namespace `peerNamespace` (a descriptor) when given.
    public func createVeth(_ name: String, peer: String, peerNamespace: Int32? = nil, mtu: UInt32? = nil) throws(NetlinkError) {
        var peerAttrs: [NetlinkAttribute] = [.string(Self.IFLA_IFNAME, peer)]
        if let peerNamespace { peerAttrs.append(.u32(Self.IFLA_NET_NS_FD, UInt32(bitPattern: peerNamespace))) }
        if let mtu { peerAttrs.append(.u32(Self.IFLA_MTU, mtu)) }
        var peerInfo: [UInt8] = Self.ifinfo()
        for a in peerAttrs { a.encode(into: &peerInfo) }
        var attrs: [NetlinkAttribute] = [.string(Self.IFLA_IFNAME, name)]
        if let mtu { attrs.append(.u32(Self.IFLA_MTU, mtu)) }
        attrs.append(
            .nested(
                Self.IFLA_LINKINFO,
                [.string(Self.IFLA_INFO_KIND, "veth"), .nested(Self.IFLA_INFO_DATA, [.bytes(Self.VETH_INFO_PEER, peerInfo)])]))
        try request(
            "create veth \(name)", type: Self.RTM_NEWLINK, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL,
            header: Self.ifinfo(), attributes: attrs)
    }

    /// Sets a link up (or down), its master, name or hardware address.
    public func setLink(
        _ index: Int32, up: Bool? = nil, master: Int32? = nil, name: String? = nil, mac: [UInt8]? = nil
    ) throws(NetlinkError) {
        var attrs: [NetlinkAttribute] = []
        if let master { attrs.append(.u32(Self.IFLA_MASTER, UInt32(bitPattern: master))) }
        if let name { attrs.append(.string(Self.IFLA_IFNAME, name)) }
        if let mac { attrs.append(.bytes(Self.IFLA_ADDRESS, mac)) }
        let flags: UInt32 = up == true ? 1 : 0  // IFF_UP
        let change: UInt32 = up == nil ? 0 : 1
        try request(
            "configure link \(index)", type: Self.RTM_NEWLINK, flags: 0,
            header: Self.ifinfo(index: index, flags: flags, change: change), attributes: attrs)
    }

    /// Turns on hairpin mode on a bridge port, so that a container reaches itself through the
    /// host's address (a published port).
    public func setHairpin(_ index: Int32) throws(NetlinkError) {
        var header = Self.ifinfo(index: index)
        header[0] = 7  // AF_BRIDGE
        try request(
            "hairpin on link \(index)", type: Self.RTM_SETLINK, flags: 0, header: header,
            attributes: [.nested(12 /* IFLA_PROTINFO */, [.bytes(4 /* IFLA_BRPORT_MODE */, [1])])])
    }

    public func deleteLink(_ index: Int32) throws(NetlinkError) {
        try request("delete link \(index)", type: Self.RTM_DELLINK, flags: 0, header: Self.ifinfo(index: index), attributes: [])
    }

    // MARK: - Addresses and routes

    public func addAddress(_ index: Int32, _ address: IPv4, prefix: Int) throws(NetlinkError) {
        let broadcast = IPv4(address.value | ~Subnet.mask(prefix))
        try request(
            "add address \(address)/\(prefix)", type: Self.RTM_NEWADDR, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL,
            header: Self.ifaddr(prefix: prefix, index: index),
            attributes: [.ipv4(Self.IFA_LOCAL, address), .ipv4(Self.IFA_ADDRESS, address), .ipv4(Self.IFA_BROADCAST, broadcast)])
    }

    public func addDefaultRoute(via gateway: IPv4, index: Int32) throws(NetlinkError) {
        try request(
            "add default route via \(gateway)", type: Self.RTM_NEWROUTE, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL,
            header: Self.rtmsg(dstLength: 0, scope: 0),
            attributes: [.ipv4(Self.RTA_GATEWAY, gateway), .u32(Self.RTA_OIF, UInt32(bitPattern: index))])
    }

    /// An IPv6 address, usable at once: no duplicate address detection (the bridge's addresses
    /// are ours to hand out), as Docker adds them.
    public func addAddress(_ index: Int32, _ address: IPv6, prefix: Int) throws(NetlinkError) {
        let nodad: UInt8 = 0x02  // IFA_F_NODAD
        try request(
            "add address \(address)/\(prefix)", type: Self.RTM_NEWADDR, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL,
            header: [UInt8(AF_INET6), UInt8(prefix), nodad, 0] + NetlinkAttribute.le32(UInt32(bitPattern: index)),
            attributes: [.bytes(Self.IFA_LOCAL, address.bytes), .bytes(Self.IFA_ADDRESS, address.bytes)])
    }

    public func addDefaultRoute(via gateway: IPv6, index: Int32) throws(NetlinkError) {
        var header = Self.rtmsg(dstLength: 0, scope: 0)
        header[0] = UInt8(AF_INET6)
        try request(
            "add default route via \(gateway)", type: Self.RTM_NEWROUTE, flags: Self.NLM_F_CREATE | Self.NLM_F_EXCL, header: header,
            attributes: [.bytes(Self.RTA_GATEWAY, gateway.bytes), .u32(Self.RTA_OIF, UInt32(bitPattern: index))])
    }

    /// The destinations of the main table's IPv6 routes and the subnets of the host's IPv6
    /// addresses (link-local, multicast and default routes left out).
    public func ipv6Subnets() throws(NetlinkError) -> [Subnet6] {
        var header = Self.rtmsg(dstLength: 0, scope: 0)
        header[0] = UInt8(AF_INET6)
        let routes = try request("list routes", type: Self.RTM_GETROUTE, flags: Self.NLM_F_DUMP, header: header, attributes: [])
        let fromRoutes: [Subnet6] = routes.compactMap { reply in
            guard reply.count >= 28, reply[16] == UInt8(AF_INET6), reply[17] > 0,
                let d = Self.attributes(reply, headerSize: 12).first(where: { $0.0 == Self.RTA_DST }), let a = IPv6(bytes: d.1)
            else { return nil }
            return Subnet6(a, prefix: Int(reply[17]))
        }
        var addressHeader = Self.ifaddr(prefix: 0, index: 0)
        addressHeader[0] = UInt8(AF_INET6)
        let addresses = try request("list addresses", type: Self.RTM_GETADDR, flags: Self.NLM_F_DUMP, header: addressHeader, attributes: [])
        let fromAddresses: [Subnet6] = addresses.compactMap { reply in
            guard reply.count >= 24, reply[16] == UInt8(AF_INET6),
                let a = Self.attributes(reply, headerSize: 8).first(where: { $0.0 == Self.IFA_ADDRESS }), let address = IPv6(bytes: a.1)
            else { return nil }
            return Subnet6(address, prefix: Int(reply[17]))
        }
        // fe80::/10 and ff00::/8 are on every link and never ours to pick.
        return (fromRoutes + fromAddresses).filter { $0.address.high >> 54 != 0x3fa && $0.address.high >> 56 != 0xff }
    }

    /// Every IPv4 address on the host's links, with its prefix.
    public func ipv4Addresses() throws(NetlinkError) -> [Subnet] {
        var header = Self.ifaddr(prefix: 0, index: 0)
        header[0] = UInt8(AF_INET)
        let replies = try request("list addresses", type: Self.RTM_GETADDR, flags: Self.NLM_F_DUMP, header: header, attributes: [])
        return replies.compactMap { reply in
            guard reply.count >= 24 else { return nil }
            let prefix = Int(reply[17])
            guard let a = Self.attributes(reply, headerSize: 8).first(where: { $0.0 == Self.IFA_LOCAL || $0.0 == Self.IFA_ADDRESS }),
                a.1.count == 4
            else { return nil }
            let b = Array(a.1)
            return Subnet(IPv4(UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])), prefix: prefix)
        }
    }

    /// The destinations of the main table's IPv4 routes (default routes left out).
    public func ipv4Routes() throws(NetlinkError) -> [Subnet] {
        let replies = try request(
            "list routes", type: Self.RTM_GETROUTE, flags: Self.NLM_F_DUMP, header: Self.rtmsg(dstLength: 0, scope: 0), attributes: [])
        return replies.compactMap { reply in
            guard reply.count >= 28, reply[16] == UInt8(AF_INET) else { return nil }
            let length = Int(reply[17])
            guard length > 0, let d = Self.attributes(reply, headerSize: 12).first(where: { $0.0 == Self.RTA_DST }), d.1.count == 4
            else { return nil }
            let b = Array(d.1)
            return Subnet(IPv4(UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])), prefix: length)
        }
    }
}
