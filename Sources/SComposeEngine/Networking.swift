// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeNetlink
import SComposeOCI
import SComposeNetwork
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// What a container gets from its networks when it is created.
struct NetworkPlan {
    var shim: ShimNetwork?
    /// `/etc/hosts` lines after the localhost block.
    var hosts: [String] = []
    var resolvConf: String
    /// The endpoints saved for it (removed again if the creation fails).
    var endpoints: [(network: String, endpoint: Endpoint)] = []
    /// Published ports, for the firewall and `ps`.
    var ports: [PortBinding] = []
    var primaryAddress: IPv4?
    var primaryAddress6: IPv6?
    /// `network_mode: service:X` or `container:X`: the directory of the container joined.
    var joinDirectory: String?
    /// The joined container's hosts file, used instead of one of our own.
    var hostsSource: String?
}

extension Engine {
    var networkStore: NetworkStore { NetworkStore(stateRoot: root) }

    /// The project networks that `services` use, created if missing (bridge, address, rules).
    func ensureNetworks(_ project: ComposeProject, services: [String], rendered: JSONValue = .null) throws {
        var needed = Set<String>()
        for name in services {
            guard let s = project.services[name], s.networkMode == nil || s.networkMode == "bridge" else { continue }
            needed.formUnion(s.networks.keys)
        }
        for key in needed.sorted() {
            guard let config = project.networks[key] else {
                throw EngineError("service refers to undefined network \(key): invalid compose project")
            }
            try ensureNetwork(config, key: key, project: project.name, hash: Self.networkHash(rendered, key: key))
        }
    }

    /// The digest of a network's definition as `config` prints it.
    static func networkHash(_ rendered: JSONValue, key: String) -> String {
        guard let definition = rendered["networks"]?[key] else { return "" }
        return Digest(of: Array(definition.compactText().utf8)).hex
    }

    /// A network whose definition changed is made again, as Compose does: its containers of
    /// this project go first (their configuration changed with it, so `up` recreates them).
    func recreateChangedNetworks(_ loaded: LoadedProject, services: [String]) throws {
        let store = networkStore
        var keys = Set<String>()
        for name in services { keys.formUnion(loaded.project.services[name]?.networks.keys ?? [:].keys) }
        for key in keys.sorted() {
            guard let config = loaded.project.networks[key], !config.external, let record = store.get(config.name),
                let old = record.labels["com.docker.compose.config-hash"]
            else { continue }
            let hash = Self.networkHash(loaded.rendered, key: key)
            guard old != hash else { continue }
            let users = Set(store.endpoints(record.name).map(\.containerID))
            let attached = containers(project: nil).filter { users.contains($0.record.id) }
            if let foreign = attached.first(where: { $0.record.project != loaded.project.name }) {
                throw EngineError("network \(record.name) has changed but is in use by \(foreign.record.name) of project \(foreign.record.project)")
            }
            progress("Network \(record.name)  Recreate")
            try stop(attached, timeout: nil)
            for c in attached { try remove(c) }
            try removeNetwork(record)
        }
    }

    func ensureNetwork(_ config: NetworkConfig, key: String, project: String, hash: String = "") throws {
        let store = networkStore
        if config.external {
            guard let record = store.get(config.name) else {
                throw EngineError("network \(config.name) declared as external, but could not be found")
            }
            try realize(record)
            return
        }
        if let driver = config.driver, driver != "bridge" {
            throw EngineError("network \(config.name): driver \"\(driver)\" is not supported (bridge only)")
        }
        if config.enableIPv4 == false {
            throw EngineError("network \(config.name): enable_ipv4: false is not supported (networks always have IPv4)")
        }
        if let existing = store.get(config.name) {
            try realize(existing)
            return
        }
        let record: NetworkRecord = try store.locked {
            if let raced = store.get(config.name) { return raced }
            progress("Network \(config.name)  Creating")
            var taken = NetworkStore.hostSubnets() + store.list().map(\.subnet)
            taken.removeAll { $0.prefix == 0 }
            // A pool is IPv6 when its subnet is; the first of each family is the network's.
            let pool = config.ipamConfig.first { $0.subnet.map { Subnet6($0) == nil } ?? true }
            let pool6 = config.ipamConfig.first { $0.subnet.map { Subnet6($0) != nil } ?? false }
            let subnet: Subnet
            if let text = pool?.subnet {
                guard let s = Subnet(text) else { throw EngineError("invalid subnet \(text) for network \(config.name)") }
                if let clash = store.list().first(where: { $0.subnet.overlaps(s) }) {
                    throw EngineError("Pool overlaps with other one on this address space (network \(clash.name))")
                }
                subnet = s
            } else {
                guard let s = NetworkStore.pickSubnet(avoiding: taken) else {
                    throw EngineError("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
                }
                subnet = s
            }
            let gateway = try pool?.gateway.map { text -> IPv4 in
                guard let g = IPv4(text), subnet.contains(g) else { throw EngineError("invalid gateway \(text) for network \(config.name)") }
                return g
            } ?? IPv4(subnet.first.value + 1)
            let range = try pool?.ipRange.map { text -> Subnet in
                guard let r = Subnet(text), subnet.contains(r.first) else { throw EngineError("invalid ip_range \(text) for network \(config.name)") }
                return r
            }
            var labels = config.labels
            labels["com.docker.compose.project"] = project
            labels["com.docker.compose.network"] = key
            labels["com.docker.compose.version"] = Engine.version
            if !hash.isEmpty { labels["com.docker.compose.config-hash"] = hash }
            var r = NetworkRecord(
                name: config.name, id: Digest.random().hex, subnet: subnet, gateway: gateway, ipRange: range,
                isInternal: config.isInternal, labels: labels, options: config.driverOpts)
            // Without `enable_ipv6` an IPv6 pool is left unused, as Docker leaves it.
            if config.enableIPv6 == true {
                try Self.plan6(&r, pool: pool6, taken: NetworkStore.hostSubnets6() + store.list().compactMap(\.subnet6))
            }
            try store.save(r)
            return r
        }
        try realize(record)
        progress("Network \(config.name)  Created")
    }

    /// The IPv6 half of a new network: the pool's subnet, gateway and range, or a unique local
    /// /64 of its own.
    static func plan6(_ r: inout NetworkRecord, pool: IPAMPool?, taken: [Subnet6]) throws {
        let subnet: Subnet6
        if let text = pool?.subnet {
            guard let s = Subnet6(text), s.prefix <= 124 else { throw EngineError("invalid subnet \(text) for network \(r.name)") }
            if let clash = taken.first(where: { $0.overlaps(s) }) {
                throw EngineError("Pool overlaps with other one on this address space (\(clash))")
            }
            subnet = s
        } else {
            guard let s = NetworkStore.pickSubnet6(id: r.id, avoiding: taken) else {
                throw EngineError("could not find an available IPv6 address pool for network \(r.name)")
            }
            subnet = s
        }
        r.subnet6 = subnet
        r.gateway6 = try pool?.gateway.map { text -> IPv6 in
            guard let g = IPv6(text), subnet.contains(g) else { throw EngineError("invalid gateway \(text) for network \(r.name)") }
            return g
        } ?? subnet.first.adding(1)
        r.ipRange6 = try pool?.ipRange.map { text -> Subnet6 in
            guard let range = Subnet6(text), subnet.contains(range.first) else {
                throw EngineError("invalid ip_range \(text) for network \(r.name)")
            }
            return range
        }
    }

    /// Makes the kernel side of a network exist: its bridge with the gateway address, up, and
    /// its nftables table (again after a reboot wiped them).
    func realize(_ n: NetworkRecord) throws {
        do {
            let nl = try Netlink()
            if try nl.linkIndex(n.bridge) == nil {
                try nl.createBridge(n.bridge, mtu: n.options["com.docker.network.driver.mtu"].flatMap { UInt32($0) })
                guard let index = try nl.linkIndex(n.bridge) else { throw EngineError("bridge \(n.bridge) vanished") }
                try nl.addAddress(index, n.gateway, prefix: n.subnet.prefix)
                if let subnet6 = n.subnet6, let gateway6 = n.gateway6 {
                    Firewall.sysctl("net/ipv6/conf/\(n.bridge)/disable_ipv6", "0")
                    try nl.addAddress(index, gateway6, prefix: subnet6.prefix)
                }
                try nl.setLink(index, up: true)
            }
        } catch let e as NetlinkError {
            throw EngineError("network \(n.name): \(e)")
        }
        if n.subnet6 != nil {
            // As Docker does for IPv6 networks; hosts that take router advertisements on an
            // interface with `accept_ra=1` stop taking them (`accept_ra=2` keeps them).
            Firewall.sysctl("net/ipv6/conf/all/forwarding", "1")
        }
        if !Firewall.tableExists(Firewall.networkTable(n)) || (n.subnet6 != nil && !Firewall.tableExists(Firewall.networkTable(n), family: .ip6)) {
            do {
                try Firewall.applyNetwork(n)
            } catch {
                throw EngineError("network \(n.name): \(error)")
            }
        }
        Firewall.sysctl("net/ipv4/ip_forward", "1")
        // Published ports answer on 127.0.0.1 too: DNAT'd loopback traffic must route to the bridge.
        Firewall.sysctl("net/ipv4/conf/\(n.bridge)/route_localnet", "1")
    }

    /// Addresses, names, DNS and ports for a new container.
    func networkPlan(
        project: ComposeProject, service: ServiceConfig, containerID: String, containerName: String, hostname: String,
        number: Int, serviceAliases: Bool = true
    ) throws -> NetworkPlan {
        let hostResolvConf = (try? String(decoding: Files.read("/etc/resolv.conf"), as: UTF8.self)) ?? ""
        var plan = NetworkPlan(resolvConf: Self.resolvConf())
        switch service.networkMode {
        case "host"?:
            plan.resolvConf = hostResolvConf
            return plan
        case "none"?:
            return plan
        case let mode? where mode.hasPrefix("service:") || mode.hasPrefix("container:"):
            // The other container's namespace, and its view of names.
            let other = try networkParent(mode, project: project.name)
            let files = ContainerFiles(dir: containersDir + "/" + other.record.id)
            plan.joinDirectory = files.dir
            plan.hostsSource = files.hosts
            plan.resolvConf = (try? String(decoding: Files.read(files.resolvConf), as: UTF8.self)) ?? plan.resolvConf
            return plan
        case let mode? where mode != "bridge":
            throw EngineError("service \"\(service.name)\": network_mode \"\(mode)\" is not supported")
        default:
            break
        }
        let store = networkStore
        var shim = ShimNetwork()
        shim.stateRoot = root
        shim.resolvers = service.dns.isEmpty ? DNSResponder.hostResolvers(hostResolvConf) : service.dns
        // Highest priority first, then by name, as Compose orders a service's networks.
        let keys = service.networks.keys.sorted {
            let a = service.networks[$0]??.priority ?? 0
            let b = service.networks[$1]??.priority ?? 0
            return a != b ? a > b : $0 < $1
        }
        try store.locked {
            for (i, key) in keys.enumerated() {
                guard let config = project.networks[key], let record = store.get(config.name) else {
                    throw EngineError("network \(key) of service \(service.name) does not exist")
                }
                let attachment = service.networks[key] ?? nil
                let requested = try attachment?.ipv4Address.map { text -> IPv4 in
                    guard let a = IPv4(text) else { throw EngineError("invalid ipv4_address \(text)") }
                    return a
                }
                let requested6 = try attachment?.ipv6Address.map { text -> IPv6 in
                    guard let a = IPv6(text) else { throw EngineError("invalid ipv6_address \(text)") }
                    return a
                }
                let address: IPv4
                let address6: IPv6?
                do {
                    address = try store.allocateAddress(record, requested: requested)
                    address6 = try store.allocateAddress6(record, requested: requested6)
                } catch {
                    throw EngineError("\(error)")
                }
                // A one-off container answers to the service's names only with `run --use-aliases`.
                var names = [containerName, hostname, String(containerID.prefix(12))]
                if serviceAliases { names += [service.name] + (attachment?.aliases ?? []) }
                var endpoint = Endpoint(
                    containerID: containerID, containerName: containerName, service: service.name, project: project.name,
                    address: address, names: Array(Set(names)).sorted(), mac: attachment?.macAddress ?? (i == 0 ? service.macAddress : nil))
                endpoint.address6 = address6
                try store.saveEndpoint(record.name, endpoint)
                plan.endpoints.append((record.name, endpoint))
                var interface = ShimNetwork.Interface(
                    bridge: record.bridge, hostName: Self.hostInterfacePrefix(containerID) + String(i, radix: 16),
                    address: address.description, prefix: record.subnet.prefix, mac: endpoint.mac,
                    mtu: record.options["com.docker.network.driver.mtu"].flatMap { UInt32($0) })
                interface.address6 = address6?.description
                interface.prefix6 = record.subnet6?.prefix
                shim.interfaces.append(interface)
                shim.dnsNetworks.append(record.name)
                if i == 0 {
                    plan.primaryAddress = address
                    plan.primaryAddress6 = address6
                    if !record.isInternal { shim.gateway = record.gateway.description }
                }
                if shim.gateway6 == nil, !record.isInternal, address6 != nil { shim.gateway6 = record.gateway6?.description }
                let hostNames = "\t\(hostname)" + (service.domainname.map { "\t\(hostname).\($0)" } ?? "")
                plan.hosts.append("\(address)" + hostNames)
                if let address6 { plan.hosts.append("\(address6)" + hostNames) }
            }
        }
        // extra_hosts: `name:ip`, `name=ip`, `host-gateway`.
        for entry in service.extraHosts {
            let parts = entry.split(maxSplits: 1, whereSeparator: { $0 == ":" || $0 == "=" }).map(String.init)
            guard parts.count == 2 else { throw EngineError("invalid extra_hosts entry \"\(entry)\"") }
            var ip = parts[1]
            if ip == "host-gateway" {
                guard let first = shim.dnsNetworks.first, let record = store.get(first) else { continue }
                ip = record.gateway.description
            }
            plan.hosts.append("\(ip)\t\(parts[0])")
        }
        var resolv = "nameserver 127.0.0.11\n"
        if !service.dnsSearch.isEmpty { resolv += "search " + service.dnsSearch.joined(separator: " ") + "\n" }
        resolv += "options " + (["ndots:0"] + service.dnsOpt).joined(separator: " ") + "\n"
        plan.resolvConf = resolv
        plan.ports = try publishedPorts(service, number: number)
        shim.reservations = plan.ports.map { .init(proto: $0.proto, hostIP: $0.hostIP ?? "0.0.0.0", hostPort: $0.hostPort) }
        if plan.primaryAddress6 != nil {
            // Published on IPv6 too: the shim holds those ports on `::` as well.
            shim.reservations += plan.ports.filter { $0.hostIP == nil }.map { .init(proto: $0.proto, hostIP: "::", hostPort: $0.hostPort) }
        }
        plan.shim = shim
        return plan
    }

    /// `ports:` as bindings: ranges spread over replicas, a free port picked when none is given.
    func publishedPorts(_ service: ServiceConfig, number: Int) throws -> [PortBinding] {
        var out: [PortBinding] = []
        for p in service.ports {
            guard p.proto == "tcp" || p.proto == "udp" else { throw EngineError("unsupported protocol \(p.proto) for port \(p.target)") }
            let hostIP = p.hostIP.flatMap { $0.isEmpty ? nil : $0 }
            if let ip = hostIP, IPv4(ip) == nil { throw EngineError("host IP \(ip) of port \(p.target): only IPv4 addresses are supported") }
            var hostPort: UInt16
            if let published = p.published, !published.isEmpty {
                let range = published.split(separator: "-").compactMap { UInt16($0) }
                guard let low = range.first else { throw EngineError("invalid published port \(published)") }
                let high = range.count > 1 ? range[1] : low
                hostPort = low
                if high > low {
                    // As Compose: the first free port of the range.
                    hostPort = (low...high).first { Self.portIsFree($0, proto: p.proto, ip: hostIP) } ?? low
                }
            } else {
                hostPort = Self.freePort(proto: p.proto)
            }
            out.append(PortBinding(proto: p.proto, hostIP: hostIP, hostPort: hostPort, containerPort: UInt16(p.target)))
        }
        return out
    }

    static func portIsFree(_ port: UInt16, proto: String, ip: String?) -> Bool {
        let fd = socket(AF_INET, Int32(proto == "udp" ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = (ip.flatMap(IPv4.init) ?? IPv4(0)).value.bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A port the kernel considers free now (its ephemeral choice).
    static func freePort(proto: String) -> UInt16 {
        let fd = socket(AF_INET, Int32(proto == "udp" ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// The container whose network namespace `network_mode: service:X|container:NAME` joins.
    func networkParent(_ mode: String, project: String) throws -> ContainerStatus {
        let all = containers(project: nil)
        if mode.hasPrefix("service:") {
            let service = String(mode.dropFirst(8))
            guard let c = all.first(where: { $0.record.project == project && $0.record.service == service && $0.running }) ?? all.first(where: { $0.record.project == project && $0.record.service == service }) else {
                throw EngineError("service \(service) which is used as network_mode has no container")
            }
            return c
        }
        let name = String(mode.dropFirst(10))
        guard let c = all.first(where: { $0.record.name == name || $0.record.id.hasPrefix(name) }) else {
            throw EngineError("Error response from daemon: No such container: \(name)")
        }
        return c
    }

    /// Removes a container's endpoints and port rules.
    func releaseNetwork(_ containerID: String) {
        let store = networkStore
        for n in store.list() { store.removeEndpoint(n.name, container: containerID) }
        Firewall.deletePorts(container: containerID)
        // The kernel tears a dead namespace's veths down in the background, some time after
        // its last process; deleting the host ends here means `rm` and `down` return with
        // the links gone.
        let prefix = Self.hostInterfacePrefix(containerID)
        if let nl = try? Netlink(), let links = try? nl.links() {
            for (index, name) in links where name.hasPrefix(prefix) { try? nl.deleteLink(index) }
        }
    }

    /// The start of the host-side names of a container's veths (`scv` + ten digits of its id +
    /// the attachment's number): short enough for the kernel's 15 characters.
    static func hostInterfacePrefix(_ containerID: String) -> String { "scv" + String(containerID.prefix(10)) }

    /// A network's endpoints, less those of containers that do not exist and are not being
    /// created (a killed command's leftovers), which are released here. Callers sweep stale
    /// creations first (`removeStaleStaging`), once.
    public func liveEndpoints(_ network: String) -> [Endpoint] {
        let store = networkStore
        let names = Files.list(containersDir)
        return store.endpoints(network).filter { e in
            if names.contains(e.containerID) || names.contains(where: { $0.hasPrefix(".creating-" + e.containerID) }) { return true }
            releaseNetwork(e.containerID)
            return false
        }
    }

    /// `down`: the project's networks (not external ones) that no container uses any more.
    public func removeProjectNetworks(_ project: ComposeProject) throws {
        let store = networkStore
        for (_, config) in project.networks.sorted(by: { $0.key < $1.key }) where !config.external {
            guard let record = store.get(config.name) else { continue }
            let users = liveEndpoints(record.name)
            if !users.isEmpty {
                progress("WARN network \(record.name) is still in use by \(users.map(\.containerName).sorted().joined(separator: ", "))")
                continue
            }
            progress("Network \(record.name)  Removing")
            try removeNetwork(record)
            progress("Network \(record.name)  Removed")
        }
    }

    /// Deletes a network's bridge, rules and record.
    public func removeNetwork(_ record: NetworkRecord) throws {
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
            throw EngineError("network \(record.name): \(error)")
        }
        Firewall.deleteTable(Firewall.networkTable(record))
        Firewall.deleteTable(Firewall.networkTable(record), family: .ip6)
        networkStore.remove(record.name)
    }

    /// Published ports of a container, as `ps` and `port` show them.
    public func ports(of c: ContainerStatus) -> [PortBinding] { c.record.ports ?? [] }
}
