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
        guard fd >= 0 else { throw NetworkError.lock(root, errno: errno) }
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
            throw NetworkError.save("network \(record.name)", cause: error)
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
            throw NetworkError.save("endpoint on \(network)", cause: error)
        }
    }

    public func removeEndpoint(_ network: String, container: String) {
        unlink(endpointsDirectory(network) + "/\(container).json")
    }

    // MARK: - Addresses

    /// A container's IPv6 address on a network (the lock must be held): see `IPAM.address6`.
    public func allocateAddress6(_ network: NetworkRecord, requested: IPv6? = nil) throws(NetworkError) -> IPv6? {
        try IPAM.address6(on: network, requested: requested, used: Set(endpoints(network.name).compactMap(\.address6)))
    }

    /// The next free address of a network for a container, or the requested one (the lock
    /// must be held). The last one handed out is kept with the network for the next time.
    public func allocateAddress(_ network: NetworkRecord, requested: IPv4? = nil) throws(NetworkError) -> IPv4 {
        let used = Set(endpoints(network.name).map(\.address))
        if let requested { return try IPAM.claim(requested, on: network, used: used) }
        let cursorFile = directory(network.name) + "/last-address"
        let last = (try? Files.read(cursorFile)).flatMap { IPv4(String(decoding: $0, as: UTF8.self)) }
        let address = try IPAM.nextAddress(on: network, used: used, after: last)
        try? Files.writeAtomically(cursorFile, Array(address.description.utf8))
        return address
    }
}
