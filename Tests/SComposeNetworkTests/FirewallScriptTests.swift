// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink
import SComposeNetwork
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Golden nft scripts for networks and published ports, and the wording of host errors: the
/// text libnftables is given and the text users read. No root needed.
struct FirewallScriptTests {
    func spec(closed: Bool = false, ipv6: Bool = false) throws -> NetworkSpec {
        NetworkSpec(
            name: "p_default", id: "0123456789abcdef", bridge: "scbr-0123456789", subnet: try #require(Subnet("172.30.0.0/16")),
            gateway: try #require(IPv4("172.30.0.1")), subnet6: ipv6 ? Subnet6("fd00:30::/64") : nil, isInternal: closed)
    }

    @Test func networkTable() throws {
        let n = try spec()
        #expect(Firewall.networkTable(n) == "scompose-n-0123456789ab")
        #expect(
            Firewall.networkScript(n) == """
                table ip scompose-n-0123456789ab {
                  chain forward {
                    type filter hook forward priority filter; policy accept;
                    iifname "scbr-0123456789" oifname "scbr-0123456789" accept
                    iifname "scbr-0123456789" ct status dnat accept
                    iifname "scbr-0123456789" oifname "scbr-*" drop
                    iifname "scbr-0123456789" accept
                    oifname "scbr-0123456789" ct state established,related accept
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr 172.30.0.0/16 oifname != "scbr-0123456789" masquerade
                  }
                }

                """)
        #expect(Firewall.networkScript(try spec(ipv6: true), family: .ip6).contains(#"ip6 saddr fd00:30::/64 oifname != "scbr-0123456789" masquerade"#))
    }

    @Test func internalNetworkHasNoWayOut() throws {
        #expect(
            Firewall.networkScript(try spec(closed: true)) == """
                table ip scompose-n-0123456789ab {
                  chain forward {
                    type filter hook forward priority filter; policy accept;
                    iifname "scbr-0123456789" oifname "scbr-0123456789" accept
                    iifname "scbr-0123456789" oifname "scbr-*" drop
                    iifname "scbr-0123456789" drop
                    oifname "scbr-0123456789" drop
                  }
                }

                """)
    }

    static let ports = [
        PortBinding(proto: "tcp", hostIP: nil, hostPort: 8080, containerPort: 80),
        PortBinding(proto: "udp", hostIP: "127.0.0.1", hostPort: 5353, containerPort: 53),
    ]

    @Test func publishedPorts() {
        #expect(Firewall.containerTable("c0ffee0123456789") == "scompose-p-c0ffee012345")
        #expect(
            Firewall.portsScript(container: "c0ffee0123456789", address: "172.30.0.2", ports: Self.ports) == """
                table ip scompose-p-c0ffee012345 {
                  chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    fib daddr type local tcp dport 8080 dnat to 172.30.0.2:80
                    ip daddr 127.0.0.1 udp dport 5353 dnat to 172.30.0.2:53
                  }
                  chain output {
                    type nat hook output priority -100; policy accept;
                    fib daddr type local tcp dport 8080 dnat to 172.30.0.2:80
                    ip daddr 127.0.0.1 udp dport 5353 dnat to 172.30.0.2:53
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr 127.0.0.0/8 ip daddr 172.30.0.2 masquerade
                    iifname "scbr-*" ip daddr 172.30.0.2 ct status dnat masquerade
                  }
                }

                """)
    }

    @Test func publishedPortsOnIPv6() {
        // Only ports published on every address, and never from ::1 (not routed to a bridge).
        #expect(
            Firewall.portsScript(container: "c0ffee0123456789", address: "fd00:30::2", ports: Self.ports, family: .ip6) == """
                table ip6 scompose-p-c0ffee012345 {
                  chain prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    fib daddr type local ip6 daddr != ::1 tcp dport 8080 dnat to [fd00:30::2]:80
                  }
                  chain output {
                    type nat hook output priority -100; policy accept;
                    fib daddr type local ip6 daddr != ::1 tcp dport 8080 dnat to [fd00:30::2]:80
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    iifname "scbr-*" ip6 daddr fd00:30::2 ct status dnat masquerade
                  }
                }

                """)
    }

    @Test func errorsReadAsBefore() {
        let refused = NetlinkError("create bridge scbr-0123456789", errno: EEXIST)
        let kernel = NetworkError.kernel(refused, network: "p_default")
        #expect(kernel.description == "network p_default: create bridge scbr-0123456789: File exists")
        #expect(kernel.kind == .kernel && kernel.errno == EEXIST && kernel.underlying is NetlinkError)
        #expect(NetworkError.kernel(refused).description == "create bridge scbr-0123456789: File exists")
        #expect(NetworkError.firewall("Error: syntax error").description == "nftables: Error: syntax error")
        #expect(NetworkError.firewall("Error: x", network: "p_default").description == "network p_default: nftables: Error: x")
        #expect(NetworkError.bridgeMissing("scbr-0123456789").description == "bridge scbr-0123456789 is missing (run `up` again)")
        #expect(NetworkError.bridgeVanished("scbr-0123456789").description == "bridge scbr-0123456789 vanished")
        let system = NetworkError.system("enter the container's network namespace", errno: EPERM)
        #expect(system.description == "enter the container's network namespace: Operation not permitted" && system.errno == EPERM)
        #expect(NetworkError.system("open our network namespace", errno: nil).description == "open our network namespace")
        let lock = NetworkError.lock("/var/lib/scompose/networks", errno: EACCES)
        #expect(lock.description == "cannot lock /var/lib/scompose/networks: Permission denied" && lock.kind == .storage)
        struct Full: Error, CustomStringConvertible { var description: String { "No space left on device" } }
        #expect(NetworkError.save("endpoint on p_default", cause: Full()).description == "cannot save endpoint on p_default: No space left on device")
        #expect(NetworkError.exhausted(network: "p_default", ipv6: true).description == "no available IPv6 addresses on network p_default")
        #expect(NetworkError.noFreePool6(network: "x").description == "could not find an available IPv6 address pool for network x")
        #expect(NetworkError.addressInUse("10.1.0.9").kind == .exhausted && NetworkError.invalidSubnet("x", network: "y").kind == .definition)
    }
}
