// SPDX-License-Identifier: Apache-2.0
import CSpawn
import SComposeNetlink
import SComposeNetwork
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The container's network as the shim sets it up each time it starts the container, between
/// clone and the child's first step (the child waits at its gate): the shim is single-threaded,
/// so it may enter the child's network namespace to make its sockets there and come back.
final class ContainerNetworking {
    let spec: ShimNetwork
    /// Host ports held for as long as the shim lives.
    var held: [Int32] = []
    var dns: DNSResponder?

    init(spec: ShimNetwork) { self.spec = spec }

    /// Binds the published host ports (Docker's error when one is taken).
    func reservePorts() throws(SpawnError) {
        for r in spec.reservations {
            let udp = r.proto == "udp"
            let v6 = IPv6(r.hostIP)
            let fd = socket(
                v6 == nil ? AF_INET : AF_INET6, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SpawnError(step: "socket", errno: errno) }
            var yes: Int32 = 1
            let ok: Int32
            if let v6 {
                // IPv6 alone (the IPv4 port is a reservation of its own), bound without
                // SO_REUSEADDR and never listening: no one else can bind the port, and what
                // reaches it (connections to ::1, which are not forwarded) is refused at once.
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &yes, socklen_t(MemoryLayout<Int32>.size))
                var addr = sockaddr_in6()
                addr.sin6_family = sa_family_t(AF_INET6)
                addr.sin6_port = r.hostPort.bigEndian
                withUnsafeMutableBytes(of: &addr.sin6_addr) { $0.copyBytes(from: v6.bytes) }
                ok = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            } else {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = r.hostPort.bigEndian
                addr.sin_addr.s_addr = (IPv4(r.hostIP) ?? IPv4(0)).value.bigEndian
                ok = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            if ok != 0 || (!udp && v6 == nil && listen(fd, 1) != 0) {
                let e = errno
                close(fd)
                let shown = v6 == nil ? r.hostIP : "[\(r.hostIP)]"
                throw SpawnError(step: "Bind for \(shown):\(r.hostPort) failed: port is already allocated", errno: e)
            }
            held.append(fd)
        }
    }

    /// Wires the child `pid`'s fresh network namespace.
    func attach(_ pid: pid_t) throws {
        let childNS = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        guard childNS >= 0 else { throw NetworkError.system("open the container's network namespace", errno: errno) }
        defer { close(childNS) }
        try BridgeBackend.plug(
            spec.interfaces.map { VethLink(hostName: $0.hostName, bridge: $0.bridge, mtu: $0.mtu) }, namespace: childNS)
        // Sockets of the child's namespace: made there, used from here.
        let ownNS = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        guard ownNS >= 0 else { throw NetworkError.system("open our network namespace", errno: nil) }
        defer { close(ownNS) }
        guard sc_setns_net(childNS) == 0 else { throw NetworkError.system("enter the container's network namespace", errno: errno) }
        var inner: Netlink?
        var server: Int32 = -1
        var tcpServer: Int32 = -1
        var failure: Error?
        do {
            let nl = try Netlink()
            try nl.setLink(1, up: true)  // lo: 127.0.0.11 must exist before the server binds it
            inner = nl
            if !spec.dnsNetworks.isEmpty {
                server = DNSResponder.bindServer()
                tcpServer = DNSResponder.bindServer(tcp: true)
            }
        } catch {
            failure = error
        }
        guard sc_setns_net(ownNS) == 0 else {
            // Staying in the container's namespace would be worse than stopping.
            _exit(70)
        }
        if let failure { throw failure }
        guard let inner else { return }
        for (i, iface) in spec.interfaces.enumerated() {
            guard let index = try inner.linkIndex("eth\(i)"), let address = IPv4(iface.address) else { continue }
            if let mac = iface.mac.flatMap(Self.mac) { try inner.setLink(index, mac: mac) }
            try inner.addAddress(index, address, prefix: iface.prefix)
            let address6 = iface.address6.flatMap(IPv6.init)
            if let address6, let prefix6 = iface.prefix6 { try inner.addAddress(index, address6, prefix: prefix6) }
            try inner.setLink(index, up: true)
            if i == 0, let gw = spec.gateway.flatMap(IPv4.init) { try inner.addDefaultRoute(via: gw, index: index) }
            if let address6, let prefix6 = iface.prefix6, let gw6 = spec.gateway6.flatMap(IPv6.init),
                Subnet6(address6, prefix: prefix6).contains(gw6)
            {
                try inner.addDefaultRoute(via: gw6, index: index)
            }
        }
        if server >= 0 {
            dns = DNSResponder(
                server: server, tcpServer: tcpServer, store: NetworkStore(stateRoot: spec.stateRoot), networks: spec.dnsNetworks,
                resolvers: spec.resolvers)
        } else if tcpServer >= 0 {
            close(tcpServer)
        }
    }

    static func mac(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        return parts.count == 6 ? parts : nil
    }
}
