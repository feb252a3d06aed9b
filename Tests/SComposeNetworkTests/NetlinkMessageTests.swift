// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink
import SComposeNetwork
import Foundation
import Testing

/// Golden bytes of the rtnetlink messages, the IPAM choices and the DNS answers: no root needed.
struct NetlinkMessageTests {
    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    @Test func createBridgeMessage() {
        let m = Netlink.message(
            type: Netlink.RTM_NEWLINK, flags: 0x605, sequence: 7, header: Netlink.ifinfo(),
            attributes: [.string(3, "br0"), .nested(18, [.string(1, "bridge")])])
        // nlmsghdr (len 52, type 16, flags 0x605, seq 7, pid 0), ifinfomsg (16 zero bytes),
        // IFLA_IFNAME "br0\0", IFLA_LINKINFO (nested flag) { IFLA_INFO_KIND "bridge\0" + pad }.
        #expect(
            hex(m)
                == "38000000" + "1000" + "0506" + "07000000" + "00000000"
                + "00000000000000000000000000000000"
                + "0800" + "0300" + "62723000"
                + "1000" + "1280" + "0b00" + "0100" + "62726964676500" + "00")
    }

    @Test func addressMessage() {
        let m = Netlink.message(
            type: Netlink.RTM_NEWADDR, flags: 0x605, sequence: 1, header: Netlink.ifaddr(prefix: 16, index: 5),
            attributes: [.ipv4(2, IPv4("172.18.0.1")!)])
        #expect(hex(m) == "20000000" + "1400" + "0506" + "01000000" + "00000000" + "02100000" + "05000000" + "0800" + "0200" + "ac120001")
    }

    @Test func vethPeerIsNestedInfoData() {
        let m = Netlink.message(
            type: Netlink.RTM_NEWLINK, flags: 0x605, sequence: 1, header: Netlink.ifinfo(),
            attributes: [
                .string(3, "v0"),
                .nested(18, [.string(1, "veth"), .nested(2, [.bytes(1, Netlink.ifinfo() + [8, 0, 3, 0] + Array("e0".utf8) + [0, 0])])]),
            ])
        let text = hex(m)
        #expect(text.contains("7665746800"), "kind veth")
        #expect(text.hasSuffix("0800" + "0300" + "65300000"), "the peer's name closes the message")
    }

    @Test func subnetsAndPools() {
        let s = Subnet("172.18.5.9/16")
        #expect(s?.description == "172.18.0.0/16")
        #expect(s?.contains(IPv4("172.18.200.1")!) == true)
        #expect(s?.contains(IPv4("172.19.0.1")!) == false)
        let taken = [Subnet("172.17.0.0/16")!, Subnet("172.18.0.0/16")!, Subnet("172.19.3.0/24")!]
        #expect(IPAM.pickSubnet(avoiding: taken)?.description == "172.20.0.0/16")
        #expect(IPAM.pickSubnet(avoiding: [Subnet("172.16.0.0/12")!])?.description == "192.168.0.0/20")
        #expect(IPv4("1.2.3") == nil && IPv4("1.2.3.256") == nil)
    }

    @Test(arguments: [
        ("fd00::1", "fd00::1"), ("FD00:0:0:0:0:0:0:1", "fd00::1"), ("::", "::"), ("::1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:0db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("fe80::", "fe80::"), ("::ffff:10.0.0.1", "::ffff:a00:1"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
    ])
    func ipv6Text(text: String, printed: String) {
        #expect(IPv6(text)?.description == printed)
        #expect(IPv6(printed).flatMap { IPv6(bytes: $0.bytes) }?.description == printed, "bytes round-trip")
    }

    @Test func ipv6RejectsAndSubnets() {
        for bad in ["", ":", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "1:2:3:4:5:6:7::8", "fd00::/64"] {
            #expect(IPv6(bad) == nil, "\(bad)")
        }
        let s = Subnet6("fd12:3456:789a:1::55/64")
        #expect(s?.description == "fd12:3456:789a:1::/64")
        #expect(s?.contains(IPv6("fd12:3456:789a:1:ffff::1")!) == true && s?.contains(IPv6("fd12:3456:789a:2::1")!) == false)
        #expect(s?.last.description == "fd12:3456:789a:1:ffff:ffff:ffff:ffff")
        #expect(Subnet6("fd12::/16")?.overlaps(s!) == true && s?.overlaps(Subnet6("fd13::/16")!) == false)
        #expect(IPv6("::ffff:ffff:ffff:ffff")?.adding(1).description == "0:0:0:1::")
        // A ULA /64 from the network id, past what the host already routes.
        let id = "0123456789abcdef"
        let first = IPAM.pickSubnet6(id: id, avoiding: [])
        #expect(first?.description == "fd01:2345:6789::/64")
        #expect(IPAM.pickSubnet6(id: id, avoiding: [first!])?.description == "fd01:2345:6789:1::/64")
    }

    @Test func ipv6AddressMessage() {
        let m = Netlink.message(
            type: Netlink.RTM_NEWADDR, flags: 0x605, sequence: 1,
            header: [10, 64, 2, 0] + [5, 0, 0, 0], attributes: [.bytes(2, IPv6("fd00::1")!.bytes)])
        #expect(hex(m) == "2c000000" + "1400" + "0506" + "01000000" + "00000000" + "0a400200" + "05000000" + "1400" + "0200" + "fd000000000000000000000000000001")
    }

    @Test func dnsAnswersCarryEveryAddress() {
        // Query for "web", type A, id 0xbeef, RD.
        let q: [UInt8] = [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3] + Array("web".utf8) + [0, 0, 1, 0, 1]
        let question = DNSResponder.question(q)
        #expect(question?.name == "web" && question?.type == 1 && question?.end == q.count)
        let a = DNSResponder.answer(q, questionEnd: q.count, addresses: [IPv4("172.18.0.2")!, IPv4("172.18.0.3")!])
        #expect(Array(a[0..<12]) == [0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0])
        #expect(hex(Array(a[q.count...])) == "c00c00010001000002580004ac120002" + "c00c00010001000002580004ac120003")
        #expect(DNSResponder.hostResolvers("# x\nnameserver 10.0.0.2\nnameserver ::1\nsearch lan\n") == ["10.0.0.2"])
        // AAAA: type 28, 16 bytes of data.
        let six = DNSResponder.answer(q, questionEnd: q.count, addresses: [], addresses6: [IPv6("fd00::2")!])
        #expect(Array(six[6..<8]) == [0, 1])
        #expect(hex(Array(six[q.count...])) == "c00c001c0001000002580010" + "fd000000000000000000000000000002")
    }
}

/// rtnetlink against the kernel (root): a bridge, a veth pair on it with hairpin mode, an
/// address; all deleted again.
@Suite(.serialized) struct NetlinkKernelTests {
    static var isRoot: Bool { getuid() == 0 }

    @Test(.enabled(if: isRoot)) func bridgeVethAddressHairpin() throws {
        let nl = try Netlink()
        let tag = String(getpid() % 0xffff, radix: 16)
        let bridge = "sctb" + tag
        let veth = "sctv" + tag
        try nl.createBridge(bridge)
        defer { if let i = try? nl.linkIndex(bridge) { try? nl.deleteLink(i) } }
        try nl.createVeth(veth, peer: veth + "p")
        defer { if let i = try? nl.linkIndex(veth) { try? nl.deleteLink(i) } }
        let b = try #require(try nl.linkIndex(bridge))
        let v = try #require(try nl.linkIndex(veth))
        try nl.setLink(v, up: true, master: b)
        try nl.setHairpin(v)
        let hairpin = try String(contentsOfFile: "/sys/class/net/\(veth)/brport/hairpin_mode", encoding: .utf8)
        #expect(hairpin.hasPrefix("1"))
        try nl.addAddress(b, IPv4("198.19.250.1")!, prefix: 30)
        #expect(try nl.ipv4Addresses().contains(Subnet("198.19.250.0/30")!))
        #expect(throws: NetlinkError.self) { try nl.createBridge(bridge) }
    }
}
