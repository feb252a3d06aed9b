// SPDX-License-Identifier: Apache-2.0
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec

/// Everything `create` found or made on the host for a container before its spec is built:
/// the inputs of `ContainerSpecBuilder` that took I/O (the image's files, the volume store,
/// address allocation, the AppArmor policy, the clock).
struct ContainerResolution: Sendable {
    var id: String
    /// The container's directory once created (paths inside the spec are the final ones).
    var files: ContainerFiles
    var imageName: String
    var imageID: String
    /// The image's layer directories, lowest first.
    var layers: [String]
    var defaults: ImageConfig.ContainerDefaults
    /// The user and groups the process runs as, read from the image's passwd and group files.
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var additionalGids: [UInt32] = []
    var storage: StoragePlan
    var network: NetworkPlan
    /// The AppArmor profile (nil where AppArmor is off, or unconfined), loaded if it was ours.
    var appArmorProfile: String?
    /// Where the container's cgroup goes: a systemd scope (cgroup v2 under systemd), scompose's
    /// own tree, or none (rootless with no delegated cgroups: its limits cannot be applied).
    var cgroups: CgroupPlacement = .tree
    /// Created by a rootless scompose, inside the user's namespaces: how many group IDs the
    /// user namespace maps (nil in root mode).
    var rootlessGroups: UInt32?
    /// The host's `/etc/hosts`, for `network_mode: host`.
    var hostEtcHosts: String?
    /// The service's `devices`, as the host's nodes were found.
    var devices: [ContainerConfig.Device] = []
    /// When the container is created (RFC 3339).
    var created: String
    var events: EventSource
}

/// What a container is, ready to be written: the shim's spec, the record `ps` reads, and the
/// files bound over `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`.
struct ContainerBlueprint: Sendable, CustomStringConvertible {
    var spec: ShimSpec
    var record: ContainerRecord
    var hostname: String
    var hosts: String
    var resolvConf: String

    /// One line per decision: the files' lines, then every leaf of the spec and the record as
    /// `path = value`, so that tests read what was decided as text.
    var description: String {
        var lines = ["hostname \(hostname)"]
        lines += hosts.split(separator: "\n").map { "hosts \($0.replacing("\t", with: " "))" }
        lines += resolvConf.split(separator: "\n").map { "resolv \($0)" }
        for (prefix, bytes) in [("spec", try? StateJSONEncoder().encode(spec)), ("record", try? StateJSONEncoder().encode(record))] {
            guard let bytes, let tree = try? JSONValue.parse(bytes) else { continue }
            lines += tree.flattened(prefix)
        }
        return lines.joined(separator: "\n")
    }
}

/// The translation of a compose service into a container, with no I/O: service, image
/// defaults and what `create` resolved in, spec and record out. Every rule of Docker's that
/// decides what a container gets lives here, so that it is tested as text without root.
struct ContainerSpecBuilder: Sendable {
    var project: String
    var workingDirectory: String
    var composeFiles: [String]
    var service: ServiceConfig
    var number: Int
    var name: String
    /// The configuration hash of the service (the `config-hash` label).
    var hash: String
    var oneoff: OneOff?

    /// Docker's `PATH` when neither image nor service sets one.
    static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    func build(_ r: ContainerResolution) throws -> ContainerBlueprint {
        let defaults = r.defaults
        let entrypoint = service.entrypoint ?? defaults.Entrypoint ?? []
        let cmd = service.command ?? (service.entrypoint != nil ? [] : defaults.Cmd ?? [])
        let args = entrypoint + cmd
        guard !args.isEmpty else { throw EngineError(.noCommand(service: service.name)) }
        let hostname = Self.hostname(service, id: r.id)
        var config = ContainerConfig(
            layers: r.layers, upperDir: r.files.upper, workDir: r.files.work, rootDir: r.files.root, args: args,
            env: environment(defaults.Env ?? [], hostname: hostname))
        config.workingDir = service.workingDir ?? defaults.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        (config.uid, config.gid, config.additionalGids) = (r.uid, r.gid, r.additionalGids)
        config.hostname = hostname
        config.privileged = service.privileged
        config.inUserNamespace = r.rootlessGroups != nil
        // Rootless with no cgroups delegated, exec'd processes stay where they are.
        config.ownCgroup = r.cgroups != .none
        config.ttyGroupMapped = (r.rootlessGroups ?? .max) > 5
        config.readOnlyRootfs = service.readOnly
        config.mounts = r.storage.mounts
        config.shmSize = service.shmSize
        config.devices = r.devices
        try Security.apply(service, appArmorProfile: r.appArmorProfile, to: &config)
        config.tty = service.tty
        config.initProcess = service.initProcess ?? false
        let network = r.network
        if service.network == .host || network.joinDirectory != nil { config.namespaces.remove(.net) }
        if config.namespaces.contains(.net) {
            // Docker's defaults for a private network namespace.
            config.sysctls = ["net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 \(r.rootlessGroups.map { $0 - 1 } ?? 2_147_483_647)"]
        }
        for (key, value) in service.sysctls { config.sysctls[key] = value }
        try Security.checkSysctls(config.sysctls, hostNetwork: !config.namespaces.contains(.net))
        var hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        hosts += network.hosts.isEmpty ? "127.0.1.1\t\(hostname)\n" : network.hosts.joined(separator: "\n") + "\n"
        if service.network == .host, let hostEtcHosts = r.hostEtcHosts { hosts = hostEtcHosts }
        config.fileBinds = [
            .init(source: network.hostsSource ?? r.files.hosts, target: "/etc/hosts"),
            .init(source: r.files.hostname, target: "/etc/hostname"), .init(source: r.files.resolvConf, target: "/etc/resolv.conf"),
        ]
        let memory = service.memLimit ?? service.deploy?.memoryLimit
        // Docker's default: as much swap as memory (memory + swap = twice the limit).
        let resources = Resources(
            memory: memory, memorySwap: service.memswapLimit ?? memory.map { $0 * 2 },
            cpus: service.cpus ?? service.deploy?.cpuLimit, cpuShares: service.cpuShares,
            pids: service.pidsLimit ?? service.deploy?.pidsLimit, blkioWeight: service.blkioWeight)
        // Under systemd (cgroup v2), a delegated scope per container that systemd leaves alone
        // (the user's own manager's, rootless).
        let manager = r.cgroups.manager
        let scope = manager.map { _ in SystemdScope.unitName(container: name, id: r.id) }
        let cgroup = r.cgroups == .none ? nil : scope.map { SystemdScope.containerCgroup(unit: $0, manager: manager ?? .system) } ?? "scompose/\(r.id)"
        var spec = ShimSpec(id: r.id, container: config, cgroup: cgroup, resources: resources)
        spec.systemdScope = scope
        spec.systemdManager = manager == .system ? nil : manager
        spec.restart = try Self.restartPolicy(service)
        spec.stdinOpen = service.stdinOpen
        spec.network = network.shim
        spec.joinNetworkOf = network.joinDirectory
        spec.healthcheck = Self.healthcheck(service.healthcheck, image: defaults.Healthcheck)
        spec.waitForAttach = oneoff?.attach == true ? true : nil
        spec.events = r.events
        (spec.logMaxSize, spec.logMaxFiles) = try Self.logRotation(service)
        var record = ContainerRecord(
            id: r.id, name: name, project: project, service: service.name, number: number, image: r.imageName,
            imageID: r.imageID, command: args, created: r.created, configHash: hash, labels: labels(imageID: r.imageID),
            stopSignal: try service.stopSignal.map { try Signals.number($0) },
            stopTimeout: service.stopGracePeriod.map { Int($0 / 1_000_000_000) },
            anonymousVolumes: r.storage.anonymous.isEmpty ? nil : r.storage.anonymous,
            ports: network.ports.isEmpty ? nil : network.ports, healthcheck: spec.healthcheck != nil ? true : nil,
            preStop: service.preStop.isEmpty ? nil : service.preStop.map(HookRecord.init))
        if network.primaryAddress6 != nil, network.ports.contains(where: { $0.hostIP == nil }) { record.portsOnIPv6 = true }
        return ContainerBlueprint(spec: spec, record: record, hostname: hostname, hosts: hosts, resolvConf: network.resolvConf)
    }

    /// `hostname:`, or Docker's: the container id's first 12 digits.
    static func hostname(_ service: ServiceConfig, id: String) -> String {
        service.hostname ?? String(id.prefix(12))
    }

    /// The image's environment, the service's over it (sorted by name; a variable without a
    /// value removes the image's), Docker's `PATH` when none is set, `HOSTNAME` first.
    func environment(_ image: [String], hostname: String) -> [String] {
        var env = image
        for (key, value) in service.environment.sorted(by: { $0.key < $1.key }) {
            env.removeAll { $0.hasPrefix(key + "=") }
            if let value { env.append("\(key)=\(value)") }
        }
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert(Self.defaultPath, at: 0) }
        env.insert("HOSTNAME=\(hostname)", at: 0)
        return env
    }

    /// The service's labels with Compose's own over them; a container of no project (`container
    /// run`) has only its own, as with Docker.
    func labels(imageID: String) -> [String: String] {
        var labels = service.labels
        if project.isEmpty { return labels }
        labels[ComposeLabel.project] = project
        labels[ComposeLabel.service] = service.name
        labels[ComposeLabel.containerNumber] = String(number)
        labels[ComposeLabel.oneoff] = oneoff == nil ? "False" : "True"
        if let oneoff { labels[ComposeLabel.slug] = oneoff.slug }
        labels[ComposeLabel.configHash] = hash
        labels[ComposeLabel.workingDir] = workingDirectory
        labels[ComposeLabel.configFiles] = composeFiles.joined(separator: ",")
        labels[ComposeLabel.image] = imageID
        labels[ComposeLabel.version] = Engine.version
        labels[ComposeLabel.dependsOn] = ComposeLabel.dependsOnValue(service.dependsOn)
        return labels
    }

    /// The service's healthcheck over the image's, Docker's defaults for what neither sets; nil
    /// for none (`NONE`, `disable: true`).
    static func healthcheck(_ service: Healthcheck?, image: ImageConfig.HealthConfig?) -> HealthcheckSpec? {
        if service?.disable == true { return nil }
        let test = (service?.test.isEmpty == false ? service?.test : nil) ?? image?.Test ?? []
        guard let kind = test.first, kind != "NONE" else { return nil }
        let command: [String]
        switch kind {
        case "CMD": command = Array(test.dropFirst())
        case "CMD-SHELL": command = ["/bin/sh", "-c", test.dropFirst().joined(separator: " ")]
        default: command = ["/bin/sh", "-c", test.joined(separator: " ")]
        }
        guard !command.isEmpty else { return nil }
        var spec = HealthcheckSpec(command: command)
        func positive(_ v: Int64?) -> Int64? { v.flatMap { $0 > 0 ? $0 : nil } }
        if let v = positive(service?.interval) ?? positive(image?.Interval) { spec.interval = v }
        if let v = positive(service?.timeout) ?? positive(image?.Timeout) { spec.timeout = v }
        if let v = positive(service?.startPeriod) ?? positive(image?.StartPeriod) { spec.startPeriod = v }
        if let v = positive(service?.startInterval) ?? positive(image?.StartInterval) { spec.startInterval = v }
        if let v = (service?.retries ?? image?.Retries).flatMap({ $0 > 0 ? $0 : nil }) { spec.retries = v }
        return spec
    }

    /// `restart:` or, failing that, `deploy.restart_policy`.
    static func restartPolicy(_ service: ServiceConfig) throws -> RestartPolicy {
        if let text = service.restart {
            guard let policy = RestartPolicy(parsing: text) else {
                throw EngineError(.invalidValue(what: "restart policy of service \"\(service.name)\"", value: text))
            }
            return policy
        }
        switch service.deploy?.restartCondition {
        case "none": return .no
        case "on-failure": return RestartPolicy(name: "on-failure", maxRetries: service.deploy?.restartMaxAttempts ?? 0)
        case "any": return RestartPolicy(name: "always", maxRetries: 0)
        default: return .no
        }
    }

    /// json-file rotation from `logging:` (max-size like `10m`, max-file).
    static func logRotation(_ service: ServiceConfig) throws -> (Int64?, Int) {
        guard let logging = service.logging else { return (nil, 1) }
        if let driver = logging.driver, !["json-file", "local"].contains(driver) {
            throw EngineError(.unsupported("logging driver \"\(driver)\" of service \"\(service.name)\" is not supported (json-file only)"))
        }
        var size: Int64?
        if let text = logging.options["max-size"], text != "-1" {
            guard let bytes = parseSize(text) else { throw EngineError(.invalidValue(what: "max-size of service \"\(service.name)\"", value: text)) }
            size = bytes
        }
        var files = 1
        if let text = logging.options["max-file"] {
            guard let n = Int(text), n >= 1 else { throw EngineError(.invalidValue(what: "max-file of service \"\(service.name)\"", value: text)) }
            files = n
        }
        return (size, files)
    }

    /// `10m`, `512k`, `1g`, `100` (bytes), as docker's units.RAMInBytes.
    static func parseSize(_ text: String) -> Int64? {
        var digits = text.lowercased()
        var unit: Int64 = 1
        if digits.hasSuffix("b") { digits.removeLast() }
        switch digits.last {
        case "k": unit = 1 << 10
        case "m": unit = 1 << 20
        case "g": unit = 1 << 30
        default: break
        }
        if unit > 1 { digits.removeLast() }
        guard let n = Int64(digits), n > 0 else { return nil }
        return n * unit
    }
}

extension ContainerSpecBuilder {
    /// The resource keys of `services` that take a cgroup, as `service: key, key` lines: what
    /// a rootless `up` without delegated cgroups cannot apply and says so (as podman does).
    static func cgroupKeys(_ services: [ServiceConfig]) -> [String] {
        services.sorted { $0.name < $1.name }.compactMap { s in
            var keys: [String] = []
            if s.memLimit != nil || s.deploy?.memoryLimit != nil { keys.append("mem_limit") }
            if s.memswapLimit != nil { keys.append("memswap_limit") }
            if s.cpus != nil || s.deploy?.cpuLimit != nil { keys.append("cpus") }
            if s.cpuShares != nil { keys.append("cpu_shares") }
            if s.pidsLimit != nil || s.deploy?.pidsLimit != nil { keys.append("pids_limit") }
            if s.blkioWeight != nil { keys.append("blkio_config") }
            return keys.isEmpty ? nil : "\(s.name): " + keys.joined(separator: ", ")
        }
    }
}
