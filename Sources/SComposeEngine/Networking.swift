// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOCI
import SComposeNetwork
import SComposeOS
import SComposeRuntime
import SComposeSpec

extension NetworkRecord {
    /// Docker's own option on its default network, which scompose's `bridge` carries too.
    static let defaultBridgeOption = "com.docker.network.bridge.default_bridge"

    /// The default network of containers of no project (`bridge`): no name resolution on it.
    public var isDefaultBridge: Bool { options[Self.defaultBridgeOption] == "true" }
}

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

    /// The host side of networks: bridges in the host's namespace (the one backend there is).
    var networkBackend: any NetworkBackend { BridgeBackend(store: networkStore) }

    /// A host network error as the CLI has always shown the engine's. The store's failures to
    /// lock or write went through as they were, and still do.
    static func reported(_ error: any Error) -> any Error {
        guard let e = error as? NetworkError, e.kind != .storage else { return error }
        return EngineError(passing: e)
    }

    /// The project networks that `services` use, created if missing (bridge, address, rules).
    func ensureNetworks(_ project: ComposeProject, services: [String], rendered: JSONValue = .null) throws {
        var needed = Set<String>()
        for name in services {
            guard let s = project.services[name], s.network == .own else { continue }
            needed.formUnion(s.networks.keys)
        }
        for key in needed.sorted() {
            guard let config = project.networks[key] else {
                throw EngineError(.undefined(service: nil, kind: "network", name: key))
            }
            try ensureNetwork(config, key: key, project: project.name, hash: Self.networkHash(rendered, key: key))
        }
    }

    /// The digest of a network's definition as `config` prints it.
    static func networkHash(_ rendered: JSONValue, key: String) -> String {
        guard let definition = rendered["networks"]?[key] else { return "" }
        return Digest(of: Array(definition.compactText().utf8)).hex
    }

    /// The networks the plan's services attach to, as they are (`Reconciler` decides which to
    /// make and which to make again).
    func networkNeeds(_ loaded: LoadedProject, services: [String]) -> [NetworkNeed] {
        let store = networkStore
        var keys = Set<String>()
        for name in services {
            guard let s = loaded.project.services[name], s.network == .own else { continue }
            keys.formUnion(s.networks.keys)
        }
        var all: [ContainerStatus]?
        return keys.sorted().compactMap { key in
            guard let config = loaded.project.networks[key] else { return nil }
            var need = NetworkNeed(
                name: config.name, external: config.external, hash: Self.networkHash(loaded.rendered, key: key), exists: false)
            guard let record = store.get(config.name) else { return need }
            need.exists = true
            need.existingHash = record.labels[ComposeLabel.configHash]
            guard !config.external, let old = need.existingHash, old != need.hash else { return need }
            // Only a network about to be made again needs to know who uses it.
            let users = Set(store.endpoints(record.name).map(\.containerID))
            if all == nil { all = containers(project: nil) }
            let attached = (all ?? []).filter { users.contains($0.record.id) }
            need.attached = attached.filter { $0.record.project == loaded.project.name }.map(\.record.name)
            need.foreignUser = attached.first { $0.record.project != loaded.project.name }.map {
                "\($0.record.name) of project \($0.record.project)"
            }
            return need
        }
    }

    /// The plan's networks made again: their containers of the project stop and go, then the
    /// network; `ensureNetworks` makes it anew. Returns the names of the containers removed.
    func recreateNetworks(_ steps: [Plan.NetworkStep], project: String) throws -> Set<String> {
        var gone = Set<String>()
        for case .recreate(let name, _, let names) in steps {
            guard let record = networkStore.get(name) else { continue }
            let attached = containers(project: project).filter { names.contains($0.record.name) }
            progress(.resource(.network, record.name, "Recreate"))
            try stop(attached, timeout: nil)
            for c in attached { try remove(c) }
            try removeNetwork(record)
            gone.formUnion(names)
        }
        return gone
    }

    func ensureNetwork(_ config: NetworkConfig, key: String, project: String, hash: String = "") throws {
        let store = networkStore
        if config.external {
            guard let record = store.get(config.name) else {
                throw EngineError(.externalNotFound(kind: "network", name: config.name))
            }
            try realize(record)
            return
        }
        if let driver = config.driver, driver != "bridge" {
            throw EngineError(.unsupported("network \(config.name): driver \"\(driver)\" is not supported (bridge only)"))
        }
        if config.enableIPv4 == false {
            throw EngineError(.unsupported("network \(config.name): enable_ipv4: false is not supported (networks always have IPv4)"))
        }
        if let existing = store.get(config.name) {
            try realize(existing)
            return
        }
        var labels = config.labels
        labels[ComposeLabel.project] = project
        labels[ComposeLabel.network] = key
        labels[ComposeLabel.version] = Engine.version
        if !hash.isEmpty { labels[ComposeLabel.configHash] = hash }
        let request = NetworkRequest(
            name: config.name, id: Digest.random().hex,
            pools: config.ipamConfig.map { AddressPool(subnet: $0.subnet, gateway: $0.gateway, ipRange: $0.ipRange) },
            enableIPv6: config.enableIPv6 == true, isInternal: config.isInternal, labels: labels, options: config.driverOpts)
        let record: NetworkRecord
        do {
            record = try networkBackend.define(request) { progress(.resource(.network, config.name, "Creating")) }
        } catch {
            throw Self.reported(error)
        }
        try realize(record)
        progress(.resource(.network, config.name, "Created"))
    }

    /// Makes the kernel side of a network exist: its bridge with the gateway address, up, and
    /// its nftables table (again after a reboot wiped them).
    func realize(_ n: NetworkRecord) throws {
        do {
            try networkBackend.realize(n.spec)
        } catch {
            throw Self.reported(error)
        }
    }

    /// Addresses, names, DNS and ports for a new container.
    func networkPlan(
        project: ComposeProject, service: ServiceConfig, containerID: String, containerName: String, hostname: String,
        number: Int, serviceAliases: Bool = true
    ) throws -> NetworkPlan {
        let hostResolvConf = (try? String(decoding: Files.read("/etc/resolv.conf"), as: UTF8.self)) ?? ""
        var plan = NetworkPlan(resolvConf: NetworkNames.resolvConf(host: hostResolvConf, service: service))
        switch service.network {
        case .host:
            plan.resolvConf = hostResolvConf
            return plan
        case .none:
            return plan
        case .service, .container:
            // The other container's namespace, and its view of names.
            let other = try networkParent(service.network, project: project.name)
            let files = ContainerFiles(dir: containersDir + "/" + other.record.id)
            plan.joinDirectory = files.dir
            plan.hostsSource = files.hosts
            plan.resolvConf = (try? String(decoding: Files.read(files.resolvConf), as: UTF8.self)) ?? plan.resolvConf
            return plan
        case .other(let mode):
            throw EngineError(.unsupported("service \"\(service.name)\": network_mode \"\(mode)\" is not supported"))
        case .own:
            break
        }
        let store = networkStore
        let backend = networkBackend
        var shim = ShimNetwork()
        shim.stateRoot = root
        shim.resolvers = service.dns.isEmpty ? DNSResponder.hostResolvers(hostResolvConf) : service.dns
        let keys = NetworkNames.order(service)
        try store.locked {
            for (i, key) in keys.enumerated() {
                guard let config = project.networks[key], let record = store.get(config.name) else {
                    throw EngineError(.undefined(service: service.name, kind: "network", name: key))
                }
                let attachment = service.networks[key] ?? nil
                let requested = try attachment?.ipv4Address.map { text -> IPv4 in
                    guard let a = IPv4(text) else { throw EngineError(.invalidValue(what: "ipv4_address", value: text)) }
                    return a
                }
                let requested6 = try attachment?.ipv6Address.map { text -> IPv6 in
                    guard let a = IPv6(text) else { throw EngineError(.invalidValue(what: "ipv6_address", value: text)) }
                    return a
                }
                let names = NetworkNames.dnsNames(
                    service: service, network: key, containerName: containerName, hostname: hostname, containerID: containerID,
                    serviceAliases: serviceAliases)
                let request = EndpointRequest(
                    containerID: containerID, containerName: containerName, names: names, service: service.name,
                    project: project.name, address: requested, address6: requested6,
                    mac: attachment?.macAddress ?? (i == 0 ? service.macAddress : nil), index: i)
                let attached: Attachment
                do {
                    attached = try backend.attach(request, to: record)
                } catch {
                    throw Self.reported(error)
                }
                let endpoint = attached.endpoint
                let address = endpoint.address
                let address6 = endpoint.address6
                plan.endpoints.append((record.name, endpoint))
                var interface = ShimNetwork.Interface(
                    bridge: record.bridge, hostName: attached.hostInterface, address: address.description, prefix: record.subnet.prefix,
                    mac: endpoint.mac, mtu: attached.mtu)
                interface.address6 = address6?.description
                interface.prefix6 = record.subnet6?.prefix
                shim.interfaces.append(interface)
                // Docker's default network has no names: no embedded DNS there.
                if !record.isDefaultBridge { shim.dnsNetworks.append(record.name) }
                if i == 0 {
                    plan.primaryAddress = address
                    plan.primaryAddress6 = address6
                    if !record.isInternal { shim.gateway = record.gateway.description }
                }
                if shim.gateway6 == nil, !record.isInternal, address6 != nil { shim.gateway6 = record.gateway6?.description }
                plan.hosts += NetworkNames.hostsLines(
                    address: address.description, address6: address6?.description, hostname: hostname, domainname: service.domainname)
            }
        }
        // Read only when an entry asks for it.
        let wantsGateway = service.extraHosts.contains { $0.hasSuffix("host-gateway") }
        let gateway = wantsGateway ? shim.dnsNetworks.first.flatMap { store.get($0) }.map(\.gateway.description) : nil
        plan.hosts += try NetworkNames.extraHosts(service.extraHosts, gateway: gateway)
        // Without the embedded DNS (the default network alone), the host's resolvers, as Docker.
        if !shim.dnsNetworks.isEmpty { plan.resolvConf = NetworkNames.resolvConf(service) }
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
            guard p.proto == "tcp" || p.proto == "udp" else { throw EngineError(.invalidValue(what: "protocol of port \(p.target)", value: p.proto)) }
            let hostIP = p.hostIP.flatMap { $0.isEmpty ? nil : $0 }
            if let ip = hostIP, IPv4(ip) == nil { throw EngineError(.unsupported("host IP \(ip) of port \(p.target): only IPv4 addresses are supported")) }
            var hostPort: UInt16
            if let published = p.published, !published.isEmpty {
                let range = published.split(separator: "-").compactMap { UInt16($0) }
                guard let low = range.first else { throw EngineError(.invalidValue(what: "published port", value: published)) }
                let high = range.count > 1 ? range[1] : low
                hostPort = low
                if high > low {
                    // As Compose: the first free port of the range.
                    hostPort = HostPorts.firstFree(in: low...high, proto: p.proto, ip: hostIP) ?? low
                }
            } else {
                hostPort = HostPorts.ephemeral(proto: p.proto)
            }
            if let start = Rootless.hostPortStart, hostPort < start {
                throw EngineError(.privilegedPort(hostPort, lowest: start))
            }
            out.append(PortBinding(proto: p.proto, hostIP: hostIP, hostPort: hostPort, containerPort: UInt16(p.target)))
        }
        return out
    }

    /// The container whose network namespace `network_mode: service:X|container:NAME` joins.
    func networkParent(_ mode: NamespaceMode, project: String) throws -> ContainerStatus {
        let all = containers(project: nil)
        if let service = mode.service {
            guard let c = all.first(where: { $0.record.project == project && $0.record.service == service && $0.running }) ?? all.first(where: { $0.record.project == project && $0.record.service == service }) else {
                throw EngineError(.networkModeServiceMissing(service))
            }
            return c
        }
        let name: String
        if case .container(let given) = mode { name = given } else { name = "" }
        guard let c = all.first(where: { $0.record.name == name || $0.record.id.hasPrefix(name) }), !name.isEmpty else {
            throw EngineError(.noSuchContainer(name))
        }
        return c
    }

    /// Removes a container's endpoints, port rules and host-side links.
    func releaseNetwork(_ containerID: String) { networkBackend.release(container: containerID) }

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
                progress(.warning("network \(record.name) is still in use by \(users.map(\.containerName).sorted().joined(separator: ", "))"))
                continue
            }
            progress(.resource(.network, record.name, "Removing"))
            try removeNetwork(record)
            progress(.resource(.network, record.name, "Removed"))
        }
    }

    /// Deletes a network's bridge, rules and record.
    public func removeNetwork(_ record: NetworkRecord) throws {
        do {
            try networkBackend.remove(record)
        } catch {
            throw Self.reported(error)
        }
    }

    /// Published ports of a container, as `ps` and `port` show them.
    public func ports(of c: ContainerStatus) -> [PortBinding] { c.record.ports ?? [] }
}
