// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink

/// One `ipam.config` entry: a subnet with, optionally, its gateway and the range containers'
/// addresses come from (as text: checking it is IPAM's job).
public struct AddressPool: Sendable, Equatable {
    public var subnet: String?
    public var gateway: String?
    public var ipRange: String?

    public init(subnet: String? = nil, gateway: String? = nil, ipRange: String? = nil) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
    }
}

/// What a new network is asked to be, before IPAM gives it its addresses.
public struct NetworkRequest: Sendable, Equatable {
    public var name: String
    /// Its identity (hex), which also names its bridge and nftables tables.
    public var id: String
    /// Requested pools; a pool is IPv6 when its subnet is, and the first of each family counts.
    public var pools: [AddressPool]
    public var enableIPv6: Bool
    public var isInternal: Bool
    public var labels: [String: String]
    /// Driver options (`com.docker.network.driver.mtu`, …), kept with the record.
    public var options: [String: String]

    public init(
        name: String, id: String, pools: [AddressPool] = [], enableIPv6: Bool = false, isInternal: Bool = false,
        labels: [String: String] = [:], options: [String: String] = [:]
    ) {
        self.name = name
        self.id = id
        self.pools = pools
        self.enableIPv6 = enableIPv6
        self.isInternal = isInternal
        self.labels = labels
        self.options = options
    }
}

/// Address management: the subnets of new networks and the addresses of endpoints. Pure
/// decisions over what is taken; the callers read the host and the store and hold its lock.
public enum IPAM {
    /// Docker's default pools: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s.
    static var pools: [Subnet] {
        (17...31).compactMap { Subnet("172.\($0).0.0/16") } + (0..<16).compactMap { Subnet("192.168.\($0 * 16).0/20") }
    }

    /// The first pool subnet that overlaps none of `taken` (the host's addresses and routes,
    /// and every network we have).
    public static func pickSubnet(avoiding taken: [Subnet]) -> Subnet? {
        pools.first { pool in !taken.contains { $0.overlaps(pool) } }
    }

    /// A unique local /64 for an IPv6 network without a subnet of its own (as Docker gives
    /// one): `fd` and 40 bits of the network's id, the first /64 of that /48 that overlaps
    /// nothing in `taken`.
    public static func pickSubnet6(id: String, avoiding taken: [Subnet6]) -> Subnet6? {
        let bits = UInt64(id.prefix(10), radix: 16) ?? UInt64.random(in: 0..<(1 << 40))
        for n in UInt64(0)..<256 {
            let candidate = Subnet6(IPv6(high: 0xfd00 << 48 | (bits & 0xff_ffff_ffff) << 16 | n, low: 0), prefix: 64)
            if !taken.contains(where: { $0.overlaps(candidate) }) { return candidate }
        }
        return nil
    }

    /// The record of a new network: its subnet (requested, or the first free default pool),
    /// gateway and range, and with `enableIPv6` the same for IPv6. `existing` are the networks
    /// we have; `hostSubnets` and `hostSubnets6` what the host's addresses and routes use.
    public static func define(
        _ request: NetworkRequest, existing: [NetworkRecord], hostSubnets: [Subnet], hostSubnets6: [Subnet6]
    ) throws(NetworkError) -> NetworkRecord {
        var taken = hostSubnets + existing.map(\.subnet)
        // A default route overlaps every pool: it says nothing about which are in use.
        taken.removeAll { $0.prefix == 0 }
        let pool = request.pools.first { $0.subnet.map { Subnet6($0) == nil } ?? true }
        let pool6 = request.pools.first { $0.subnet.map { Subnet6($0) != nil } ?? false }
        let subnet: Subnet
        if let text = pool?.subnet {
            guard let s = Subnet(text) else { throw .invalidSubnet(text, network: request.name) }
            // A requested subnet may overlap the host's routes (the user knows best), not ours.
            if let clash = existing.first(where: { $0.subnet.overlaps(s) }) { throw .poolOverlaps(with: "network \(clash.name)") }
            subnet = s
        } else {
            guard let s = pickSubnet(avoiding: taken) else { throw .noFreePool }
            subnet = s
        }
        var gateway = IPv4(subnet.first.value &+ 1)
        if let text = pool?.gateway {
            guard let g = IPv4(text), subnet.contains(g) else { throw .invalidGateway(text, network: request.name) }
            gateway = g
        }
        var range: Subnet?
        if let text = pool?.ipRange {
            guard let r = Subnet(text), subnet.contains(r.first) else { throw .invalidRange(text, network: request.name) }
            range = r
        }
        var record = NetworkRecord(
            name: request.name, id: request.id, subnet: subnet, gateway: gateway, ipRange: range, isInternal: request.isInternal,
            labels: request.labels, options: request.options)
        // Without `enable_ipv6` an IPv6 pool is left unused, as Docker leaves it.
        if request.enableIPv6 {
            try plan6(&record, pool: pool6, taken: hostSubnets6 + existing.compactMap(\.subnet6))
        }
        return record
    }

    /// The IPv6 half of a new network: the pool's subnet, gateway and range, or a unique local
    /// /64 of its own.
    static func plan6(_ r: inout NetworkRecord, pool: AddressPool?, taken: [Subnet6]) throws(NetworkError) {
        let subnet: Subnet6
        if let text = pool?.subnet {
            guard let s = Subnet6(text), s.prefix <= 124 else { throw .invalidSubnet(text, network: r.name) }
            if let clash = taken.first(where: { $0.overlaps(s) }) { throw .poolOverlaps(with: "\(clash)") }
            subnet = s
        } else {
            guard let s = pickSubnet6(id: r.id, avoiding: taken) else { throw .noFreePool6(network: r.name) }
            subnet = s
        }
        r.subnet6 = subnet
        r.gateway6 = subnet.first.adding(1)
        if let text = pool?.gateway {
            guard let g = IPv6(text), subnet.contains(g) else { throw .invalidGateway(text, network: r.name) }
            r.gateway6 = g
        }
        if let text = pool?.ipRange {
            guard let range = Subnet6(text), subnet.contains(range.first) else { throw .invalidRange(text, network: r.name) }
            r.ipRange6 = range
        }
    }

    /// A requested IPv4 address, if the network can give it.
    public static func claim(_ requested: IPv4, on network: NetworkRecord, used: Set<IPv4>) throws(NetworkError) -> IPv4 {
        guard network.subnet.contains(requested) else {
            throw .addressNotInSubnet(address: "\(requested)", subnet: "\(network.subnet)", network: network.name)
        }
        guard !used.contains(requested), requested != network.gateway else { throw .addressInUse("\(requested)") }
        return requested
    }

    /// The next free IPv4 address of a network. As Docker's allocator: on from `last` (the
    /// last one handed out), wrapping around, so that a recreated container gets a new address
    /// rather than its predecessor's (whose peers may still have it cached).
    public static func nextAddress(on network: NetworkRecord, used: Set<IPv4>, after last: IPv4?) throws(NetworkError) -> IPv4 {
        let range = network.ipRange ?? network.subnet
        let low = range.first.value &+ 1
        let high = range.last.value &- 1
        guard high >= low else { throw .exhausted(network: network.name, ipv6: false) }
        var candidate = last.map { $0.value >= low && $0.value < high ? $0.value + 1 : low } ?? low
        for _ in 0...(high - low) {
            let a = IPv4(candidate)
            if a != network.gateway && !used.contains(a) && network.subnet.contains(a) { return a }
            candidate = candidate >= high ? low : candidate + 1
        }
        throw .exhausted(network: network.name, ipv6: false)
    }

    /// A container's IPv6 address on a network: the requested one, else the first free one of
    /// its range, as Docker hands them out; none on a network without IPv6.
    public static func address6(on network: NetworkRecord, requested: IPv6?, used: Set<IPv6>) throws(NetworkError) -> IPv6? {
        guard let subnet = network.subnet6 else {
            if let requested { throw .noIPv6(address: "\(requested)", network: network.name) }
            return nil
        }
        if let requested {
            guard subnet.contains(requested) else {
                throw .addressNotInSubnet(address: "\(requested)", subnet: "\(subnet)", network: network.name)
            }
            guard !used.contains(requested), requested != network.gateway6 else { throw .addressInUse("\(requested)") }
            return requested
        }
        let range = network.ipRange6 ?? subnet
        var candidate = range.first.adding(1)
        // Bounded: a /64 has more addresses than any machine has containers.
        for _ in 0..<min(range.size, 1 << 20) {
            if candidate != network.gateway6 && !used.contains(candidate) && subnet.contains(candidate) && candidate != range.last {
                return candidate
            }
            candidate = candidate.adding(1)
        }
        throw .exhausted(network: network.name, ipv6: true)
    }
}
