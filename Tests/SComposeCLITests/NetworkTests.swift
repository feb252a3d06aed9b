// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// Networks for real (root, bridges, veths, nftables) under a temporary SCOMPOSE_ROOT: names
/// and aliases through the embedded DNS, replicas, isolation between networks, internal
/// networks, egress through NAT to an "outside" host (a network namespace made by the test
/// with `ip`), published ports from the host; `down` leaves no bridge, veth, table or endpoint.
@Suite(.serialized) struct NetworkTests {
    static var canRun: Bool {
        ComposeRunTests.canRun && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            || ComposeRunTests.canRun && FileManager.default.isExecutableFile(atPath: "/sbin/ip")
    }
    typealias Project = RuntimeBehaviourTests.Project

    static func sh(_ script: String) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try? p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// An HTTP GET by address with busybox's nc (its static wget cannot take a numeric host in
    /// an image without NSS libraries).
    static func fetch(_ ip: String, _ port: Int) -> String {
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \(ip) \(port) 2>/dev/null"
    }

    /// Bridges, veths and tables of ours that exist now.
    static func ourKernelObjects() -> String {
        let links = sh("ip -o link show | grep -oE '(scbr-|scv)[0-9a-f]+' | sort -u").1
        let tables = sh("nft list tables 2>/dev/null | grep scompose").1
        return links + tables
    }

    /// The names of the bridges, veths and tables a sandbox's project made (from its state
    /// files): other suites running at the same time make and remove their own meanwhile.
    static func kernelNames(of s: ImageCommandTests.Sandbox) -> [String] {
        var names: [String] = []
        let fm = FileManager.default
        for id in (try? fm.contentsOfDirectory(atPath: s.root + "/containers")) ?? [] where id.count == 64 {
            names += ["scv" + id.prefix(10), "scompose-p-" + id.prefix(12)]
        }
        for net in (try? fm.contentsOfDirectory(atPath: s.root + "/networks")) ?? [] {
            guard let text = try? String(contentsOfFile: s.root + "/networks/\(net)/network.json", encoding: .utf8),
                let data = text.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let bridge = object["bridge"] as? String, let id = object["id"] as? String
            else { continue }
            names += [bridge, "scompose-n-" + id.prefix(12)]
        }
        return names
    }

    /// Downs the project and checks that none of its kernel objects is left.
    static func downAndCheckKernel(_ p: RuntimeBehaviourTests.Project) throws {
        let names = kernelNames(of: p.s)
        #expect(!names.isEmpty)
        try p.downAndCheckClean()
        let left = ourKernelObjects()
        for name in names { #expect(!left.contains(name), "\(name) is left") }
    }

    /// A network namespace with an HTTP server, reachable from the host over a veth pair: an
    /// outside host for egress tests. Removed by `close()`.
    final class OutsideHost {
        let ns: String
        let hostIP: String
        let peerIP: String
        let hostLink: String
        var server: Int32 = 0

        init(dir: String) throws {
            let tag = String(getpid() % 60000, radix: 16)
            ns = "sctest" + tag
            hostLink = "sco" + tag
            // A /30 from the benchmarking range, checked against the host's routes.
            var third = Int(getpid() % 200) + 20
            let routes = NetworkTests.sh("ip -4 route").1
            while routes.contains("198.18.\(third).") { third += 1 }
            hostIP = "198.18.\(third).1"
            peerIP = "198.18.\(third).2"
            try FileManager.default.createDirectory(atPath: dir + "/outside", withIntermediateDirectories: true)
            try "outside world\n".write(toFile: dir + "/outside/index.html", atomically: true, encoding: .utf8)
            let setup = """
                set -e
                ip netns add \(ns)
                ip link add \(hostLink) type veth peer name eth0 netns \(ns)
                ip addr add \(hostIP)/30 dev \(hostLink)
                ip link set \(hostLink) up
                ip netns exec \(ns) ip addr add \(peerIP)/30 dev eth0
                ip netns exec \(ns) ip link set eth0 up
                ip netns exec \(ns) ip link set lo up
                """
            let r = NetworkTests.sh(setup)
            guard r.0 == 0 else {
                close()
                throw NSError(domain: "outside", code: Int(r.0), userInfo: [NSLocalizedDescriptionKey: r.1])
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, "/bin/busybox", "httpd", "-f", "-p", "\(peerIP):8080", "-h", dir + "/outside"]
            try p.run()
            server = p.processIdentifier
            usleep(200_000)
        }

        func close() {
            if server > 0 {
                kill(server, SIGKILL)
                var status: Int32 = 0
                waitpid(server, &status, 0)
            }
            _ = NetworkTests.sh("ip link del \(hostLink) 2>/dev/null; ip netns del \(ns) 2>/dev/null")
        }
    }

    @Test(.enabled(if: canRun)) func namesAliasesReplicasRecreateAndPorts() throws {
        let p = try Project(
            """
            services:
              web:
                image: busybox
                command: sh -c 'echo "served by $$(hostname)" > /tmp/index.html; httpd -f -p 80 -h /tmp'
                stop_grace_period: 1s
                ports: ["127.0.0.1:18081:80", "80"]
                networks:
                  default:
                    aliases: [site]
              pool:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                deploy: {replicas: 3}
              client:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
            """)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.err.contains("Network \(p.name)_default  Created"))
        func client(_ script: String) throws -> String { try p.run(["exec", "-T", "client", "sh", "-c", script]).out }
        #expect(try p.waitFor("served by", ["exec", "-T", "client", "timeout", "5", "wget", "-qO-", "http://web/"]).hasPrefix("served by"))
        #expect(try client("timeout 5 wget -qO- http://site/").hasPrefix("served by"), "the alias resolves")
        #expect(try client("timeout 5 wget -qO- http://\(p.name)-web-1/").hasPrefix("served by"), "the container name resolves")
        let pool = try client("nslookup pool 127.0.0.11 | grep -c '^Address: 172\\|^Address: 192'")
        #expect(pool.trimmingCharacters(in: .whitespacesAndNewlines) == "3", "the service name gives every replica: \(pool)")
        // Published ports answer from the host: the fixed one on 127.0.0.1, the random one on any address.
        #expect(Self.sh("timeout 5 busybox wget -qO- http://127.0.0.1:18081/").1.hasPrefix("served by"))
        let random = try p.run(["port", "web", "80"]).out
        #expect(random.hasPrefix("127.0.0.1:18081"), "the first binding of 80: \(random)")
        let ps = try p.run(["ps", "web"]).out
        #expect(ps.contains("127.0.0.1:18081->80/tcp"), "\(ps)")
        let randomPort = ps.split(separator: " ").first { $0.hasPrefix("0.0.0.0:") }.flatMap { $0.split(separator: ":").last }
            .flatMap { $0.split(separator: "-").first }
        #expect(randomPort != nil, "\(ps)")
        if let randomPort {
            #expect(Self.sh("timeout 5 busybox wget -qO- http://127.0.0.1:\(randomPort)/").1.hasPrefix("served by"))
            let external = Self.sh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").1
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if !external.isEmpty {
                #expect(Self.sh("timeout 5 busybox wget -qO- http://\(external):\(randomPort)/").1.hasPrefix("served by"), "the host's own address")
                #expect(
                    try client("timeout 5 wget -qO- http://\(external):\(randomPort)/").hasPrefix("served by"),
                    "another container, through the host's address")
            }
        }
        // A taken host port is a clear error.
        let clash = try Project("services:\n  other:\n    image: busybox\n    command: sleep 1\n    ports: [\"127.0.0.1:18081:80\"]\n")
        // Two projects side by side get distinct subnets.
        let refused = try clash.run(["up", "-d"])
        let mine = try p.s.run(["network", "inspect", "\(p.name)_default"]).out
        let theirs = try clash.s.run(["network", "inspect", "\(clash.name)_default"]).out
        let subnet = { (text: String) in text.split(separator: "\n").first { $0.contains("\"Subnet\"") } }
        #expect(subnet(mine) != nil && subnet(mine) != subnet(theirs), "\(String(describing: subnet(mine))) \(String(describing: subnet(theirs)))")
        #expect(refused.status != 0)
        #expect(refused.err.contains("127.0.0.1:18081") && refused.err.contains("port is already allocated"), "\(refused.err)")
        try clash.downAndCheckClean()
        // After a recreate (a new address), the name follows.
        let lookup = "nslookup web 127.0.0.11 | awk '/^Address: / {print $2}' | tail -1"
        let old = try client(lookup)
        #expect(try p.run(["up", "-d", "--force-recreate", "web"]).status == 0)
        #expect(try p.waitFor("served by", ["exec", "-T", "client", "timeout", "5", "wget", "-qO-", "http://web/"]).hasPrefix("served by"))
        let new = try client(lookup)
        #expect(!old.isEmpty && !new.isEmpty && old != new, "recreated web has a new address: \(old) / \(new)")
        try Self.downAndCheckKernel(p)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: p.s.root + "/networks")) ?? []).filter { !$0.hasPrefix(".") }.isEmpty)
    }

    @Test(.enabled(if: canRun)) func isolationInternalAndEgressThroughNAT() throws {
        let p = try Project(
            """
            services:
              front:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                networks: [a]
              back:
                image: busybox
                command: sh -c 'echo back > /tmp/index.html; httpd -f -p 80 -h /tmp'
                stop_grace_period: 1s
                networks: [b]
                ports: ["18093:80"]
              both:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                networks: [a, b]
              sealed:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                networks: [inside]
              sidecar:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                network_mode: service:back
              named:
                image: busybox
                command: sleep 1000
                stop_grace_period: 1s
                hostname: db
                domainname: example.org
                mac_address: 02:42:ac:11:00:99
                extra_hosts: ["gateway.local:host-gateway", "static.local=10.9.8.7"]
                dns_search: [example.org]
                networks: [a]
            networks:
              a: {}
              b: {}
              inside: {internal: true}
            """)
        let outside = try OutsideHost(dir: p.s.dir)
        defer { outside.close() }
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        func exec(_ service: String, _ script: String) throws -> ImageCommandTests.Run {
            try p.run(["exec", "-T", service, "sh", "-c", script])
        }
        #expect(try p.waitFor("back", ["exec", "-T", "both", "timeout", "5", "wget", "-qO-", "http://back/"]) == "back\n", "a service on both reaches back")
        let backIP = try exec("both", "nslookup back 127.0.0.11 | awk '/^Address: / {print $2}' | tail -1").out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!backIP.isEmpty)
        #expect(try exec("front", "nslookup back 127.0.0.11 >/dev/null 2>&1 && echo found || echo unknown").out == "unknown\n", "names of other networks do not resolve")
        #expect(try exec("front", Self.fetch(backIP, 80) + " | grep -q back && echo reached || echo blocked").out == "blocked\n", "nor are their addresses reachable")
        // A published port is reachable from a container of another network, through the host.
        let hostIP = Self.sh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").1
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if !hostIP.isEmpty {
            #expect(try exec("front", "timeout 5 wget -qO- http://\(hostIP):18093/").out == "back\n")
        }
        // Egress through NAT to the outside host, but not from an internal network.
        let egress = try exec("front", Self.fetch(outside.peerIP, 8080))
        #expect(egress.out.hasSuffix("outside world\n"), "\(egress.out) \(egress.err)")
        #expect(try exec("sealed", Self.fetch(outside.peerIP, 8080) + " | grep -q outside && echo reached || echo blocked").out == "blocked\n")
        // network_mode service:X shares X's namespace; hostname, mac, extra_hosts, dns_search.
        #expect(try exec("sidecar", "timeout 5 wget -qO- http://127.0.0.1/").out == "back\n")
        let named = try exec("named", "hostname; cat /sys/class/net/eth0/address; grep -E 'gateway|static|db' /etc/hosts; grep search /etc/resolv.conf").out
        #expect(named.hasPrefix("db\n02:42:ac:11:00:99\n"), "\(named)")
        #expect(named.contains("db.example.org") && named.contains("10.9.8.7\tstatic.local") && named.contains("\tgateway.local"))
        #expect(named.contains("search example.org"))
        // Two projects side by side get distinct subnets.
        let inspect = try p.s.run(["network", "inspect", "\(p.name)_a", "\(p.name)_b", "\(p.name)_inside"]).out
        let subnets = inspect.split(separator: "\n").filter { $0.contains("\"Subnet\"") }
        #expect(Set(subnets).count == 3, "\(subnets)")
        try Self.downAndCheckKernel(p)
    }
    /// `enable_ipv6`: a given IPv6 subnet (the IPv4 one picked as usual) and a unique local /64
    /// picked for a network without one; `ipv6_address`; addresses on the containers' interfaces
    /// with a default route; AAAA answers of the embedded DNS; `/etc/hosts`; traffic between
    /// containers and from the host over IPv6; `network inspect`; `down` leaves no `ip6` table.
    static var hasIPv6: Bool {
        (try? String(contentsOfFile: "/proc/sys/net/ipv6/conf/all/disable_ipv6", encoding: .utf8)) == "0\n"
    }

    @Test(.enabled(if: canRun && hasIPv6)) func ipv6Networks() throws {
        let prefix = "fd5c:\(String(getpid() % 0xffff, radix: 16)):\(String(UInt16.random(in: 1...0xfff0), radix: 16))"
        let port = RegistryTests.LocalRegistry.freePort()
        let p = try Project(
            """
            services:
              a:
                image: busybox
                command: sleep 1000
                stop_signal: SIGKILL
                networks:
                  dual: {ipv6_address: "\(prefix)::10"}
              b:
                image: busybox
                command: sh -c 'echo six > /tmp/index.html; httpd -f -p 80 -h /tmp'
                stop_signal: SIGKILL
                networks: [dual, auto]
                ports: ["\(port):80"]
              c:
                image: busybox
                command: sleep 1000
                stop_signal: SIGKILL
                networks: [auto]
            networks:
              dual:
                enable_ipv6: true
                ipam: {config: [{subnet: "\(prefix)::/64"}]}
              auto: {enable_ipv6: true}
            """)
        let up = try p.run(["up", "-d"])
        #expect(up.status == 0, "\(up.err)")
        func exec(_ service: String, _ script: String) throws -> String {
            try p.run(["exec", "-T", service, "sh", "-c", script]).out
        }
        let a = try exec("a", "ip -6 addr show dev eth0 scope global; ip -6 route show default; grep \(prefix) /etc/hosts")
        #expect(a.contains("inet6 \(prefix)::10/64"), "\(a)")
        #expect(a.contains("default via \(prefix)::1"), "\(a)")
        #expect(a.contains("\(prefix)::10\t"), "its own address in /etc/hosts: \(a)")
        // b got the first free address of the range (::1 is the gateway, ::10 was asked for).
        let aaaa = try exec("a", "nslookup -type=AAAA b 127.0.0.11")
        #expect(aaaa.contains("\(prefix)::2"), "\(aaaa)")
        #expect(try exec("a", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \(prefix)::2 80").hasSuffix("six\n"), "container to container over IPv6")
        let host = NetworkTests.sh("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 \(prefix)::2 80").1
        #expect(host.hasSuffix("six\n"), "the host reaches it through the bridge: \(host)")
        // The network without a subnet has a unique local /64 of its own.
        let inspect = try p.s.run(["network", "inspect", "\(p.name)_auto", "\(p.name)_dual"]).out
        let object = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [[String: Any]]
        let auto = object?.first
        #expect(auto?["EnableIPv6"] as? Bool == true)
        let pools = ((auto?["IPAM"] as? [String: Any])?["Config"] as? [[String: Any]]) ?? []
        let auto6 = pools.compactMap { $0["Subnet"] as? String }.first { $0.contains(":") } ?? ""
        #expect(auto6.hasPrefix("fd") && auto6.hasSuffix("::/64"), "\(pools)")
        let autoB = (auto?["Containers"] as? [String: [String: Any]] ?? [:]).values.first { ($0["Name"] as? String)?.hasSuffix("-b-1") == true }
        let b6 = (autoB?["IPv6Address"] as? String)?.split(separator: "/").first.map(String.init) ?? "none"
        #expect(b6.hasPrefix(String(auto6.dropLast("::/64".count))), "\(b6) in \(auto6)")
        #expect(try exec("c", "nslookup -type=AAAA b 127.0.0.11").contains(b6), "AAAA on the auto network")
        #expect(try exec("c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 b 80").hasSuffix("six\n"))
        let dual = object?.last?["Containers"] as? [String: [String: Any]] ?? [:]
        #expect(dual.values.contains { $0["IPv6Address"] as? String == "\(prefix)::10/64" }, "\(dual)")
        #expect(NetworkTests.sh("nft list tables").1.contains("table ip6 scompose-n-"))
        // The published port answers on the host's IPv6 addresses (here a bridge's); on ::1 it
        // is refused at once (the kernel forwards no loopback source), so clients go on to
        // 127.0.0.1; and no one else can take it on IPv6.
        let get = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2"
        #expect(NetworkTests.sh("\(get) \(prefix)::1 \(port)").1.hasSuffix("six\n"), "published on IPv6")
        let ports = try p.run(["ps", "--format", "{{.Ports}}", "b"]).out
        #expect(ports == "0.0.0.0:\(port)->80/tcp, [::]:\(port)->80/tcp\n", "\(ports)")
        #expect(NetworkTests.sh("\(get) 127.0.0.1 \(port)").1.hasSuffix("six\n"))
        let loopback = NetworkTests.sh("timeout 5 /bin/busybox nc -w 3 ::1 \(port) </dev/null; echo status $?").1
        #expect(loopback.contains("refused"), "\(loopback)")
        let bind6 = """
            import socket
            s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); s.bind(("::", \(port))); s.listen(1)
            """
        let taken = NetworkTests.sh("python3 -c '\(bind6)' 2>&1").1
        #expect(taken.contains("Address already in use"), "\(taken)")
        try Self.downAndCheckKernel(p)
    }
    /// The embedded DNS over TCP, where clients ask again when a UDP answer comes back
    /// truncated: names of the project, and questions forwarded to a resolver over TCP (a fake
    /// one on a loopback address of the host, whose UDP answers are always truncated).
    @Test(.enabled(if: canRun)) func dnsOverTCP() throws {
        let resolver = "127.53.\(getpid() % 250).\(Int.random(in: 2...250))"
        let p = try Project(
            """
            services:
              web: {image: busybox, command: sleep 1000, stop_signal: SIGKILL, dns: ["\(resolver)"]}
            """)
        // The resolver: over UDP a truncated empty answer, over TCP 40 A records.
        let upstream = p.s.dir + "/upstream.py"
        try """
            import socket, struct, threading
            def answer(q, tcp):
                qend = 12
                while q[qend] != 0: qend += q[qend] + 1
                qend += 5
                if not tcp:
                    return q[:2] + bytes([0x83, 0x80]) + b"\\0\\1\\0\\0\\0\\0\\0\\0" + q[12:qend]
                rr = b"".join(b"\\xc0\\x0c\\0\\1\\0\\1\\0\\0\\0\\x3c\\0\\4" + bytes([10, 0, 0, i]) for i in range(1, 41))
                return q[:2] + bytes([0x81, 0x80]) + b"\\0\\1\\0\\x28\\0\\0\\0\\0" + q[12:qend] + rr
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("\(resolver)", 53))
            t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("\(resolver)", 53)); t.listen(8)
            def udp():
                while True:
                    q, a = u.recvfrom(4096); u.sendto(answer(q, False), a)
            threading.Thread(target=udp, daemon=True).start()
            while True:
                c, _ = t.accept()
                n = struct.unpack("!H", c.recv(2))[0]; q = b""
                while len(q) < n: q += c.recv(n - len(q))
                r = answer(q, True); c.sendall(struct.pack("!H", len(r)) + r); c.close()
            """.write(toFile: upstream, atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [upstream]
        try server.run()
        defer {
            // SIGKILL: the test process's blocked signals are the child's too.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        #expect(try p.run(["up", "-d"]).status == 0)
        let id = try p.run(["ps", "-q", "web"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p.s.root + "/containers/\(id)/state.json"))) as? [String: Any]
        let pid = (state?["pid"] as? NSNumber)?.int32Value ?? 0
        // A client in the container's network namespace: each question over TCP (and once over
        // UDP), printing the answer count and the TC bit.
        let client = p.s.dir + "/client.py"
        try """
            import socket, struct, sys
            def query(name):
                q = b"\\x12\\x34\\x01\\x00\\0\\1\\0\\0\\0\\0\\0\\0" + b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0\\0\\1\\0\\1"
                return q
            for name in sys.argv[1:]:
                s = socket.create_connection(("127.0.0.11", 53), timeout=5)
                q = query(name); s.sendall(struct.pack("!H", len(q)) + q)
                n = struct.unpack("!H", s.recv(2))[0]; r = b""
                while len(r) < n: r += s.recv(n - len(r))
                print(name, "tcp", struct.unpack("!H", r[6:8])[0], r[0:2].hex())
                s.close()
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)
            u.sendto(query("big.test"), ("127.0.0.11", 53)); r = u.recv(4096)
            print("big.test udp tc", (r[2] >> 1) & 1)
            """.write(toFile: client, atomically: true, encoding: .utf8)
        let out = NetworkTests.sh("nsenter -t \(pid) -n python3 \(client) web big.test 2>&1").1
        #expect(out == "web tcp 1 1234\nbig.test tcp 40 1234\nbig.test udp tc 1\n", "\(out)")
        try Self.downAndCheckKernel(p)
    }
}
