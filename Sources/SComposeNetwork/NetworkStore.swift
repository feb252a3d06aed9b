// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// A published port: host address and port to a container's address and port.
public struct PortBinding: Sendable, Codable, Equatable {
    public var proto: String
    public var hostIP: String?
    public var hostPort: UInt16
    public var containerPort: UInt16

    public init(proto: String, hostIP: String?, hostPort: UInt16, containerPort: UInt16) {
        self.proto = proto
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
    }
}

/// A bridge network, kept as `network.json` in `$SCOMPOSE_ROOT/networks/<name>/`.
public struct NetworkRecord: Sendable, Codable, Equatable {
    public var name: String
    public var id: String
    public var driver: String
    public var subnet: Subnet
    public var gateway: IPv4
    /// Addresses for containers come from here (`ipam.config.ip_range`), else the subnet.
    public var ipRange: Subnet?
    /// The Linux bridge (`scbr-` and 10 hex digits of the id).
    public var bridge: String
    public var isInternal: Bool
    public var labels: [String: String]
    public var options: [String: String]
    public var created: String
    /// With `enable_ipv6`: the IPv6 subnet, its gateway (the bridge's address) and the range
    /// containers' addresses come from.
    public var subnet6: Subnet6?
    public var gateway6: IPv6?
    public var ipRange6: Subnet6?

    public init(
        name: String, id: String, subnet: Subnet, gateway: IPv4, ipRange: Subnet?, isInternal: Bool,
        labels: [String: String], options: [String: String]
    ) {
        self.name = name
        self.id = id
        driver = "bridge"
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        bridge = "scbr-" + String(id.prefix(10))
        self.isInternal = isInternal
        self.labels = labels
        self.options = options
        created = Clock.rfc3339Now()
    }
}

/// A container's place on a network: the names others find it by.
public struct Endpoint: Sendable, Codable, Equatable {
    public var containerID: String
    public var containerName: String
    public var service: String?
    public var project: String?
    public var address: IPv4
    /// Its address on a network with IPv6.
    public var address6: IPv6?
    /// Service name, container name, aliases, hostname, short id: what resolves to `address`
    /// (and `address6`).
    public var names: [String]
    public var mac: String?

    public init(
        containerID: String, containerName: String, service: String?, project: String?, address: IPv4, names: [String],
        mac: String?
    ) {
        self.containerID = containerID
        self.containerName = containerName
        self.service = service
        self.project = project
        self.address = address
        self.names = names
        self.mac = mac
    }
}

/// Errors of networks, with Docker's wording where it has one.
public struct NetworkError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Networks and their endpoints on disk; allocation is serialized by a lock file so that
/// concurrent commands never hand out one address or subnet twice.
public struct NetworkStore: Sendable {
    public let root: String

    public init(stateRoot: String) { root = stateRoot + "/networks" }

    func directory(_ name: String) -> String { root + "/" + name }
    public func endpointsDirectory(_ name: String) -> String { root + "/" + name + "/endpoints" }

    /// Runs `body` holding the store's lock.
    public func locked<T>(_ body: () throws -> T) throws -> T {
        try? Files.makeDirectories(root)
        let fd = open(root + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NetworkError("cannot lock \(root): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    public func list() -> [NetworkRecord] {
        Files.list(root).compactMap { get($0) }.sorted { $0.name < $1.name }
    }

    public func get(_ name: String) -> NetworkRecord? {
        guard let bytes = try? Files.read(directory(name) + "/network.json") else { return nil }
        return try? StateJSONDecoder().decode(NetworkRecord.self, from: bytes)
    }

    public func save(_ record: NetworkRecord) throws {
        do {
            try Files.makeDirectories(endpointsDirectory(record.name))
            try Files.writeAtomically(directory(record.name) + "/network.json", try StateJSONEncoder().encode(record))
        } catch {
            throw NetworkError("cannot save network \(record.name): \(error)")
        }
    }

    public func remove(_ name: String) { Files.removeTree(directory(name)) }

    public func endpoints(_ name: String) -> [Endpoint] {
        let dir = endpointsDirectory(name)
        return Files.list(dir).filter { $0.hasSuffix(".json") }.compactMap {
            guard let bytes = try? Files.read(dir + "/" + $0) else { return nil }
            return try? StateJSONDecoder().decode(Endpoint.self, from: bytes)
        }
    }

    public func saveEndpoint(_ network: String, _ e: Endpoint) throws {
        do {
            try Files.makeDirectories(endpointsDirectory(network))
            try Files.writeAtomically(endpointsDirectory(network) + "/\(e.containerID).json", try StateJSONEncoder().encode(e))
        } catch {
            throw NetworkError("cannot save endpoint on \(network): \(error)")
        }
    }

    public func removeEndpoint(_ network: String, container: String) {
        unlink(endpointsDirectory(network) + "/\(container).json")
    }

    // MARK: - IPAM

    /// Docker's default pools: 172.17–31.0.0/16, then 192.168.0.0/16 in /20s.
    static var pools: [Subnet] {
        (17...31).compactMap { Subnet("172.\($0).0.0/16") } + (0..<16).compactMap { Subnet("192.168.\($0 * 16).0/20") }
    }

    /// The first pool subnet that overlaps none of `taken` (the host's addresses and routes,
    /// and every network we have).
    public static func pickSubnet(avoiding taken: [Subnet]) -> Subnet? {
        pools.first { pool in !taken.contains { $0.overlaps(pool) } }
    }

    /// What the host uses now: its addresses' subnets and its routes.
    public static func hostSubnets() -> [Subnet] {
        guard let nl = try? Netlink() else { return [] }
        let addresses = (try? nl.ipv4Addresses()) ?? []
        let routes = (try? nl.ipv4Routes()) ?? []
        return addresses + routes
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

    /// The next free IPv6 address of a network for a container (the lock must be held): from
    /// the start of its range upwards, as Docker hands them out.
    public func allocateAddress6(_ network: NetworkRecord, requested: IPv6? = nil) throws -> IPv6? {
        guard let subnet = network.subnet6 else {
            if let requested { throw NetworkError("Address \(requested) cannot be used: network \(network.name) has no IPv6") }
            return nil
        }
        let used = Set(endpoints(network.name).compactMap(\.address6))
        if let requested {
            guard subnet.contains(requested) else {
                throw NetworkError("Address \(requested) does not belong to the subnet \(subnet) of network \(network.name)")
            }
            guard !used.contains(requested), requested != network.gateway6 else {
                throw NetworkError("Address already in use: \(requested)")
            }
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
        throw NetworkError("no available IPv6 addresses on network \(network.name)")
    }

    /// The IPv6 subnets the host uses now (its addresses' and routes').
    public static func hostSubnets6() -> [Subnet6] {
        guard let nl = try? Netlink() else { return [] }
        return (try? nl.ipv6Subnets()) ?? []
    }

    /// The next free address of a network for a container (the lock must be held).
    public func allocateAddress(_ network: NetworkRecord, requested: IPv4? = nil) throws -> IPv4 {
        let used = Set(endpoints(network.name).map(\.address))
        if let requested {
            guard network.subnet.contains(requested) else {
                throw NetworkError("Address \(requested) does not belong to the subnet \(network.subnet) of network \(network.name)")
            }
            guard !used.contains(requested), requested != network.gateway else {
                throw NetworkError("Address already in use: \(requested)")
            }
            return requested
        }
        // As Docker's allocator: on from the last address handed out, wrapping around, so that a
        // recreated container gets a new address rather than its predecessor's.
        let range = network.ipRange ?? network.subnet
        let cursorFile = directory(network.name) + "/last-address"
        let last = (try? Files.read(cursorFile)).flatMap { IPv4(String(decoding: $0, as: UTF8.self)) }
        let low = range.first.value &+ 1
        let high = range.last.value &- 1
        guard high >= low else { throw NetworkError("no available IPv4 addresses on network \(network.name)") }
        var candidate = last.map { $0.value >= low && $0.value < high ? $0.value + 1 : low } ?? low
        for _ in 0...(high - low) {
            let a = IPv4(candidate)
            if a != network.gateway && !used.contains(a) && network.subnet.contains(a) {
                try? Files.writeAtomically(cursorFile, Array(a.description.utf8))
                return a
            }
            candidate = candidate >= high ? low : candidate + 1
        }
        throw NetworkError("no available IPv4 addresses on network \(network.name)")
    }
}
