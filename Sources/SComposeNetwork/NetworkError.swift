// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink

#if canImport(Glibc)
import Glibc
#endif

/// What went wrong with a network of this host. The descriptions keep the wording users have
/// always seen (Docker's where it has one: scripts match on it); the kernel's errno and the
/// underlying error stay available to callers that decide on them.
public enum NetworkError: Error, CustomStringConvertible {
    /// A subnet of a network's definition that is not one.
    case invalidSubnet(String, network: String)
    /// A gateway that is not an address of the network's subnet.
    case invalidGateway(String, network: String)
    /// An address range that is not one, or not in the network's subnet.
    case invalidRange(String, network: String)
    /// A requested subnet overlaps another one: `with` names it (a network or a subnet).
    case poolOverlaps(with: String)
    /// Every default IPv4 pool is taken.
    case noFreePool
    /// No unique local IPv6 /64 is left for a network.
    case noFreePool6(network: String)
    /// A requested address outside its network's subnet.
    case addressNotInSubnet(address: String, subnet: String, network: String)
    /// A requested address that another endpoint (or the gateway) has.
    case addressInUse(String)
    /// An IPv6 address requested on a network without IPv6.
    case noIPv6(address: String, network: String)
    /// Every address of a network's range is handed out.
    case exhausted(network: String, ipv6: Bool)
    /// A netlink request the kernel refused, for `network` when there is one to name.
    case kernel(NetlinkError, network: String? = nil)
    /// A bridge made a moment ago that the kernel no longer knows.
    case bridgeVanished(String)
    /// A container's bridge that is not there (removed behind our back, or a reboot).
    case bridgeMissing(String)
    /// libnftables refused a script (its error text), for `network` when there is one to name.
    case firewall(String, network: String? = nil)
    /// A system call of the host's networking failed (`errno` when the message shows it).
    case system(String, errno: Int32?)
    /// The network store's lock could not be taken.
    case lock(String, errno: Int32)
    /// A record of the network store could not be written.
    case save(String, cause: any Error)

    /// Broad classes of failure, for callers that handle a whole class alike.
    public enum Kind: Sendable, Equatable {
        /// The network's definition or an endpoint's request cannot be honoured.
        case definition
        /// An address or pool is taken, or none is left.
        case exhausted
        /// The kernel (netlink, a system call) refused.
        case kernel
        /// nftables refused.
        case firewall
        /// The state on disk could not be locked or written.
        case storage
    }

    public var kind: Kind {
        switch self {
        case .invalidSubnet, .invalidGateway, .invalidRange, .addressNotInSubnet, .noIPv6: .definition
        case .poolOverlaps, .noFreePool, .noFreePool6, .addressInUse, .exhausted: .exhausted
        case .kernel, .bridgeVanished, .bridgeMissing, .system: .kernel
        case .firewall: .firewall
        case .lock, .save: .storage
        }
    }

    /// The kernel's error number, where the failure came with one.
    public var errno: Int32? {
        switch self {
        case .kernel(let e, _): e.errno
        case .system(_, let code): code
        case .lock(_, let code): code
        default: nil
        }
    }

    /// The error this one wraps, if any.
    public var underlying: (any Error)? {
        switch self {
        case .kernel(let e, _): e
        case .save(_, let cause): cause
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .invalidSubnet(let text, let network): "invalid subnet \(text) for network \(network)"
        case .invalidGateway(let text, let network): "invalid gateway \(text) for network \(network)"
        case .invalidRange(let text, let network): "invalid ip_range \(text) for network \(network)"
        case .poolOverlaps(let other): "Pool overlaps with other one on this address space (\(other))"
        case .noFreePool: "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
        case .noFreePool6(let network): "could not find an available IPv6 address pool for network \(network)"
        case .addressNotInSubnet(let address, let subnet, let network):
            "Address \(address) does not belong to the subnet \(subnet) of network \(network)"
        case .addressInUse(let address): "Address already in use: \(address)"
        case .noIPv6(let address, let network): "Address \(address) cannot be used: network \(network) has no IPv6"
        case .exhausted(let network, let ipv6): "no available \(ipv6 ? "IPv6" : "IPv4") addresses on network \(network)"
        case .kernel(let e, let network): Self.on(network, "\(e)")
        case .bridgeVanished(let bridge): "bridge \(bridge) vanished"
        case .bridgeMissing(let bridge): "bridge \(bridge) is missing (run `up` again)"
        case .firewall(let message, let network): Self.on(network, "nftables: \(message)")
        case .system(let what, let code): code.map { "\(what): \(String(cString: strerror($0)))" } ?? what
        case .lock(let path, let code): "cannot lock \(path): \(String(cString: strerror(code)))"
        case .save(let what, let cause): "cannot save \(what): \(cause)"
        }
    }

    private static func on(_ network: String?, _ message: String) -> String {
        network.map { "network \($0): \(message)" } ?? message
    }
}
