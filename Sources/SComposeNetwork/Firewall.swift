// SPDX-License-Identifier: Apache-2.0
import CNftables
import SComposeNetlink

#if canImport(Glibc)
import Glibc
#endif

/// Our nftables rules, through libnftables, in tables of our own (`scompose-n-<id>` per
/// network, `scompose-p-<id>` per container with published ports): created and deleted whole,
/// never touching anyone else's tables.
public enum Firewall {
    /// Runs an nft script; the error text comes back as the failure.
    public static func run(_ script: String) throws(NetworkError) {
        guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else { throw .firewall("cannot make a context") }
        defer { nft_ctx_free(ctx) }
        _ = nft_ctx_buffer_output(ctx)
        _ = nft_ctx_buffer_error(ctx)
        if nft_run_cmd_from_buffer(ctx, script) != 0 {
            let message = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? "failed"
            throw .firewall(message.trimmedForMessage())
        }
    }

    /// The nftables families of our tables: IPv4, and IPv6 for networks with `enable_ipv6`.
    public enum Family: String, Sendable {
        case ip, ip6
        var number: UInt8 { self == .ip ? UInt8(AF_INET) : UInt8(AF_INET6) }
    }

    /// Whether one of our tables is there (asked over netlink: no nft script to parse).
    public static func tableExists(_ name: String, family: Family = .ip) -> Bool {
        if let nl = try? Netlink(protocol: Netlink.NETLINK_NETFILTER), let exists = try? nl.nftablesTableExists(name, family: family.number) {
            return exists
        }
        return (try? run("list table \(family) \(name)")) != nil
    }

    /// Deletes one of our tables, if it is there.
    public static func deleteTable(_ name: String, family: Family = .ip) {
        if tableExists(name, family: family) { try? run("delete table \(family) \(name)") }
    }

    /// A network's table.
    public static func networkTable(_ n: NetworkSpec) -> String { "scompose-n-" + String(n.id.prefix(12)) }
    /// A container's table of published ports.
    public static func containerTable(_ id: String) -> String { "scompose-p-" + String(id.prefix(12)) }

    /// The script of a network's table: masquerade for egress (none when `internal`), and the
    /// forward rules that keep it apart from other scompose networks and, when internal, from
    /// everything outside it.
    public static func networkScript(_ n: NetworkSpec, family: Family = .ip) -> String {
        let table = networkTable(n)
        var forward = ["iifname \"\(n.bridge)\" oifname \"\(n.bridge)\" accept"]
        // A published port is for everyone, containers of other networks included.
        if !n.isInternal { forward.append("iifname \"\(n.bridge)\" ct status dnat accept") }
        forward.append("iifname \"\(n.bridge)\" oifname \"scbr-*\" drop")
        if n.isInternal {
            forward += ["iifname \"\(n.bridge)\" drop", "oifname \"\(n.bridge)\" drop"]
        } else {
            forward += ["iifname \"\(n.bridge)\" accept", "oifname \"\(n.bridge)\" ct state established,related accept"]
        }
        var script = """
            table \(family) \(table) {
              chain forward {
                type filter hook forward priority filter; policy accept;
            \(forward.map { "    " + $0 }.joined(separator: "\n"))
              }

            """
        if !n.isInternal {
            script += """
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    \(family == .ip ? "ip saddr \(n.subnet)" : "ip6 saddr \(n.subnet6.map(String.init(describing:)) ?? "::/128")") oifname != "\(n.bridge)" masquerade
                  }

                """
        }
        return script + "}\n"
    }

    /// Creates (or replaces) a network's tables (the `ip6` one with IPv6).
    public static func applyNetwork(_ n: NetworkSpec) throws(NetworkError) {
        deleteTable(networkTable(n))
        deleteTable(networkTable(n), family: .ip6)
        try run(networkScript(n))
        if n.subnet6 != nil { try run(networkScript(n, family: .ip6)) }
    }

    /// The script of a container's published ports: DNAT from the host's addresses to the
    /// container; connections from the host's loopback and from containers (through the host's
    /// address, hairpin) are masqueraded so that the replies come back the way they went. In
    /// the `ip6` family (a container with IPv6), only ports published on every address, and
    /// not from ::1.
    public static func portsScript(container id: String, address: String, ports: [PortBinding], family: Family = .ip) -> String {
        var dnat: [String] = []
        for p in ports {
            let match: String
            switch p.hostIP {
            case nil, "", "0.0.0.0"?: match = "fib daddr type local"
            case let ip?: match = "ip daddr \(ip)"
            }
            if family == .ip6 {
                // Not ::1: the kernel does not route loopback sources out to a bridge, so such
                // connections are refused (the shim's IPv6 hold does not listen) and clients
                // go on to 127.0.0.1.
                guard p.hostIP == nil else { continue }
                dnat.append("\(match) ip6 daddr != ::1 \(p.proto) dport \(p.hostPort) dnat to [\(address)]:\(p.containerPort)")
            } else {
                dnat.append("\(match) \(p.proto) dport \(p.hostPort) dnat to \(address):\(p.containerPort)")
            }
        }
        let rules = dnat.map { "    " + $0 }.joined(separator: "\n")
        let loopback = family == .ip ? "\n    ip saddr 127.0.0.0/8 ip daddr \(address) masquerade" : ""
        return """
            table \(family) \(containerTable(id)) {
              chain prerouting {
                type nat hook prerouting priority dstnat; policy accept;
            \(rules)
              }
              chain output {
                type nat hook output priority -100; policy accept;
            \(rules)
              }
              chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;\(loopback)
                iifname "scbr-*" \(family) daddr \(address) ct status dnat masquerade
              }
            }

            """
    }

    /// Creates (or replaces) a container's port tables: `ip`, and `ip6` when it has an IPv6
    /// address and ports published on every address.
    public static func applyPorts(_ p: PortPublication) throws(NetworkError) {
        deletePorts(container: p.containerID)
        guard !p.ports.isEmpty else { return }
        try run(portsScript(container: p.containerID, address: p.address.description, ports: p.ports))
        if let address6 = p.address6, p.ports.contains(where: { $0.hostIP == nil }) {
            try run(portsScript(container: p.containerID, address: address6.description, ports: p.ports, family: .ip6))
        }
    }

    /// Deletes a container's port tables.
    public static func deletePorts(container id: String) {
        deleteTable(containerTable(id))
        deleteTable(containerTable(id), family: .ip6)
    }
}

extension String {
    fileprivate func trimmedForMessage() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
