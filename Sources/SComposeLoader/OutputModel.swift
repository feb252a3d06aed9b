// SPDX-License-Identifier: Apache-2.0

/// The shape of Docker Compose's printed model: each field's type decides how a value is
/// decoded (`1gb` → bytes, `2m` → duration) and printed, and whether an empty value is left out.
indirect enum OutType: Sendable {
    case string, bool, int, float
    case unitBytes, duration, shellCommand, healthTest, stringList, stringOrNumberList
    case mappingWithEquals, mapping, hostsList, fileMode, deviceCount, ulimit, ssh
    /// `map[string][]string`: each option's value printed as a list of strings.
    case multiOptions
    /// A pointer: present values are printed even when zero.
    case pointer(OutType)
    /// A Go struct.
    case structure(Fields)
    case list(OutType)
    /// `map[string]T`.
    case dict(OutType)
    /// `map[string]*T`: null entries print `null`.
    case dictOfPointers(OutType)
    /// Printed as written (top-level extensions).
    case raw
}

/// The fields of a struct.
struct Fields: Sendable {
    var fields: [String: (OutType, Bool)]
    /// The Go struct's field order, which YAML output follows.
    var order: [String]
    /// Each field's position in `order`.
    var position: [String: Int]
    /// The fields printed even when absent or empty.
    var alwaysFields: [String]
    /// Printed names that differ from the written ones (Go fields without json tags).
    var printedNames: [String: String] = [:]

    /// Fields from `name: type` pairs; names in `always` are printed even when empty.
    init(_ pairs: KeyValuePairs<String, OutType>, always: Set<String> = [], printedNames: [String: String] = [:]) {
        var f: [String: (OutType, Bool)] = [:]
        for (k, v) in pairs { f[k] = (v, always.contains(k)) }
        fields = f
        order = pairs.map(\.key)
        var position: [String: Int] = [:]
        for (i, key) in order.enumerated() { position[key] = i }
        self.position = position
        alwaysFields = order.filter { always.contains($0) }
        self.printedNames = printedNames
    }
}

enum OutputModel {
    static let duration = OutType.pointer(.duration)

    static let ulimits = OutType.dictOfPointers(.ulimit)

    static let deviceRequest = OutType.structure(
        Fields([
            "capabilities": .list(.string), "driver": .string, "count": .deviceCount, "device_ids": .list(.string),
            "options": .mapping,
        ]))

    static let fileReference = OutType.structure(
        Fields(["source": .string, "target": .string, "uid": .string, "gid": .string, "mode": .pointer(.fileMode)]))

    static let serviceHook = OutType.structure(
        Fields(
            [
                "command": .shellCommand, "user": .string, "privileged": .bool, "working_dir": .string,
                "environment": .mappingWithEquals,
            ], always: ["command"]))

    static let build = OutType.structure(
        Fields([
            "context": .string, "dockerfile": .string, "dockerfile_inline": .string, "entitlements": .list(.string),
            "args": .mappingWithEquals, "provenance": .string, "sbom": .string, "ssh": .ssh, "labels": .mapping,
            "cache_from": .stringList, "cache_to": .stringList, "no_cache": .bool, "additional_contexts": .mapping,
            "pull": .bool, "extra_hosts": .hostsList, "isolation": .string, "network": .string, "target": .string,
            "secrets": .list(fileReference), "shm_size": .unitBytes, "tags": .stringList, "ulimits": ulimits,
            "platforms": .stringList, "privileged": .bool,
        ]))

    static let throttleDevice = OutType.structure(
        Fields(
            ["path": .string, "rate": .unitBytes], always: ["path", "rate"],
            printedNames: ["path": "Path", "rate": "Rate"]))
    static let weightDevice = OutType.structure(
        Fields(
            ["path": .string, "weight": .int], always: ["path", "weight"],
            printedNames: ["path": "Path", "weight": "Weight"]))

    static let blkio = OutType.structure(
        Fields([
            "weight": .int, "weight_device": .list(weightDevice), "device_read_bps": .list(throttleDevice),
            "device_read_iops": .list(throttleDevice), "device_write_bps": .list(throttleDevice),
            "device_write_iops": .list(throttleDevice),
        ]))

    static let updateConfig = OutType.structure(
        Fields([
            "parallelism": .pointer(.int), "delay": .duration, "failure_action": .string, "monitor": .duration,
            "max_failure_ratio": .float, "order": .string,
        ]))

    static let resource = OutType.structure(
        Fields([
            "cpus": .float, "memory": .unitBytes, "pids": .int, "devices": .list(deviceRequest),
            "generic_resources": .list(
                .structure(
                    Fields(
                        [
                            "discrete_resource_spec": .pointer(
                                .structure(Fields(["kind": .string, "value": .int], always: ["kind", "value"])))
                        ]))),
        ]))

    static let deploy = OutType.structure(
        Fields(
            [
                "mode": .string, "replicas": .pointer(.int), "labels": .mapping, "update_config": .pointer(updateConfig),
                "rollback_config": .pointer(updateConfig),
                "resources": .structure(Fields(["limits": .pointer(resource), "reservations": .pointer(resource)])),
                "restart_policy": .pointer(
                    .structure(
                        Fields([
                            "condition": .string, "delay": duration, "max_attempts": .pointer(.int), "window": duration,
                        ]))),
                "placement": .structure(
                    Fields([
                        "constraints": .list(.string), "preferences": .list(.structure(Fields(["spread": .string]))),
                        "max_replicas_per_node": .int,
                    ])),
                "endpoint_mode": .string,
            ], always: ["resources", "placement"]))

    static let volumeMount = OutType.structure(
        Fields([
            "type": .string, "source": .string, "target": .string, "read_only": .bool, "consistency": .string,
            "bind": .pointer(
                .structure(
                    Fields([
                        "selinux": .string, "propagation": .string, "create_host_path": .bool, "recursive": .string,
                    ]))),
            "volume": .pointer(.structure(Fields(["labels": .mapping, "nocopy": .bool, "subpath": .string]))),
            "tmpfs": .pointer(.structure(Fields(["size": .unitBytes, "mode": .int]))),
            "image": .pointer(.structure(Fields(["subpath": .string]))),
        ]))

    static let service = OutType.structure(
        Fields(
            [
                "profiles": .list(.string),
                "annotations": .mapping,
                "attach": .pointer(.bool),
                "build": .pointer(build),
                "develop": .pointer(
                    .structure(
                        Fields([
                            "watch": .list(
                                .structure(
                                    Fields(
                                        [
                                            "path": .string, "action": .string, "target": .string, "exec": serviceHook,
                                            "include": .stringList, "ignore": .stringList, "initial_sync": .bool,
                                        ], always: ["path", "action", "exec"])))
                        ]))),
                "blkio_config": .pointer(blkio),
                "cap_add": .list(.string),
                "cap_drop": .list(.string),
                "cgroup_parent": .string,
                "cgroup": .string,
                "cpu_count": .int,
                "cpu_percent": .float,
                "cpu_period": .int,
                "cpu_quota": .int,
                "cpu_rt_period": .int,
                "cpu_rt_runtime": .int,
                "cpus": .float,
                "cpuset": .string,
                "cpu_shares": .int,
                "command": .shellCommand,
                "configs": .list(fileReference),
                "container_name": .string,
                "credential_spec": .pointer(.structure(Fields(["config": .string, "file": .string, "registry": .string]))),
                "depends_on": .dict(
                    .structure(
                        Fields(["condition": .string, "restart": .bool, "required": .bool], always: ["required"]))),
                "deploy": .pointer(deploy),
                "device_cgroup_rules": .list(.string),
                "devices": .list(.structure(Fields(["source": .string, "target": .string, "permissions": .string]))),
                "dns": .stringList,
                "dns_opt": .list(.string),
                "dns_search": .stringList,
                "domainname": .string,
                "entrypoint": .shellCommand,
                "provider": .pointer(.structure(Fields(["type": .string, "options": .multiOptions]))),
                "environment": .mappingWithEquals,
                "expose": .stringOrNumberList,
                "external_links": .list(.string),
                "extra_hosts": .hostsList,
                "group_add": .stringOrNumberList,
                "gpus": .list(deviceRequest),
                "hostname": .string,
                "healthcheck": .pointer(
                    .structure(
                        Fields([
                            "test": .healthTest, "timeout": duration, "interval": duration, "retries": .pointer(.int),
                            "start_period": duration, "start_interval": duration, "disable": .bool,
                        ]))),
                "image": .string,
                "init": .pointer(.bool),
                "ipc": .string,
                "isolation": .string,
                "labels": .mapping,
                "links": .list(.string),
                "logging": .pointer(.structure(Fields(["driver": .string, "options": .mapping]))),
                "mem_limit": .unitBytes,
                "mem_reservation": .unitBytes,
                "memswap_limit": .unitBytes,
                "mem_swappiness": .unitBytes,
                "mac_address": .string,
                "models": .dictOfPointers(.structure(Fields(["endpoint_var": .string, "model_var": .string]))),
                "network_mode": .string,
                "networks": .dictOfPointers(
                    .structure(
                        Fields([
                            "aliases": .list(.string), "driver_opts": .mapping, "gw_priority": .int,
                            "interface_name": .string, "ipv4_address": .string, "ipv6_address": .string,
                            "link_local_ips": .list(.string), "mac_address": .string, "priority": .int,
                        ]))),
                "oom_kill_disable": .bool,
                "oom_score_adj": .int,
                "pid": .string,
                "pids_limit": .int,
                "platform": .string,
                "ports": .list(
                    .structure(
                        Fields([
                            "name": .string, "mode": .string, "host_ip": .string, "target": .int, "published": .string,
                            "protocol": .string, "app_protocol": .string,
                        ]))),
                "privileged": .bool,
                "pull_policy": .string,
                "read_only": .bool,
                "restart": .string,
                "runtime": .string,
                "scale": .pointer(.int),
                "secrets": .list(fileReference),
                "security_opt": .list(.string),
                "shm_size": .unitBytes,
                "stdin_open": .bool,
                "stop_grace_period": duration,
                "stop_signal": .string,
                "storage_opt": .mapping,
                "sysctls": .mapping,
                "tmpfs": .stringList,
                "tty": .bool,
                "ulimits": ulimits,
                "use_api_socket": .bool,
                "user": .string,
                "userns_mode": .string,
                "uts": .string,
                "volume_driver": .string,
                "volumes": .list(volumeMount),
                "volumes_from": .list(.string),
                "working_dir": .string,
                "post_start": .list(serviceHook),
                "pre_stop": .list(serviceHook),
            ], always: ["command", "entrypoint"]))

    static let network = OutType.structure(
        Fields(
            [
                "name": .string, "driver": .string, "driver_opts": .mapping,
                "ipam": .structure(
                    Fields([
                        "driver": .string,
                        "config": .list(
                            .structure(
                                Fields([
                                    "subnet": .string, "gateway": .string, "ip_range": .string, "aux_addresses": .mapping,
                                ]))),
                    ])),
                "external": .bool, "internal": .bool, "attachable": .bool, "labels": .mapping,
                "enable_ipv4": .pointer(.bool), "enable_ipv6": .pointer(.bool),
            ], always: ["ipam"]))

    static let volume = OutType.structure(
        Fields([
            "name": .string, "driver": .string, "driver_opts": .mapping, "external": .bool, "labels": .mapping,
        ]))

    static let fileObject = OutType.structure(
        Fields([
            "name": .string, "file": .string, "environment": .string, "content": .string, "external": .bool,
            "labels": .mapping, "driver": .string, "driver_opts": .mapping, "template_driver": .string,
        ]))
}
