// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The host end of one of a container's links: a veth on a bridge.
public struct VethLink: Sendable, Equatable {
    /// At most 15 bytes (`BridgeBackend.hostInterfacePrefix` and the link's number).
    public var hostName: String
    public var bridge: String
    public var mtu: UInt32?

    public init(hostName: String, bridge: String, mtu: UInt32?) {
        self.hostName = hostName
        self.bridge = bridge
        self.mtu = mtu
    }
}

/// Networks as Linux bridges in the host's namespace (root): a bridge per network with the
/// gateway's address, a veth per endpoint (plugged by the container's shim), our own nftables
/// tables for egress, isolation and published ports.
public struct BridgeBackend: NetworkBackend {
    public let store: NetworkStore

    public init(store: NetworkStore) { self.store = store }

    public func define(_ request: NetworkRequest, willCreate: () -> Void) throws -> NetworkRecord {
        try store.locked {
            if let raced = store.get(request.name) { return raced }
            willCreate()
            let existing = store.list()
            let record = try IPAM.define(
                request, existing: existing, hostSubnets: Self.hostSubnets(),
                hostSubnets6: request.enableIPv6 ? Self.hostSubnets6() : [])
            try store.save(record)
            return record
        }
    }

    public func realize(_ n: NetworkSpec) throws {
        do {
            let nl = try Netlink()
            if try nl.linkIndex(n.bridge) == nil {
                try nl.createBridge(n.bridge, mtu: n.mtu)
                guard let index = try nl.linkIndex(n.bridge) else { throw NetworkError.bridgeVanished(n.bridge) }
                try nl.addAddress(index, n.gateway, prefix: n.subnet.prefix)
                if let subnet6 = n.subnet6, let gateway6 = n.gateway6 {
                    Self.sysctl("net/ipv6/conf/\(n.bridge)/disable_ipv6", "0")
                    try nl.addAddress(index, gateway6, prefix: subnet6.prefix)
                }
                try nl.setLink(index, up: true)
            }
        } catch let e as NetlinkError {
            throw NetworkError.kernel(e, network: n.name)
        }
        if n.subnet6 != nil {
            // As Docker does for IPv6 networks; hosts that take router advertisements on an
            // interface with `accept_ra=1` stop taking them (`accept_ra=2` keeps them).
            Self.sysctl("net/ipv6/conf/all/forwarding", "1")
        }
        let table = Firewall.networkTable(n)
        if !Firewall.tableExists(table) || (n.subnet6 != nil && !Firewall.tableExists(table, family: .ip6)) {
            do {
                try Firewall.applyNetwork(n)
            } catch {
                throw Self.naming(error, network: n.name)
            }
        }
        Self.sysctl("net/ipv4/ip_forward", "1")
        // Published ports answer on 127.0.0.1 too: DNAT'd loopback traffic must route to the bridge.
        Self.sysctl("net/ipv4/conf/\(n.bridge)/route_localnet", "1")
    }

    public func attach(_ request: EndpointRequest, to network: NetworkRecord) throws -> Attachment {
        let address = try store.allocateAddress(network, requested: request.address)
        let address6 = try store.allocateAddress6(network, requested: request.address6)
        var endpoint = Endpoint(
            containerID: request.containerID, containerName: request.containerName, service: request.service,
            project: request.project, address: address, names: request.names, mac: request.mac)
        endpoint.address6 = address6
        try store.saveEndpoint(network.name, endpoint)
        return Attachment(
            network: network, endpoint: endpoint,
            hostInterface: Self.hostInterfacePrefix(request.containerID) + String(request.index, radix: 16), mtu: network.spec.mtu)
    }

    public func publish(_ ports: PortPublication) throws { try Firewall.applyPorts(ports) }

    public func isPublished(container id: String) -> Bool { Firewall.tableExists(Firewall.containerTable(id)) }

    public func unpublish(container id: String) { Firewall.deletePorts(container: id) }

    public func release(container id: String) {
        for n in store.list() { store.removeEndpoint(n.name, container: id) }
        Firewall.deletePorts(container: id)
        // The kernel tears a dead namespace's veths down in the background, some time after
        // its last process; deleting the host ends here means `rm` and `down` return with
        // the links gone.
        let prefix = Self.hostInterfacePrefix(id)
        if let nl = try? Netlink(), let links = try? nl.links() {
            for (index, name) in links where name.hasPrefix(prefix) { try? nl.deleteLink(index) }
        }
    }

    public func remove(_ record: NetworkRecord) throws {
        // The record goes only once the bridge is gone: a bridge without a record would stay
        // on the machine with nothing to name it.
        do {
            let nl = try Netlink()
            if let index = try nl.linkIndex(record.bridge) {
                do {
                    try nl.deleteLink(index)
                } catch where error.errno == ENODEV {
                    // Removed meanwhile.
                }
            }
        } catch {
            throw NetworkError.kernel(error, network: record.name)
        }
        let table = Firewall.networkTable(record.spec)
        Firewall.deleteTable(table)
        Firewall.deleteTable(table, family: .ip6)
        store.remove(record.name)
    }

    /// Plugs a container's network namespace (`namespace`, an open descriptor) into its
    /// bridges, as its shim starts it: per link a veth pair whose peer is `eth<i>` inside,
    /// the host end up on the bridge.
    public static func plug(_ links: [VethLink], namespace: Int32) throws {
        do {
            let host = try Netlink()
            for (i, link) in links.enumerated() {
                // A veth of an earlier run may not be gone yet.
                if let stale = try host.linkIndex(link.hostName) { try? host.deleteLink(stale) }
                try host.createVeth(link.hostName, peer: "eth\(i)", peerNamespace: namespace, mtu: link.mtu)
                guard let index = try host.linkIndex(link.hostName), let bridge = try host.linkIndex(link.bridge) else {
                    throw NetworkError.bridgeMissing(link.bridge)
                }
                try host.setLink(index, up: true, master: bridge)
                // Hairpin: a container reaching a published port of its own comes back in
                // through the port it left by.
                try? host.setHairpin(index)
            }
        } catch let e as NetlinkError {
            throw NetworkError.kernel(e)
        }
    }

    /// The start of the host-side names of a container's veths (`scv` + ten digits of its id +
    /// the attachment's number): short enough for the kernel's 15 characters.
    public static func hostInterfacePrefix(_ containerID: String) -> String { "scv" + String(containerID.prefix(10)) }

    /// What the host uses now: its addresses' subnets and its routes.
    public static func hostSubnets() -> [Subnet] {
        guard let nl = try? Netlink() else { return [] }
        let addresses = (try? nl.ipv4Addresses()) ?? []
        let routes = (try? nl.ipv4Routes()) ?? []
        return addresses + routes
    }

    /// The IPv6 subnets the host uses now (its addresses' and routes').
    public static func hostSubnets6() -> [Subnet6] {
        guard let nl = try? Netlink() else { return [] }
        return (try? nl.ipv6Subnets()) ?? []
    }

    /// A firewall error as part of a network's setup: it names the network.
    static func naming(_ error: NetworkError, network: String) -> NetworkError {
        guard case .firewall(let message, nil) = error else { return error }
        return .firewall(message, network: network)
    }

    /// Writes a sysctl (`net/ipv4/ip_forward` style path below /proc/sys). Best effort: a
    /// read-only /proc/sys leaves what the host has, which may well be enough.
    static func sysctl(_ path: String, _ value: String) {
        let fd = open("/proc/sys/" + path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
