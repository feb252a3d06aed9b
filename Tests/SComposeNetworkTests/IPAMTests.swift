// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeNetlink
import SComposeNetwork
import Testing

/// IPAM's decisions over what is taken, and endpoints recorded in a scratch store: no root.
struct IPAMTests {
    static let id = "0123456789abcdef0123456789abcdef"

    func record(_ subnet: String, name: String = "n", range: String? = nil, subnet6: String? = nil) throws -> NetworkRecord {
        let s = try #require(Subnet(subnet))
        var r = NetworkRecord(
            name: name, id: Self.id, subnet: s, gateway: IPv4(s.first.value + 1), ipRange: range.flatMap(Subnet.init),
            isInternal: false, labels: [:], options: [:])
        if let subnet6, let s6 = Subnet6(subnet6) {
            r.subnet6 = s6
            r.gateway6 = s6.first.adding(1)
        }
        return r
    }

    func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultPoolSkipsWhatIsTaken() throws {
        let existing = [try record("172.17.0.0/16", name: "a")]
        // The host's default route overlaps everything and is not counted; its /24 is.
        let host = [try #require(Subnet("0.0.0.0/0")), try #require(Subnet("172.18.3.0/24"))]
        let r = try IPAM.define(NetworkRequest(name: "p_default", id: Self.id), existing: existing, hostSubnets: host, hostSubnets6: [])
        #expect("\(r.subnet) \(r.gateway) \(r.ipRange.map { "\($0)" } ?? "-") \(r.bridge)" == "172.19.0.0/16 172.19.0.1 - scbr-0123456789")
        #expect(r.subnet6 == nil && r.driver == "bridge")
    }

    @Test func requestedPool() throws {
        let request = NetworkRequest(
            name: "p_front", id: Self.id,
            pools: [AddressPool(subnet: "10.5.0.0/16", gateway: "10.5.0.254", ipRange: "10.5.1.0/24")], isInternal: true,
            labels: ["k": "v"], options: ["com.docker.network.driver.mtu": "1400"])
        // The host's routes do not stop a requested subnet: the user chose it.
        let r = try IPAM.define(request, existing: [], hostSubnets: [try #require(Subnet("10.0.0.0/8"))], hostSubnets6: [])
        #expect("\(r.subnet) \(r.gateway) \(r.ipRange.map { "\($0)" } ?? "-")" == "10.5.0.0/16 10.5.0.254 10.5.1.0/24")
        #expect(r.isInternal && r.labels == ["k": "v"] && r.spec.mtu == 1400)
    }

    @Test(arguments: [
        (AddressPool(subnet: "10.5.0.0/33"), "invalid subnet 10.5.0.0/33 for network x"),
        (AddressPool(subnet: "172.17.128.0/20"), "Pool overlaps with other one on this address space (network a)"),
        (AddressPool(subnet: "10.5.0.0/16", gateway: "10.6.0.1"), "invalid gateway 10.6.0.1 for network x"),
        (AddressPool(subnet: "10.5.0.0/16", ipRange: "10.7.0.0/24"), "invalid ip_range 10.7.0.0/24 for network x"),
    ])
    func refusedPools(pool: AddressPool, message: String) throws {
        let existing = [try record("172.17.0.0/16", name: "a")]
        #expect(error { _ = try IPAM.define(NetworkRequest(name: "x", id: Self.id, pools: [pool]), existing: existing, hostSubnets: [], hostSubnets6: []) } == message)
    }

    @Test func poolsRunOut() throws {
        let everything = [try #require(Subnet("172.16.0.0/12")), try #require(Subnet("192.168.0.0/16"))]
        let e = error { _ = try IPAM.define(NetworkRequest(name: "x", id: Self.id), existing: [], hostSubnets: everything, hostSubnets6: []) }
        #expect(e == "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
    }

    @Test func ipv6() throws {
        let six = AddressPool(subnet: "fd00:1::/64", gateway: "fd00:1::fe")
        // Without enable_ipv6 an IPv6 pool is left unused, as Docker leaves it.
        let off = try IPAM.define(NetworkRequest(name: "x", id: Self.id, pools: [six]), existing: [], hostSubnets: [], hostSubnets6: [])
        #expect(off.subnet6 == nil && off.subnet.description == "172.17.0.0/16")
        let on = try IPAM.define(
            NetworkRequest(name: "x", id: Self.id, pools: [six, AddressPool(subnet: "10.9.0.0/24")], enableIPv6: true), existing: [],
            hostSubnets: [], hostSubnets6: [])
        #expect("\(on.subnet) \(on.subnet6.map { "\($0)" } ?? "-") \(on.gateway6.map { "\($0)" } ?? "-")" == "10.9.0.0/24 fd00:1::/64 fd00:1::fe")
        // No IPv6 pool: a unique local /64 from the id, past what the host has.
        let taken = try #require(Subnet6("fd01:2345:6789::/64"))
        let ula = try IPAM.define(NetworkRequest(name: "x", id: Self.id, enableIPv6: true), existing: [], hostSubnets: [], hostSubnets6: [taken])
        #expect("\(ula.subnet6.map { "\($0)" } ?? "-") \(ula.gateway6.map { "\($0)" } ?? "-")" == "fd01:2345:6789:1::/64 fd01:2345:6789:1::1")
        let clash = error {
            _ = try IPAM.define(
                NetworkRequest(name: "x", id: Self.id, pools: [AddressPool(subnet: "fd01:2345:6789::/48")], enableIPv6: true), existing: [],
                hostSubnets: [], hostSubnets6: [taken])
        }
        #expect(clash == "Pool overlaps with other one on this address space (fd01:2345:6789::/64)")
    }

    @Test func nextAddressGoesOnFromTheLast() throws {
        let n = try record("10.1.0.0/29")
        let used: Set<IPv4> = [try #require(IPv4("10.1.0.3"))]
        // .0 is the network, .1 the gateway, .7 broadcast.
        #expect(try IPAM.nextAddress(on: n, used: used, after: nil).description == "10.1.0.2")
        #expect(try IPAM.nextAddress(on: n, used: used, after: IPv4("10.1.0.2")).description == "10.1.0.4")
        // From the top of the range it wraps around.
        #expect(try IPAM.nextAddress(on: n, used: used, after: IPv4("10.1.0.6")).description == "10.1.0.2")
        let full = Set((2...6).map { IPv4(0x0a01_0000 + UInt32($0)) })
        #expect(error { _ = try IPAM.nextAddress(on: n, used: full, after: nil) } == "no available IPv4 addresses on network n")
        let ranged = try record("10.1.0.0/24", range: "10.1.0.128/25")
        #expect(try IPAM.nextAddress(on: ranged, used: [], after: nil).description == "10.1.0.129")
    }

    @Test func requestedAddresses() throws {
        let n = try record("10.1.0.0/24", subnet6: "fd00:9::/64")
        let taken = try #require(IPv4("10.1.0.9"))
        #expect(try IPAM.claim(try #require(IPv4("10.1.0.10")), on: n, used: [taken]).description == "10.1.0.10")
        #expect(error { _ = try IPAM.claim(taken, on: n, used: [taken]) } == "Address already in use: 10.1.0.9")
        #expect(error { _ = try IPAM.claim(n.gateway, on: n, used: []) } == "Address already in use: 10.1.0.1")
        #expect(
            error { _ = try IPAM.claim(try #require(IPv4("10.2.0.1")), on: n, used: []) }
                == "Address 10.2.0.1 does not belong to the subnet 10.1.0.0/24 of network n")
        #expect(try IPAM.address6(on: n, requested: nil, used: [])?.description == "fd00:9::2")
        #expect(try IPAM.address6(on: n, requested: IPv6("fd00:9::77"), used: [])?.description == "fd00:9::77")
        let plain = try record("10.1.0.0/24")
        #expect(try IPAM.address6(on: plain, requested: nil, used: []) == nil)
        #expect(
            error { _ = try IPAM.address6(on: plain, requested: IPv6("fd00:9::77"), used: []) }
                == "Address fd00:9::77 cannot be used: network n has no IPv6")
    }

    @Test func attachRecordsEndpointsInTheStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ipam-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let backend = BridgeBackend(store: NetworkStore(stateRoot: dir))
        var network = try record("10.1.0.0/24", name: "p_default")
        network.options["com.docker.network.driver.mtu"] = "1450"
        try backend.store.save(network)
        let request = EndpointRequest(containerID: "feedc0de00112233", containerName: "p-web-1", names: ["p-web-1", "web"], index: 1)
        let first = try backend.store.locked { try backend.attach(request, to: network) }
        #expect("\(first.endpoint.address) \(first.hostInterface) \(first.mtu.map { "\($0)" } ?? "-")" == "10.1.0.2 scvfeedc0de001 1450")
        var other = request
        other.containerID = "beef000000000000"
        // The next container gets the next address, even once the first is gone (no reuse at once).
        backend.store.removeEndpoint(network.name, container: request.containerID)
        let second = try backend.store.locked { try backend.attach(other, to: network) }
        #expect(second.endpoint.address.description == "10.1.0.3")
        #expect(backend.store.endpoints(network.name).map(\.containerID) == ["beef000000000000"])
    }
}
