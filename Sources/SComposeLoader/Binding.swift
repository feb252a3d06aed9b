// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeSpec

/// Binds the printed model (every value already decoded to its canonical form by `Render`)
/// to the typed `ComposeProject` the engine uses.
public enum Binding {
    /// The typed project for a rendered model.
    public static func project(_ model: JSONValue, workingDirectory: String, files: [String]) -> ComposeProject {
        var project = ComposeProject(
            name: model["name"]?.stringValue ?? "", workingDirectory: workingDirectory, composeFiles: files)
        for (name, s) in model["services"]?.pairs ?? [] { project.services[name] = service(name, s) }
        for (key, n) in model["networks"]?.pairs ?? [] { project.networks[key] = network(key, n) }
        for (key, v) in model["volumes"]?.pairs ?? [] {
            var volume = VolumeConfig(name: v["name"]?.stringValue ?? key)
            volume.driver = v["driver"]?.stringValue
            volume.driverOpts = v["driver_opts"]?.stringMapKeepingKeys ?? [:]
            volume.external = v["external"]?.boolValue ?? false
            volume.labels = v["labels"]?.stringMapKeepingKeys ?? [:]
            project.volumes[key] = volume
        }
        for (kind, value) in [("secrets", model["secrets"]), ("configs", model["configs"])] {
            for (key, f) in value?.pairs ?? [] {
                var object = FileObjectConfig(name: f["name"]?.stringValue ?? key)
                object.file = f["file"]?.stringValue
                object.environment = f["environment"]?.stringValue
                object.content = f["content"]?.stringValue
                object.external = f["external"]?.boolValue ?? false
                object.labels = f["labels"]?.stringMapKeepingKeys ?? [:]
                if kind == "secrets" { project.secrets[key] = object } else { project.configs[key] = object }
            }
        }
        return project
    }

    static func durationNS(_ v: JSONValue?) -> Int64? {
        guard let text = v?.stringValue else { return nil }
        return try? Units.duration(text)
    }

    static func bytes(_ v: JSONValue?) -> Int64? {
        guard let text = v?.stringValue else { return nil }
        return Int64(text)
    }

    static func service(_ name: String, _ s: JSONValue) -> ServiceConfig {
        var svc = ServiceConfig(name: name)
        svc.image = s["image"]?.stringValue
        if let b = s["build"] {
            var build = BuildConfig(context: b["context"]?.stringValue ?? ".")
            build.dockerfile = b["dockerfile"]?.stringValue
            build.dockerfileInline = b["dockerfile_inline"]?.stringValue
            build.args = b["args"]?.optionalStringMap ?? [:]
            build.target = b["target"]?.stringValue
            build.labels = b["labels"]?.stringMapKeepingKeys ?? [:]
            build.tags = b["tags"]?.strings ?? []
            build.network = b["network"]?.stringValue
            build.extraHosts = b["extra_hosts"]?.strings ?? []
            build.shmSize = bytes(b["shm_size"])
            build.noCache = b["no_cache"]?.boolValue ?? false
            build.pull = b["pull"]?.boolValue ?? false
            build.platforms = b["platforms"]?.strings ?? []
            build.additionalContexts = b["additional_contexts"]?.stringMapKeepingKeys ?? [:]
            build.secrets = (b["secrets"]?.items ?? []).map(fileReference)
            build.ssh = b["ssh"]?.strings ?? []
            svc.build = build
        }
        if case .array = s["command"] { svc.command = s["command"]?.strings }
        if case .array = s["entrypoint"] { svc.entrypoint = s["entrypoint"]?.strings }
        svc.environment = s["environment"]?.optionalStringMap ?? [:]
        svc.labels = s["labels"]?.stringMapKeepingKeys ?? [:]
        svc.annotations = s["annotations"]?.stringMapKeepingKeys ?? [:]
        for p in s["ports"]?.items ?? [] {
            var port = PortConfig(
                target: Int(p["target"]?.int64Value ?? 0), published: p["published"]?.stringValue,
                hostIP: p["host_ip"]?.stringValue, proto: p["protocol"]?.stringValue ?? "tcp")
            port.mode = p["mode"]?.stringValue ?? "ingress"
            port.name = p["name"]?.stringValue
            port.appProtocol = p["app_protocol"]?.stringValue
            svc.ports.append(port)
        }
        svc.expose = s["expose"]?.strings ?? []
        for v in s["volumes"]?.items ?? [] {
            let kind = VolumeMount.Kind(rawValue: v["type"]?.stringValue ?? "volume") ?? .volume
            var mount = VolumeMount(type: kind, source: v["source"]?.stringValue, target: v["target"]?.stringValue ?? "")
            mount.readOnly = v["read_only"]?.boolValue ?? false
            mount.createHostPath = v["bind"]?["create_host_path"]?.boolValue ?? false
            mount.propagation = v["bind"]?["propagation"]?.stringValue
            mount.selinux = v["bind"]?["selinux"]?.stringValue
            mount.noCopy = v["volume"]?["nocopy"]?.boolValue ?? false
            mount.subpath = v["volume"]?["subpath"]?.stringValue ?? v["image"]?["subpath"]?.stringValue
            mount.tmpfsSize = bytes(v["tmpfs"]?["size"])
            mount.tmpfsMode = v["tmpfs"]?["mode"]?.int64Value.map { UInt32(truncatingIfNeeded: $0) }
            svc.volumes.append(mount)
        }
        svc.volumesFrom = s["volumes_from"]?.strings ?? []
        svc.tmpfs = s["tmpfs"]?.strings ?? []
        for (key, n) in s["networks"]?.pairs ?? [] {
            guard case .object = n else {
                svc.networks[key] = .some(nil)
                continue
            }
            var net = ServiceNetwork()
            net.aliases = n["aliases"]?.strings ?? []
            net.ipv4Address = n["ipv4_address"]?.stringValue
            net.ipv6Address = n["ipv6_address"]?.stringValue
            net.macAddress = n["mac_address"]?.stringValue
            net.priority = Int(n["priority"]?.int64Value ?? 0)
            net.driverOpts = n["driver_opts"]?.stringMapKeepingKeys ?? [:]
            svc.networks[key] = net
        }
        svc.networkMode = s["network_mode"]?.stringValue
        for (key, d) in s["depends_on"]?.pairs ?? [] {
            svc.dependsOn[key] = Dependency(
                condition: Dependency.Condition(rawValue: d["condition"]?.stringValue ?? "") ?? .started,
                required: d["required"]?.boolValue ?? true, restart: d["restart"]?.boolValue ?? false)
        }
        svc.links = s["links"]?.strings ?? []
        if let h = s["healthcheck"] {
            var check = Healthcheck()
            check.test = h["test"]?.strings ?? []
            check.interval = durationNS(h["interval"])
            check.timeout = durationNS(h["timeout"])
            check.startPeriod = durationNS(h["start_period"])
            check.startInterval = durationNS(h["start_interval"])
            check.retries = h["retries"]?.int64Value.map { Int($0) }
            check.disable = h["disable"]?.boolValue ?? false
            svc.healthcheck = check
        }
        svc.restart = s["restart"]?.stringValue
        if let d = s["deploy"] {
            var deploy = DeployConfig()
            deploy.replicas = d["replicas"]?.int64Value.map { Int($0) }
            let limits = d["resources"]?["limits"]
            let reservations = d["resources"]?["reservations"]
            deploy.cpuLimit = limits?["cpus"]?.doubleValue
            deploy.memoryLimit = bytes(limits?["memory"])
            deploy.pidsLimit = limits?["pids"]?.int64Value
            deploy.cpuReservation = reservations?["cpus"]?.doubleValue
            deploy.memoryReservation = bytes(reservations?["memory"])
            deploy.restartCondition = d["restart_policy"]?["condition"]?.stringValue
            deploy.restartMaxAttempts = d["restart_policy"]?["max_attempts"]?.int64Value.map { Int($0) }
            deploy.restartDelay = durationNS(d["restart_policy"]?["delay"])
            deploy.labels = d["labels"]?.stringMapKeepingKeys ?? [:]
            svc.deploy = deploy
        }
        svc.scale = s["scale"]?.int64Value.map { Int($0) }
        svc.profiles = s["profiles"]?.strings ?? []
        svc.user = s["user"]?.stringValue
        svc.groupAdd = s["group_add"]?.strings ?? []
        svc.workingDir = s["working_dir"]?.stringValue
        svc.hostname = s["hostname"]?.stringValue
        svc.domainname = s["domainname"]?.stringValue
        svc.containerName = s["container_name"]?.stringValue
        svc.tty = s["tty"]?.boolValue ?? false
        svc.stdinOpen = s["stdin_open"]?.boolValue ?? false
        svc.privileged = s["privileged"]?.boolValue ?? false
        svc.readOnly = s["read_only"]?.boolValue ?? false
        svc.initProcess = s["init"]?.boolValue
        svc.capAdd = s["cap_add"]?.strings ?? []
        svc.capDrop = s["cap_drop"]?.strings ?? []
        svc.securityOpt = s["security_opt"]?.strings ?? []
        for (key, u) in s["ulimits"]?.pairs ?? [] {
            if let single = u.int64Value {
                svc.ulimits[key] = Ulimit(soft: single, hard: single)
            } else {
                svc.ulimits[key] = Ulimit(soft: u["soft"]?.int64Value ?? 0, hard: u["hard"]?.int64Value ?? 0)
            }
        }
        svc.sysctls = s["sysctls"]?.stringMapKeepingKeys ?? [:]
        svc.extraHosts = s["extra_hosts"]?.strings ?? []
        svc.dns = s["dns"]?.strings ?? []
        svc.dnsSearch = s["dns_search"]?.strings ?? []
        svc.dnsOpt = s["dns_opt"]?.strings ?? []
        svc.macAddress = s["mac_address"]?.stringValue
        svc.pid = s["pid"]?.stringValue
        svc.ipc = s["ipc"]?.stringValue
        svc.uts = s["uts"]?.stringValue
        svc.cgroup = s["cgroup"]?.stringValue
        svc.cgroupParent = s["cgroup_parent"]?.stringValue
        for d in s["devices"]?.items ?? [] {
            svc.devices.append(
                DeviceMapping(
                    source: d["source"]?.stringValue ?? "", target: d["target"]?.stringValue ?? "",
                    permissions: d["permissions"]?.stringValue ?? "rwm"))
        }
        svc.memLimit = bytes(s["mem_limit"])
        svc.memReservation = bytes(s["mem_reservation"])
        svc.memswapLimit = bytes(s["memswap_limit"])
        svc.shmSize = bytes(s["shm_size"])
        svc.cpus = s["cpus"]?.doubleValue
        svc.cpuShares = s["cpu_shares"]?.int64Value
        svc.blkioWeight = s["blkio_config"]?["weight"]?.int64Value
        svc.cpuset = s["cpuset"]?.stringValue
        svc.pidsLimit = s["pids_limit"]?.int64Value
        svc.oomKillDisable = s["oom_kill_disable"]?.boolValue ?? false
        svc.oomScoreAdj = s["oom_score_adj"]?.int64Value
        svc.stopSignal = s["stop_signal"]?.stringValue
        svc.stopGracePeriod = durationNS(s["stop_grace_period"])
        svc.secrets = (s["secrets"]?.items ?? []).map(fileReference)
        svc.configs = (s["configs"]?.items ?? []).map(fileReference)
        if let l = s["logging"] {
            var logging = LoggingConfig()
            logging.driver = l["driver"]?.stringValue
            logging.options = l["options"]?.stringMapKeepingKeys ?? [:]
            svc.logging = logging
        }
        svc.platform = s["platform"]?.stringValue
        svc.pullPolicy = s["pull_policy"]?.stringValue
        svc.runtime = s["runtime"]?.stringValue
        svc.postStart = (s["post_start"]?.items ?? []).map(hook)
        svc.preStop = (s["pre_stop"]?.items ?? []).map(hook)
        svc.watch = (s["develop"]?["watch"]?.items ?? []).map { w in
            var rule = WatchRule(action: w["action"]?.stringValue ?? "", path: w["path"]?.stringValue ?? "")
            rule.target = w["target"]?.stringValue
            rule.ignore = w["ignore"]?.strings ?? []
            rule.include = w["include"]?.strings ?? []
            rule.initialSync = w["initial_sync"]?.boolValue ?? false
            rule.exec = w["exec"].map(hook)
            return rule
        }
        return svc
    }

    static func fileReference(_ f: JSONValue) -> FileReference {
        var ref = FileReference(source: f["source"]?.stringValue ?? "", target: f["target"]?.stringValue)
        ref.uid = f["uid"]?.stringValue
        ref.gid = f["gid"]?.stringValue
        ref.mode = f["mode"]?.stringValue.flatMap { UInt32($0, radix: 8) }
        return ref
    }

    static func hook(_ h: JSONValue) -> ServiceHook {
        var hook = ServiceHook(command: h["command"]?.strings ?? [])
        hook.user = h["user"]?.stringValue
        hook.workingDir = h["working_dir"]?.stringValue
        hook.privileged = h["privileged"]?.boolValue ?? false
        hook.environment = h["environment"]?.optionalStringMap ?? [:]
        return hook
    }

    static func network(_ key: String, _ n: JSONValue) -> NetworkConfig {
        var net = NetworkConfig(name: n["name"]?.stringValue ?? key)
        net.driver = n["driver"]?.stringValue
        net.driverOpts = n["driver_opts"]?.stringMapKeepingKeys ?? [:]
        net.external = n["external"]?.boolValue ?? false
        net.isInternal = n["internal"]?.boolValue ?? false
        net.attachable = n["attachable"]?.boolValue ?? false
        net.enableIPv4 = n["enable_ipv4"]?.boolValue
        net.enableIPv6 = n["enable_ipv6"]?.boolValue
        net.labels = n["labels"]?.stringMapKeepingKeys ?? [:]
        net.ipamDriver = n["ipam"]?["driver"]?.stringValue
        for c in n["ipam"]?["config"]?.items ?? [] {
            var pool = IPAMPool()
            pool.subnet = c["subnet"]?.stringValue
            pool.gateway = c["gateway"]?.stringValue
            pool.ipRange = c["ip_range"]?.stringValue
            pool.auxAddresses = c["aux_addresses"]?.stringMapKeepingKeys ?? [:]
            net.ipamConfig.append(pool)
        }
        return net
    }
}

extension JSONValue {
    var items: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var pairs: [(String, JSONValue)]? { if case .object(let o) = self { return o } else { return nil } }
    var strings: [String]? { items?.compactMap(\.stringValue) }
    /// An object's values as strings, every key kept (a value that is not a string as "").
    var stringMapKeepingKeys: [String: String]? {
        guard let pairs else { return nil }
        var out: [String: String] = [:]
        for (k, v) in pairs { out[k] = v.stringValue ?? "" }
        return out
    }
    var optionalStringMap: [String: String?]? {
        guard let pairs else { return nil }
        var out: [String: String?] = [:]
        for (k, v) in pairs { out[k] = .some(v.stringValue) }
        return out
    }
}
