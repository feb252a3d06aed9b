// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS

/// What a conversion could not carry over, gathered as it goes: keys with no Kubernetes meaning
/// (each listed once, with the services or objects that set it) and notes on conversions that
/// differ from what Compose does. Both go to standard error and to `CONVERSION.md`.
struct Notes: Sendable {
    /// Key → (where it is set, why it has no meaning).
    private var keys: [String: (owners: Set<String>, reason: String)] = [:]
    private var remarks: Set<String> = []

    /// A key set by `owner` (`service web`, `volume data`) that nothing in Kubernetes expresses.
    mutating func unsupported(_ key: String, owner: String, _ reason: String) {
        var entry = keys[key] ?? (owners: [], reason: reason)
        entry.owners.insert(owner)
        keys[key] = entry
    }

    /// A conversion that differs from Compose, or something the user must do.
    mutating func warn(_ text: String) {
        remarks.insert(text)
    }

    /// Adds another conversion's notes (of one service converted apart).
    mutating func merge(_ other: Notes) {
        for (key, entry) in other.keys {
            for owner in entry.owners { unsupported(key, owner: owner, entry.reason) }
        }
        remarks.formUnion(other.remarks)
    }

    /// One line per key and per remark, sorted.
    var lines: [String] {
        keys.keys.sorted().compactMap { key in
            keys[key].map { "\(key) (\($0.owners.sorted().joined(separator: ", "))) has no Kubernetes equivalent and was not converted: \($0.reason)" }
        } + remarks.sorted()
    }

    /// `CONVERSION.md`.
    func markdown(project: String) -> String {
        var out = "# Conversion of \(project)\n\n"
        out += "Written by `scompose bridge convert`. Each compose key below has no Kubernetes equivalent and is\n"
        out += "not in the manifests; the notes after it say where the conversion differs from Compose.\n\n"
        out += "## Keys not converted\n\n"
        if keys.isEmpty {
            out += "None.\n"
        } else {
            out += "| Key | Set by | Why |\n|---|---|---|\n"
            for key in keys.keys.sorted() {
                guard let entry = keys[key] else { continue }
                out += "| `\(key)` | \(entry.owners.sorted().joined(separator: ", ")) | \(cell(entry.reason)) |\n"
            }
        }
        out += "\n## Notes\n\n"
        if remarks.isEmpty {
            out += "None.\n"
        } else {
            for remark in remarks.sorted() { out += "- \(remark)\n" }
        }
        return out
    }

    private func cell(_ text: String) -> String { text.replacing("|", with: "\\|") }
}

/// The service keys the conversion knows, and why the others have no Kubernetes meaning. Every
/// key a service sets is looked up here, so a key nobody thought of is reported, never dropped.
enum ServiceKeys {
    /// Keys converted (in full, or in the parts `unsupportedParts` does not list).
    static let converted: Set<String> = [
        "annotations", "build", "cap_add", "cap_drop", "command", "configs", "cpus", "depends_on", "deploy", "dns",
        "dns_opt", "dns_search", "entrypoint", "env_file", "environment", "expose", "extends", "extra_hosts",
        "group_add", "healthcheck", "hostname", "image", "init", "label_file", "labels", "mem_limit", "mem_reservation",
        "networks", "ports", "post_start", "pre_stop", "privileged", "profiles", "pull_policy", "read_only", "restart",
        "scale", "secrets", "shm_size", "stdin_open", "stop_grace_period", "sysctls", "tmpfs", "tty",
        "user", "volumes", "working_dir",
    ]

    /// Why a key has no Kubernetes meaning; keys not listed get a generic reason.
    static let reasons: [String: String] = [
        "attach": "log attachment is a client feature of `up`",
        "blkio_config": "Kubernetes has no block I/O weights or limits",
        "cgroup": "pods' cgroup namespaces are the runtime's choice",
        "cgroup_parent": "the kubelet places pods in its own cgroups",
        "container_name": "pods get names from their workload",
        "cpu_count": "Kubernetes expresses CPU as limits and requests only",
        "cpu_percent": "Kubernetes expresses CPU as limits and requests only",
        "cpu_period": "Kubernetes expresses CPU as limits and requests only",
        "cpu_quota": "Kubernetes expresses CPU as limits and requests only",
        "cpu_rt_period": "Kubernetes has no real-time CPU scheduling",
        "cpu_rt_runtime": "Kubernetes has no real-time CPU scheduling",
        "cpu_shares": "Kubernetes derives shares from CPU requests",
        "cpuset": "CPU pinning is the kubelet's CPU manager policy",
        "credential_spec": "Windows only",
        "develop": "`watch` is a development loop on one host",
        "device_cgroup_rules": "devices come from device plugins",
        "devices": "devices come from device plugins",
        "domainname": "pods' domains come from the cluster's DNS",
        "external_links": "links to containers outside the project",
        "gpus": "GPUs come from device plugins (`resources.limits` of e.g. `nvidia.com/gpu`)",
        "ipc": "pods share IPC only among their own containers",
        "isolation": "Windows only",
        "links": "every service is reachable by its name through its Service",
        "logging": "logs are collected by the cluster's logging agent",
        "mac_address": "pods' addresses come from the network plugin",
        "mem_swappiness": "swap is the node's setting",
        "memswap_limit": "swap is the node's setting",
        "network_mode": "each pod has its own network namespace",
        "oom_kill_disable": "the kubelet decides out-of-memory kills",
        "oom_score_adj": "the kubelet sets OOM scores from the pod's QoS class",
        "pid": "pods share a PID namespace only among their own containers",
        "pids_limit": "the PID limit is the kubelet's `podPidsLimit`",
        "platform": "the scheduler matches images to nodes by their manifests",
        "pull_refresh_after": "image pulls are the kubelet's",
        "runtime": "use a RuntimeClass (`runtimeClassName`) by hand",
        "security_opt": "use the pod's `securityContext` (seccomp, AppArmor, SELinux) by hand",
        "stop_signal": "containers are stopped with SIGTERM, then SIGKILL",
        "storage_opt": "ephemeral storage is limited by `resources.limits.ephemeral-storage`",
        "ulimits": "Kubernetes has no per-container ulimits (they come from the container runtime's defaults)",
        "use_api_socket": "no Docker API in a cluster",
        "userns_mode": "use `hostUsers: false` on the pod by hand",
        "uts": "pods have their own UTS namespace",
        "volumes_from": "pods cannot mount another pod's volumes",
        "models": "no model runner in a cluster",
        "provider": "providers run on the Compose host",
    ]

    static func reason(_ key: String) -> String {
        reasons[key] ?? "no Kubernetes field expresses it"
    }

    /// Whether a model value counts as set (the canonical model writes some keys empty).
    static func isSet(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .bool(let b): return b
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        case .string(let s): return !s.isEmpty
        case .number: return true
        }
    }

    /// The parts of converted keys that are not converted, as `deploy.placement`,
    /// `networks.<net>.ipv4_address`, `ports[].host_ip`.
    static func unsupportedParts(of service: JSONValue) -> [(key: String, reason: String)] {
        var out: [(String, String)] = []
        if case .object(let deploy)? = service["deploy"] {
            for (key, value) in deploy where isSet(value) {
                switch key {
                case "replicas", "labels", "resources", "restart_policy": break
                case "mode" where value == .string("replicated"): break
                case "mode": out.append(("deploy.mode", "global services would be DaemonSets; write one by hand"))
                default: out.append(("deploy." + key, "a Swarm setting with no Kubernetes field"))
                }
            }
            for side in ["limits", "reservations"] {
                if case .object(let resources)? = service["deploy"]?["resources"]?[side] {
                    for (key, value) in resources where isSet(value) && key != "cpus" && key != "memory" {
                        out.append(("deploy.resources.\(side).\(key)", "Kubernetes limits and requests hold CPU and memory here"))
                    }
                }
            }
            if case .object(let policy)? = service["deploy"]?["restart_policy"] {
                for (key, value) in policy where isSet(value) && key != "condition" && key != "max_attempts" {
                    out.append(("deploy.restart_policy.\(key)", "the kubelet's back-off decides restart delays"))
                }
            }
        }
        if case .object(let networks)? = service["networks"] {
            for (_, attachment) in networks {
                guard case .object(let fields) = attachment else { continue }
                for (key, value) in fields where isSet(value) && key != "aliases" {
                    out.append(("networks.*." + key, "pods' addresses and interfaces come from the network plugin"))
                }
            }
        }
        if case .array(let ports)? = service["ports"] {
            for port in ports where port["host_ip"].map(isSet) ?? false {
                _ = port
                out.append(("ports[].host_ip", "a Service listens on the cluster's addresses, not a host's"))
            }
        }
        if case .array(let volumes)? = service["volumes"] {
            for volume in volumes {
                for (option, key) in [("bind", "propagation"), ("bind", "selinux"), ("volume", "nocopy"), ("", "consistency")] {
                    let value = option.isEmpty ? volume[key] : volume[option]?[key]
                    if let value, isSet(value), !(key == "propagation" && value == .string("rprivate")) {
                        out.append(("volumes[]." + (option.isEmpty ? key : option + "." + key), "no Kubernetes volume option expresses it"))
                    }
                }
            }
        }
        return out
    }
}
