// SPDX-License-Identifier: Apache-2.0

/// What the host needs of a network to make its kernel side: addresses, isolation, driver
/// options; nothing of who asked for it or why.
public struct NetworkSpec: Sendable, Equatable {
    public var name: String
    /// Its identity (hex): names its nftables tables.
    public var id: String
    /// The Linux bridge.
    public var bridge: String
    public var subnet: Subnet
    public var gateway: IPv4
    /// With IPv6: its subnet and gateway (the bridge's address).
    public var subnet6: Subnet6?
    public var gateway6: IPv6?
    /// No way out: no masquerade, no forwarding beyond its own bridge.
    public var isInternal: Bool
    /// Driver options (`com.docker.network.driver.mtu`, …).
    public var options: [String: String]

    public init(
        name: String, id: String, bridge: String, subnet: Subnet, gateway: IPv4, subnet6: Subnet6? = nil, gateway6: IPv6? = nil,
        isInternal: Bool = false, options: [String: String] = [:]
    ) {
        self.name = name
        self.id = id
        self.bridge = bridge
        self.subnet = subnet
        self.gateway = gateway
        self.subnet6 = subnet6
        self.gateway6 = gateway6
        self.isInternal = isInternal
        self.options = options
    }

    /// The MTU of its links, from the driver option Docker reads it from.
    public var mtu: UInt32? { options["com.docker.network.driver.mtu"].flatMap { UInt32($0) } }
}

extension NetworkRecord {
    /// The host's view of this network.
    public var spec: NetworkSpec {
        NetworkSpec(
            name: name, id: id, bridge: bridge, subnet: subnet, gateway: gateway, subnet6: subnet6, gateway6: gateway6,
            isInternal: isInternal, options: options)
    }
}

/// A container asking for its place on a network.
public struct EndpointRequest: Sendable, Equatable {
    public var containerID: String
    public var containerName: String
    /// What others find it by (DNS), and its group for round-robin answers.
    public var names: [String]
    public var service: String?
    public var project: String?
    /// Addresses asked for; none: the next free ones.
    public var address: IPv4?
    public var address6: IPv6?
    public var mac: String?
    /// Its place among the container's networks (0 first): names its host-side link.
    public var index: Int

    public init(
        containerID: String, containerName: String, names: [String], service: String? = nil, project: String? = nil,
        address: IPv4? = nil, address6: IPv6? = nil, mac: String? = nil, index: Int = 0
    ) {
        self.containerID = containerID
        self.containerName = containerName
        self.names = names
        self.service = service
        self.project = project
        self.address = address
        self.address6 = address6
        self.mac = mac
        self.index = index
    }
}

/// A container's endpoint on a network, and the link that will carry it.
public struct Attachment: Sendable, Equatable {
    public var network: NetworkRecord
    /// As saved (DNS answers from it).
    public var endpoint: Endpoint
    /// The host end of its link (at most 15 bytes); the container's end is `eth<index>`.
    public var hostInterface: String
    public var mtu: UInt32?
}

/// A container's published ports: from the host's addresses to the container's.
public struct PortPublication: Sendable, Equatable {
    public var containerID: String
    public var address: IPv4
    /// With IPv6, ports published on every address answer on the host's IPv6 addresses too.
    public var address6: IPv6?
    public var ports: [PortBinding]

    public init(containerID: String, address: IPv4, address6: IPv6? = nil, ports: [PortBinding]) {
        self.containerID = containerID
        self.address = address
        self.address6 = address6
        self.ports = ports
    }
}

/// A way of giving containers networks on this host. The bridge backend (root: bridges, veths
/// and nftables in the host's namespace) is the one there is; a rootless one (a user-owned
/// namespace reached through pasta) would sit beside it with the same steps. Errors are
/// `NetworkError`s, but for the caller's own errors thrown through `define`'s callback.
public protocol NetworkBackend: Sendable {
    /// Where networks and endpoints are recorded.
    var store: NetworkStore { get }

    /// Records a new network with its addresses, unless a concurrent command recorded one of
    /// that name first (then that one): `willCreate` runs only when this call makes it.
    func define(_ request: NetworkRequest, willCreate: () -> Void) throws -> NetworkRecord

    /// Makes the kernel side of a network exist (again after a reboot wiped it); idempotent.
    func realize(_ network: NetworkSpec) throws

    /// Gives a container its addresses on a network and records its endpoint. The store's
    /// lock must be held, so that one container's networks are allocated together.
    func attach(_ request: EndpointRequest, to network: NetworkRecord) throws -> Attachment

    /// Publishes a container's ports (replacing what it published before).
    func publish(_ ports: PortPublication) throws

    /// Whether a container's published ports are in place.
    func isPublished(container id: String) -> Bool

    /// Takes a container's published ports away.
    func unpublish(container id: String)

    /// Everything a container had of its networks: endpoints, ports, host-side links.
    func release(container id: String)

    /// Deletes a network's kernel side and its record.
    func remove(_ network: NetworkRecord) throws
}
