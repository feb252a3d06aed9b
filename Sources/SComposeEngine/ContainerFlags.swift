// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeSpec

/// The flags of `container run` and `container create` (Docker's `docker run`), as written on
/// the command line: `ContainerFlags.definition` turns them into the one-container service the
/// engine creates, with no I/O, so that every rule is tested as text.
public struct ContainerRunFlags: Sendable, Equatable {
    public var image: String
    public var command: [String] = []
    public var name: String?
    public var detach = false
    public var interactive = false
    public var tty = false
    /// `--rm`: removed once it exits.
    public var autoRemove = false
    /// `-p`: `[ip:][hostPort:]containerPort[/proto]`, ranges allowed.
    public var publish: [String] = []
    /// `-P`: every port the image exposes, on a random host port.
    public var publishAll = false
    /// `-e KEY=VALUE`, or `-e KEY` for the caller's value.
    public var env: [String] = []
    /// The lines of each `--env-file`, in order (read by the caller).
    public var envFileLines: [String] = []
    /// `-v SRC:DST[:OPTS]`, `-v DST` (anonymous).
    public var volumes: [String] = []
    /// `--mount type=…,source=…,target=…`.
    public var mounts: [String] = []
    /// `--tmpfs /path[:options]`.
    public var tmpfs: [String] = []
    public var workdir: String?
    public var user: String?
    /// `--entrypoint`: one program, not split (as Docker).
    public var entrypoint: String?
    /// `--network`: `bridge` (the default), `host`, `none`, `container:NAME` or a network's name.
    public var network: String?
    public var networkAliases: [String] = []
    public var hostname: String?
    public var restart: String?
    public var healthCmd: String?
    public var healthInterval: String?
    public var healthTimeout: String?
    public var healthStartPeriod: String?
    public var healthStartInterval: String?
    public var healthRetries: Int?
    public var noHealthcheck = false
    public var memory: String?
    public var cpus: String?
    public var pidsLimit: Int64?
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    public var privileged = false
    public var readOnly = false
    public var securityOpt: [String] = []
    public var initProcess = false
    /// `-l KEY=VALUE`.
    public var labels: [String] = []
    /// `--pull always|missing|never`.
    public var pull: String?
    public var platform: String?
    public var stopSignal: String?
    public var stopTimeout: Int?
    /// `--add-host name:ip` (or `name=ip`; `host-gateway` for the network's gateway).
    public var addHosts: [String] = []
    public var dns: [String] = []
    public var dnsSearch: [String] = []
    public var dnsOptions: [String] = []
    /// `--ulimit name=soft[:hard]`.
    public var ulimits: [String] = []
    /// `--device host[:container][:permissions]`.
    public var devices: [String] = []
    /// `--sysctl key=value`.
    public var sysctls: [String] = []
    public var shmSize: String?
    public var groupAdd: [String] = []

    public init(image: String) { self.image = image }
}

/// What one container needs, decided from its flags: the service it is created as, and the
/// networks and volumes that service names (keyed by their names, as standalone containers
/// use them: no project prefix).
public struct ContainerDefinition: Sendable, Equatable {
    public var service: ServiceConfig
    /// The network it joins (nil with `host`, `none` or `container:NAME`).
    public var network: String?
    public var volumes: [String: VolumeConfig] = [:]
}

/// The translation of `docker run`'s flags into a one-container service, with Docker's rules
/// and words for what is wrong.
public enum ContainerFlags {
    /// The name of Docker's default network, made on first use by a container without
    /// `--network`.
    public static let defaultNetwork = "bridge"

    /// Docker's rule for container and volume names.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isAlphanumeric(first), name.unicodeScalars.count >= 2 else { return false }
        return name.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    /// The service for these flags; `environment` is the caller's (for `-e KEY`).
    public static func definition(_ flags: ContainerRunFlags, environment: [String: String]) throws -> ContainerDefinition {
        var service = ServiceConfig(name: "")
        service.image = flags.image
        if let name = flags.name {
            guard isValidName(name.hasPrefix("/") ? String(name.dropFirst()) : name) else {
                throw EngineError(.invalidContainerName(name))
            }
        }
        if let workdir = flags.workdir, !workdir.isEmpty, !workdir.hasPrefix("/") {
            throw EngineError(.relativeWorkingDirectory(workdir))
        }
        if !flags.command.isEmpty { service.command = flags.command }
        if let entrypoint = flags.entrypoint {
            // As Docker: an empty --entrypoint clears the image's; the image's CMD goes too.
            service.entrypoint = entrypoint.isEmpty ? [] : [entrypoint]
            if flags.command.isEmpty { service.command = [] }
        }
        for line in flags.envFileLines {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            try setEnvironment(&service, String(trimmed), environment: environment)
        }
        for item in flags.env { try setEnvironment(&service, item, environment: environment) }
        for item in flags.labels {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard let key = parts.first, !key.isEmpty else { throw EngineError(.invalidValue(what: "label", value: item)) }
            service.labels[key] = parts.count == 2 ? parts[1] : ""
        }
        service.ports = try flags.publish.flatMap(parsePort)
        var definition = ContainerDefinition(service: service)
        for spec in flags.volumes { try addVolume(spec, to: &definition) }
        for spec in flags.mounts { try addMount(spec, to: &definition) }
        definition.service.tmpfs = flags.tmpfs
        try applyNetwork(flags, to: &definition)
        try applyRuntime(flags, to: &definition.service)
        return definition
    }

    static func setEnvironment(_ service: inout ServiceConfig, _ item: String, environment: [String: String]) throws {
        let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let key = parts.first, !key.isEmpty else { throw EngineError(.invalidValue(what: "environment variable", value: item)) }
        if parts.count == 2 {
            service.environment[key] = parts[1]
        } else if let value = environment[key] {
            service.environment[key] = value
        }
        // `-e KEY` of a variable the caller does not have sets nothing, as Docker.
    }

    static func applyNetwork(_ flags: ContainerRunFlags, to definition: inout ContainerDefinition) throws {
        let mode = flags.network ?? defaultNetwork
        switch mode {
        case "host", "none":
            definition.service.networkMode = mode
        case let m where m.hasPrefix("container:"):
            guard m.count > "container:".count else { throw EngineError(.invalidValue(what: "network mode", value: m)) }
            definition.service.networkMode = m
        default:
            let name = mode == "default" ? defaultNetwork : mode
            var attachment = ServiceNetwork()
            attachment.aliases = flags.networkAliases
            definition.service.networks[name] = attachment
            definition.network = name
        }
        if !flags.networkAliases.isEmpty && (definition.network == nil || definition.network == defaultNetwork) {
            throw EngineError(.aliasOnDefaultNetwork)
        }
        if let hostname = flags.hostname {
            // Docker refuses a hostname with a namespace it does not own.
            if mode == "host" || mode.hasPrefix("container:") { throw EngineError(.conflictingOptions("hostname and the network mode")) }
            definition.service.hostname = hostname
        }
        if !flags.publish.isEmpty || flags.publishAll, mode == "host" || mode == "none" || mode.hasPrefix("container:") {
            // Docker drops them with a warning for host; the others are refused.
            if mode != "host" { throw EngineError(.conflictingOptions("port publishing and the container type network mode")) }
            definition.service.ports = []
        }
    }

    static func applyRuntime(_ flags: ContainerRunFlags, to service: inout ServiceConfig) throws {
        service.workingDir = flags.workdir
        service.user = flags.user
        service.tty = flags.tty
        service.stdinOpen = flags.interactive
        if let restart = flags.restart {
            if flags.autoRemove && restart != "no" { throw EngineError(.conflictingOptions("--restart and --rm")) }
            service.restart = restart
        }
        service.privileged = flags.privileged
        service.readOnly = flags.readOnly
        service.capAdd = flags.capAdd
        service.capDrop = flags.capDrop
        service.securityOpt = flags.securityOpt
        if flags.initProcess { service.initProcess = true }
        service.pullPolicy = flags.pull
        service.platform = flags.platform
        service.stopSignal = flags.stopSignal
        service.stopGracePeriod = flags.stopTimeout.map { Int64($0) * 1_000_000_000 }
        if let memory = flags.memory {
            do {
                service.memLimit = try Units.bytes(memory)
            } catch {
                throw EngineError(.invalidValue(what: "argument \"\(memory)\" for \"-m, --memory\" flag", value: error.message))
            }
        }
        if let cpus = flags.cpus {
            guard let n = Double(cpus), n >= 0 else { throw EngineError(.invalidValue(what: "argument \"\(cpus)\" for \"--cpus\" flag", value: "failed to parse \(cpus) as a rational number")) }
            service.cpus = n
        }
        service.pidsLimit = flags.pidsLimit
        try applyHostFlags(flags, to: &service)
        if flags.noHealthcheck {
            if flags.healthCmd != nil { throw EngineError(.conflictingOptions("--no-healthcheck and --health-*")) }
            var check = Healthcheck()
            check.test = ["NONE"]
            service.healthcheck = check
        } else if flags.healthCmd != nil || flags.healthInterval != nil || flags.healthTimeout != nil || flags.healthRetries != nil
            || flags.healthStartPeriod != nil || flags.healthStartInterval != nil
        {
            var check = Healthcheck()
            if let cmd = flags.healthCmd { check.test = ["CMD-SHELL", cmd] }
            func duration(_ text: String?, _ flag: String) throws -> Int64? {
                guard let text else { return nil }
                do {
                    return try Units.duration(text)
                } catch {
                    throw EngineError(.invalidValue(what: "argument \"\(text)\" for \"--\(flag)\" flag", value: error.message))
                }
            }
            check.interval = try duration(flags.healthInterval, "health-interval")
            check.timeout = try duration(flags.healthTimeout, "health-timeout")
            check.startPeriod = try duration(flags.healthStartPeriod, "health-start-period")
            check.startInterval = try duration(flags.healthStartInterval, "health-start-interval")
            check.retries = flags.healthRetries
            service.healthcheck = check
        }
    }

    /// What Docker's flags ask of the container's host side: names, resolvers, limits,
    /// devices, kernel parameters, shared memory and groups. Each bad value is Docker's error.
    static func applyHostFlags(_ flags: ContainerRunFlags, to service: inout ServiceConfig) throws {
        func bad(_ flag: String, _ value: String, _ why: String) -> EngineError {
            EngineError(.invalidValue(what: "argument \"\(value)\" for \"--\(flag)\" flag", value: why))
        }
        for entry in flags.addHosts {
            let parts = entry.split(maxSplits: 1, whereSeparator: { $0 == ":" || $0 == "=" })
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw bad("add-host", entry, "bad format for add-host: \"\(entry)\"") }
        }
        service.extraHosts = flags.addHosts
        service.dns = flags.dns
        service.dnsSearch = flags.dnsSearch
        service.dnsOpt = flags.dnsOptions
        for entry in flags.ulimits {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let values = parts.count == 2 ? parts[1].split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) } : []
            guard parts.count == 2, (1...2).contains(values.count), let soft = values.first ?? nil, let hard = values.last ?? nil else {
                throw bad("ulimit", entry, "invalid ulimit argument: \(entry)")
            }
            guard ulimitNames.contains(parts[0]) else { throw bad("ulimit", entry, "invalid ulimit type: \(parts[0])") }
            guard soft <= hard else { throw bad("ulimit", entry, "ulimit soft limit must be less than or equal to hard limit: \(soft) > \(hard)") }
            service.ulimits[parts[0]] = Ulimit(soft: soft, hard: hard)
        }
        for entry in flags.devices {
            var parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            // `--device /dev/sda:rw`: the second part is the permissions when it reads as them.
            var permissions = "rwm"
            if parts.count >= 2, let last = parts.last, !last.isEmpty, last.allSatisfy({ "rwm".contains($0) }) {
                permissions = last
                parts.removeLast()
            }
            guard (1...2).contains(parts.count), parts.allSatisfy({ $0.hasPrefix("/") }) else {
                throw bad("device", entry, "invalid device specification: \(entry)")
            }
            service.devices.append(DeviceMapping(source: parts[0], target: parts.count == 2 ? parts[1] : parts[0], permissions: permissions))
        }
        for entry in flags.sysctls {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw bad("sysctl", entry, "invalid argument \(entry)") }
            service.sysctls[parts[0]] = parts[1]
        }
        if let size = flags.shmSize {
            do {
                service.shmSize = try Units.bytes(size)
            } catch {
                throw bad("shm-size", size, error.message)
            }
        }
        service.groupAdd = flags.groupAdd
    }

    /// The limits `--ulimit` may name (Docker's list, from setrlimit(2)).
    static let ulimitNames: Set<String> = [
        "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime",
        "sigpending", "stack",
    ]

    // MARK: - Ports

    /// `-p` as `nat.ParsePortSpec` reads it: `[ip:][hostPort:]containerPort[/proto]`, where
    /// either port may be a range (a host range for one container port picks a free one).
    public static func parsePort(_ spec: String) throws -> [PortConfig] {
        var rest = Substring(spec)
        var proto = "tcp"
        if let slash = rest.lastIndex(of: "/") {
            proto = String(rest[rest.index(after: slash)...]).lowercased()
            rest = rest[..<slash]
        }
        guard ["tcp", "udp", "sctp"].contains(proto) else { throw EngineError(.invalidValue(what: "proto", value: proto)) }
        var ip: String?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            ip = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") { rest = rest.dropFirst() }
        }
        var parts = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3, ip == nil {
            ip = parts.removeFirst()
        } else if parts.count > 3 || (parts.count == 3 && ip != nil) {
            throw EngineError(.invalidValue(what: "port format", value: spec))
        }
        let containerText = parts.last ?? ""
        let hostText = parts.count == 2 ? parts[0] : ""
        if let given = ip, !given.isEmpty, !isIPv4(given) && !given.contains(":") {
            throw EngineError(.invalidValue(what: "IP address", value: given))
        }
        guard let container = portRange(containerText) else { throw EngineError(.invalidValue(what: "containerPort", value: containerText)) }
        var host: (Int, Int)?
        if !hostText.isEmpty {
            guard let h = portRange(hostText) else { throw EngineError(.invalidValue(what: "hostPort", value: hostText)) }
            host = h
        }
        let count = container.1 - container.0 + 1
        if let host, host.1 - host.0 + 1 != count, container.0 != container.1 {
            throw EngineError(.invalidValue(what: "ranges for mapping", value: "\(hostText) \(containerText)"))
        }
        let hostIP = ip.flatMap { $0.isEmpty || $0 == "0.0.0.0" ? nil : $0 }
        return (0..<count).map { i in
            let published: String?
            if let host {
                published = container.0 == container.1 && host.0 != host.1 ? "\(host.0)-\(host.1)" : String(host.0 + i)
            } else {
                published = nil
            }
            return PortConfig(target: container.0 + i, published: published, hostIP: hostIP, proto: proto)
        }
    }

    static func portRange(_ text: String) -> (Int, Int)? {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 1 || bounds.count == 2 else { return nil }
        let numbers = bounds.compactMap { Int($0) }
        guard numbers.count == bounds.count, numbers.allSatisfy({ (1...65535).contains($0) }) else { return nil }
        let low = numbers[0], high = numbers.count == 2 ? numbers[1] : numbers[0]
        return high >= low ? (low, high) : nil
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in UInt8(p) != nil }
    }

    // MARK: - Mounts

    /// `-v`: `DST` (anonymous volume), `NAME:DST[:OPTS]` (named volume), `/SRC:DST[:OPTS]`
    /// (bind, its source made if missing, as Docker's `-v` does).
    static func addVolume(_ spec: String, to definition: inout ContainerDefinition) throws {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw EngineError(.invalidValue(what: "volume specification", value: "'\(spec)'"))
        }
        if parts.count == 1 {
            definition.service.volumes.append(VolumeMount(type: .volume, source: nil, target: parts[0]))
            return
        }
        let (source, target) = (parts[0], parts[1])
        var mount: VolumeMount
        if source.hasPrefix("/") {
            mount = VolumeMount(type: .bind, source: source, target: target)
            mount.createHostPath = true
        } else {
            guard isValidName(source) else { throw EngineError(.invalidVolumeName(source)) }
            mount = VolumeMount(type: .volume, source: source, target: target)
            definition.volumes[source] = VolumeConfig(name: source)
        }
        if parts.count == 3 {
            for option in parts[2].split(separator: ",").map(String.init) {
                switch option {
                case "ro", "readonly": mount.readOnly = true
                case "rw": mount.readOnly = false
                case "z", "Z": mount.selinux = option
                case "nocopy": mount.noCopy = true
                case "private", "rprivate", "shared", "rshared", "slave", "rslave": mount.propagation = option
                default: throw EngineError(.invalidValue(what: "mode", value: option))
                }
            }
        }
        definition.service.volumes.append(mount)
    }

    /// `--mount`: comma-separated `key=value` fields (`type` bind, volume or tmpfs; `source`,
    /// `target`, `readonly`, `volume-nocopy`, `volume-subpath`, `bind-propagation`,
    /// `tmpfs-size`, `tmpfs-mode`). A bind's missing source is an error, as with Docker.
    static func addMount(_ spec: String, to definition: inout ContainerDefinition) throws {
        var fields: [String: String] = [:]
        for field in spec.split(separator: ",").map(String.init) {
            let kv = field.split(separator: "=", maxSplits: 1).map(String.init)
            let key = kv[0].lowercased()
            fields[key] = kv.count == 2 ? kv[1] : (["readonly", "ro", "volume-nocopy"].contains(key) ? "true" : nil)
            if fields[key] == nil { throw EngineError(.invalidValue(what: "field", value: "'\(field)' must be a key=value pair")) }
        }
        let typeText = fields["type"] ?? "volume"
        guard let kind = VolumeMount.Kind(rawValue: typeText), [.bind, .volume, .tmpfs].contains(kind) else {
            throw EngineError(.invalidValue(what: "mount type", value: typeText))
        }
        guard let target = fields["target"] ?? fields["destination"] ?? fields["dst"] else {
            throw EngineError(.invalidValue(what: "mount config", value: "field Target must not be empty"))
        }
        let source = fields["source"] ?? fields["src"]
        var mount = VolumeMount(type: kind, source: source, target: target)
        func flag(_ key: String) -> Bool { ["true", "1", ""].contains(fields[key]?.lowercased() ?? "false") }
        mount.readOnly = flag("readonly") || flag("ro")
        switch kind {
        case .bind:
            guard source != nil else { throw EngineError(.invalidValue(what: "mount config for type \"bind\"", value: "field Source must not be empty")) }
            mount.propagation = fields["bind-propagation"]
        case .volume:
            if let source {
                guard isValidName(source) else { throw EngineError(.invalidVolumeName(source)) }
                definition.volumes[source] = VolumeConfig(name: source)
            }
            mount.noCopy = flag("volume-nocopy")
            mount.subpath = fields["volume-subpath"]
        default:
            if let size = fields["tmpfs-size"] {
                do {
                    mount.tmpfsSize = try Units.bytes(size)
                } catch {
                    throw EngineError(.invalidValue(what: "tmpfs-size", value: size))
                }
            }
            if let mode = fields["tmpfs-mode"] {
                guard let bits = UInt32(mode, radix: 8) else { throw EngineError(.invalidValue(what: "tmpfs-mode", value: mode)) }
                mount.tmpfsMode = bits
            }
        }
        definition.service.volumes.append(mount)
    }
}
