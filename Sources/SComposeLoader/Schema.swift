// SPDX-License-Identifier: Apache-2.0

/// The compose-spec schema as Swift values: types, closed objects, required keys, enums and
/// unique items, checked on the merged tree before canonicalization, so a typo or a wrong
/// type is reported with the file, line and column where it was written.
indirect enum Schema: Sendable {
    case string, integer, number, boolean, null
    case any
    case oneOf([Schema])
    case array(Schema, unique: Bool)
    case object(SchemaObject)
    case enumeration([String])
    /// A string that must contain a match of a pattern (the schema's patterns are unanchored).
    case pattern(StringPattern)

    static func closed(_ props: KeyValuePairs<String, Schema>, required: [String] = [], extensions: Bool = true)
        -> Schema
    {
        var p: [String: Schema] = [:]
        for (k, v) in props { p[k] = v }
        return .object(SchemaObject(properties: p, required: required, extensions: extensions, additional: nil))
    }

    static func map(_ values: Schema, keyPattern: KeyPattern = .any) -> Schema {
        .object(SchemaObject(properties: [:], required: [], extensions: false, additional: values, keyPattern: keyPattern))
    }
}

/// Which keys an object with free-form keys accepts.
enum KeyPattern: Sendable {
    case any
    /// `^[a-zA-Z0-9._-]+$`.
    case resourceName
    /// `^[a-z]+$`.
    case lowercase
}

struct SchemaObject: Sendable {
    var properties: [String: Schema]
    var required: [String]
    var extensions: Bool
    /// Schema of keys not in `properties`; nil means they are not allowed.
    var additional: Schema?
    var keyPattern: KeyPattern = .any
}

extension Schema {
    static let stringOrNumber = Schema.oneOf([.string, .number])
    static let listOfStrings = Schema.array(.string, unique: true)
    static let listOrDict = Schema.oneOf([
        .map(.oneOf([.string, .number, .boolean, .null])), .array(.string, unique: true),
    ])
    static let stringOrList = Schema.oneOf([.string, listOfStrings])
    static let command = Schema.oneOf([.null, .string, .array(.string, unique: false)])
    static let boolOrString = Schema.oneOf([.boolean, .string])
    static let intOrString = Schema.oneOf([.integer, .string])
    static let numberOrString = Schema.oneOf([.number, .string])
    static let extraHosts = Schema.oneOf([
        .map(.oneOf([.string, .array(.string, unique: false)])), .array(.string, unique: true),
    ])
    static let ulimits = Schema.map(
        .oneOf([.integer, .string, .closed(["hard": intOrString, "soft": intOrString], required: ["soft", "hard"])]),
        keyPattern: .lowercase)
    static let fileReference = Schema.array(
        .oneOf([
            .string,
            .closed([
                "source": .string, "target": .string, "uid": .string, "gid": .string, "mode": numberOrString,
            ]),
        ]), unique: false)
    static let external = Schema.oneOf([.boolean, .string, .closed(["name": .string])])
    static let deviceRequest = Schema.closed([
        "capabilities": listOfStrings, "count": .oneOf([.string, .integer]), "device_ids": listOfStrings,
        "driver": .string, "options": listOrDict,
    ])
    static let serviceHook = Schema.closed(
        [
            "command": command, "user": .string, "working_dir": .string, "privileged": boolOrString,
            "environment": listOrDict,
        ], required: ["command"])
    static let blkioLimit = Schema.closed(["path": .string, "rate": intOrString], extensions: false)
    static let updateConfig = Schema.closed([
        "parallelism": intOrString, "delay": .string, "failure_action": .string, "monitor": .string,
        "max_failure_ratio": numberOrString, "order": .enumeration(["start-first", "stop-first"]),
    ])

    static let build = Schema.oneOf([
        .string,
        .closed([
            "context": .string, "dockerfile": .string, "dockerfile_inline": .string, "network": .string,
            "target": .string, "isolation": .string, "entitlements": .array(.string, unique: false),
            "cache_from": .array(.string, unique: false), "cache_to": .array(.string, unique: false),
            "tags": .array(.string, unique: false), "platforms": .array(.string, unique: false), "args": listOrDict,
            "ssh": listOrDict, "labels": listOrDict, "additional_contexts": listOrDict, "no_cache": boolOrString,
            "pull": boolOrString, "privileged": boolOrString, "provenance": .oneOf([.string, .boolean]),
            "sbom": .oneOf([.string, .boolean]), "shm_size": intOrString, "extra_hosts": extraHosts,
            "secrets": fileReference, "ulimits": ulimits,
        ]),
    ])

    static let deploy = Schema.oneOf([
        .null,
        .closed([
            "mode": .string, "endpoint_mode": .string, "replicas": intOrString, "labels": listOrDict,
            "update_config": updateConfig, "rollback_config": updateConfig,
            "resources": .closed([
                "limits": .closed(["cpus": numberOrString, "memory": .string, "pids": intOrString]),
                "reservations": .closed([
                    "cpus": numberOrString, "memory": .string,
                    "generic_resources": .array(
                        .closed([
                            "discrete_resource_spec": .closed(["kind": .string, "value": numberOrString])
                        ]), unique: false),
                    "devices": .array(
                        .object(
                            SchemaObject(
                                properties: [
                                    "capabilities": listOfStrings, "count": .oneOf([.string, .integer]),
                                    "device_ids": listOfStrings, "driver": .string, "options": listOrDict,
                                ], required: ["capabilities"], extensions: true, additional: nil)), unique: false),
                ]),
            ]),
            "restart_policy": .closed([
                "condition": .string, "delay": .string, "window": .string, "max_attempts": intOrString,
            ]),
            "placement": .closed([
                "constraints": .array(.string, unique: false),
                "preferences": .array(.closed(["spread": .string]), unique: false),
                "max_replicas_per_node": intOrString,
            ]),
        ]),
    ])

    static let volumeMount = Schema.oneOf([
        .string,
        .closed(
            [
                "type": .enumeration(["bind", "volume", "tmpfs", "cluster", "npipe", "image"]), "source": .string,
                "target": .string, "consistency": .string, "read_only": boolOrString,
                "bind": .closed([
                    "propagation": .string, "create_host_path": boolOrString,
                    "recursive": .enumeration(["enabled", "disabled", "writable", "readonly"]),
                    "selinux": .enumeration(["z", "Z"]),
                ]),
                "volume": .closed(["labels": listOrDict, "nocopy": boolOrString, "subpath": .string]),
                "tmpfs": .closed(["size": .oneOf([.integer, .string]), "mode": numberOrString]),
                "image": .closed(["subpath": .string]),
            ], required: ["type"]),
    ])

    static let service = Schema.closed([
        "annotations": listOrDict, "environment": listOrDict, "labels": listOrDict, "sysctls": listOrDict,
        "attach": boolOrString, "init": boolOrString, "oom_kill_disable": boolOrString, "privileged": boolOrString,
        "read_only": boolOrString, "stdin_open": boolOrString, "tty": boolOrString, "use_api_socket": .boolean,
        "build": build,
        "blkio_config": .closed(
            [
                "weight": intOrString,
                "weight_device": .array(.closed(["path": .string, "weight": intOrString], extensions: false), unique: false),
                "device_read_bps": .array(blkioLimit, unique: false), "device_read_iops": .array(blkioLimit, unique: false),
                "device_write_bps": .array(blkioLimit, unique: false),
                "device_write_iops": .array(blkioLimit, unique: false),
            ], extensions: false),
        "cap_add": listOfStrings, "cap_drop": listOfStrings, "dns_opt": listOfStrings, "external_links": listOfStrings,
        "links": listOfStrings, "security_opt": listOfStrings, "volumes_from": listOfStrings,
        "cgroup": .enumeration(["host", "private"]),
        "cgroup_parent": .string, "cpuset": .string, "domainname": .string, "hostname": .string, "image": .string,
        "ipc": .string, "isolation": .string, "mac_address": .string, "network_mode": .string, "platform": .string,
        "restart": .string, "runtime": .string, "stop_grace_period": .string, "stop_signal": .string, "user": .string,
        "uts": .string, "userns_mode": .string, "working_dir": .string, "pull_refresh_after": .string,
        "container_name": .pattern(.containerName), "command": command, "entrypoint": command, "configs": fileReference,
        "secrets": fileReference, "cpu_count": .oneOf([.string, .integer]), "cpu_percent": .oneOf([.string, .integer]),
        "cpu_shares": numberOrString, "cpu_quota": numberOrString, "cpu_period": numberOrString,
        "cpu_rt_period": numberOrString, "cpu_rt_runtime": numberOrString, "cpus": numberOrString,
        "mem_limit": numberOrString, "memswap_limit": numberOrString, "pids_limit": numberOrString,
        "shm_size": numberOrString, "mem_reservation": .oneOf([.string, .integer]),
        "mem_swappiness": .oneOf([.integer, .string]), "scale": .oneOf([.integer, .string]),
        "oom_score_adj": .oneOf([.string, .integer]),
        "credential_spec": .closed(["config": .string, "file": .string, "registry": .string]),
        "depends_on": .oneOf([
            listOfStrings,
            .map(
                .object(
                    SchemaObject(
                        properties: [
                            "condition": .enumeration([
                                "service_started", "service_healthy", "service_completed_successfully",
                            ]),
                            "restart": boolOrString, "required": .boolean,
                        ], required: ["condition"], extensions: true, additional: nil)), keyPattern: .resourceName),
        ]),
        "deploy": deploy,
        "develop": .oneOf([
            .null,
            .closed([
                "watch": .array(
                    .object(
                        SchemaObject(
                            properties: [
                                "path": .string,
                                "action": .enumeration(["rebuild", "sync", "restart", "sync+restart", "sync+exec"]),
                                "target": .string, "ignore": stringOrList, "include": stringOrList, "exec": serviceHook,
                                "initial_sync": .boolean,
                            ], required: ["path", "action"], extensions: true, additional: nil)), unique: false)
            ]),
        ]),
        "device_cgroup_rules": listOfStrings, "profiles": listOfStrings,
        "devices": .array(
            .oneOf([
                .string,
                .object(
                    SchemaObject(
                        properties: ["source": .string, "target": .string, "permissions": .string],
                        required: ["source"], extensions: true, additional: nil)),
            ]), unique: false),
        "dns": stringOrList, "dns_search": stringOrList, "tmpfs": stringOrList,
        "env_file": .oneOf([
            .string,
            .array(
                .oneOf([
                    .string,
                    .object(
                        SchemaObject(
                            properties: ["path": .string, "format": .string, "required": boolOrString],
                            required: ["path"], extensions: false, additional: nil)),
                ]), unique: false),
        ]),
        "label_file": .oneOf([.string, .array(.string, unique: false)]),
        "expose": .array(stringOrNumber, unique: true), "group_add": .array(stringOrNumber, unique: true),
        "extends": .oneOf([
            .string,
            .object(
                SchemaObject(
                    properties: ["service": .string, "file": .string], required: ["service"], extensions: false,
                    additional: nil)),
        ]),
        "extra_hosts": extraHosts,
        "gpus": .oneOf([.enumeration(["all"]), .array(deviceRequest, unique: false)]),
        "healthcheck": .closed([
            "disable": boolOrString, "interval": .string, "timeout": .string, "start_period": .string,
            "start_interval": .string, "retries": numberOrString, "test": .oneOf([.string, .array(.string, unique: false)]),
        ]),
        "logging": .closed([
            "driver": .string, "options": .map(.oneOf([.string, .number, .null])),
        ]),
        "models": .oneOf([
            listOfStrings,
            .map(.oneOf([.closed(["endpoint_var": .string, "model_var": .string]), .null]), keyPattern: .resourceName),
        ]),
        "networks": .oneOf([
            listOfStrings,
            .map(
                .oneOf([
                    .null,
                    .closed([
                        "aliases": listOfStrings, "link_local_ips": listOfStrings, "interface_name": .string,
                        "ipv4_address": .string, "ipv6_address": .string, "mac_address": .string,
                        "driver_opts": .map(.oneOf([.string, .number])), "priority": .number, "gw_priority": .number,
                    ]),
                ]), keyPattern: .resourceName),
        ]),
        "pid": .oneOf([.string, .null]),
        "ports": .array(
            .oneOf([
                .number, .string,
                .closed([
                    "name": .string, "mode": .string, "host_ip": .string, "protocol": .string, "app_protocol": .string,
                    "target": intOrString, "published": .oneOf([.string, .integer]),
                ]),
            ]), unique: true),
        "post_start": .array(serviceHook, unique: false), "pre_stop": .array(serviceHook, unique: false),
        "provider": .object(
            SchemaObject(
                properties: [
                    "type": .string,
                    "options": .map(
                        .oneOf([.string, .number, .boolean, .array(.oneOf([.string, .number, .boolean]), unique: false)])),
                ], required: ["type"], extensions: true, additional: nil)),
        "pull_policy": .pattern(.pullPolicy), "storage_opt": .any, "ulimits": ulimits,
        "volumes": .array(volumeMount, unique: true),
        "volume_driver": .string,
    ])

    static let network = Schema.oneOf([
        .null,
        .closed([
            "name": .string, "driver": .string, "driver_opts": .map(.oneOf([.string, .number])),
            "ipam": .closed([
                "driver": .string,
                "config": .array(
                    .closed([
                        "subnet": .string, "ip_range": .string, "gateway": .string, "aux_addresses": .map(.string),
                    ]), unique: false),
                "options": .map(.string),
            ]),
            "external": external, "internal": boolOrString, "enable_ipv4": boolOrString, "enable_ipv6": boolOrString,
            "attachable": boolOrString, "labels": listOrDict,
        ]),
    ])

    static let volume = Schema.oneOf([
        .null,
        .closed([
            "name": .string, "driver": .string, "driver_opts": .map(.oneOf([.string, .number])), "external": external,
            "labels": listOrDict,
        ]),
    ])

    static let secret = Schema.closed([
        "name": .string, "environment": .string, "file": .string, "driver": .string, "template_driver": .string,
        "external": .oneOf([.boolean, .string, .object(SchemaObject(properties: ["name": .string], required: [], extensions: true, additional: .any))]),
        "labels": listOrDict, "driver_opts": .map(.oneOf([.string, .number])),
    ])

    static let config = Schema.closed([
        "name": .string, "content": .string, "environment": .string, "file": .string, "template_driver": .string,
        "external": external, "labels": listOrDict,
    ])

    static let top = Schema.closed([
        "version": .string, "name": .string,
        "include": .array(
            .oneOf([
                .string,
                .closed(
                    ["path": stringOrList, "env_file": stringOrList, "project_directory": .string], extensions: false),
            ]), unique: false),
        "services": .map(service, keyPattern: .resourceName),
        "networks": .map(network, keyPattern: .resourceName),
        "volumes": .map(volume, keyPattern: .resourceName),
        "secrets": .map(secret, keyPattern: .resourceName),
        "configs": .map(config, keyPattern: .resourceName),
        "models": .map(
            .object(
                SchemaObject(
                    properties: [
                        "name": .string, "model": .string, "context_size": .integer,
                        "runtime_flags": .array(.string, unique: false),
                    ], required: ["model"], extensions: true, additional: nil)), keyPattern: .resourceName),
    ])

    /// Validates a merged compose tree.
    static func validate(_ dict: Node) throws(LoaderError) {
        if let error = Schema.top.check(dict, path: ModelPath()) { throw error }
    }
}

extension Schema {
    /// The first error in `node`, or nil.
    func check(_ node: Node, path: ModelPath) -> LoaderError? {
        func fail(_ message: String) -> LoaderError {
            LoaderError(.invalid, message, origin: node.origin, path: path.description)
        }
        switch self {
        case .any: return nil
        case .string: return node.string != nil ? nil : fail("must be a string")
        case .integer:
            if case .int = node.kind { return nil }
            if case .float(let d) = node.kind, d == d.rounded() { return nil }
            return fail("must be a integer")
        case .number:
            switch node.kind {
            case .int, .float: return nil
            default: return fail("must be a number")
            }
        case .boolean: return node.bool != nil ? nil : fail("must be a boolean")
        case .null: return node.isNull ? nil : fail("must be a null")
        case .pattern(let pattern):
            guard let s = node.string else { return fail("must be a string") }
            return pattern.matches(s) ? nil : fail("'\(s)' does not match pattern '\(pattern.text)'")
        case .enumeration(let values):
            guard let s = node.string else { return fail("must be a string") }
            return values.contains(s)
                ? nil : fail("value must be one of \(values.map { "'\($0)'" }.joined(separator: ", "))")
        case .array(let item, let unique):
            guard let items = node.seq else { return fail("must be a array") }
            for (i, entry) in items.enumerated() {
                if let e = item.check(entry, path: path.appending(i)) { return e }
            }
            if unique {
                for i in 0..<items.count {
                    for j in (i + 1)..<max(i + 1, items.count) where items[i] == items[j] {
                        return LoaderError(
                            .invalid, "items at \(i) and \(j) are equal", origin: items[j].origin,
                            path: path.description)
                    }
                }
            }
            return nil
        case .object(let object):
            guard let m = node.map else { return fail("must be a mapping") }
            for key in object.required where m[key] == nil {
                return fail("missing property '\(key)'")
            }
            for (key, value) in m {
                if let schema = object.properties[key] {
                    if let e = schema.check(value, path: path.appending(key)) { return e }
                    continue
                }
                if object.extensions && key.hasPrefix("x-") { continue }
                if let additional = object.additional {
                    if !object.keyPattern.matches(key) {
                        return LoaderError(
                            .invalid, "additional properties '\(key)' not allowed", origin: node.origin,
                            path: path.description)
                    }
                    if let e = additional.check(value, path: path.appending(key)) { return e }
                    continue
                }
                return LoaderError(
                    .invalid, "additional properties '\(key)' not allowed", origin: value.origin ?? node.origin,
                    path: path.description)
            }
            return nil
        case .oneOf(let options):
            var errors: [LoaderError] = []
            for option in options {
                guard let e = option.check(node, path: path) else { return nil }
                errors.append(e)
            }
            // Report the alternative whose type matches (its deeper error), else the list of types.
            for (option, error) in zip(options, errors) where option.acceptsType(of: node) { return error }
            let names = Set(options.flatMap(\.typeNames)).sorted()
            let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "") : names.first ?? ""
            return fail("must be a \(list)")
        }
    }

    /// Whether the node has this schema's JSON type (whatever its content).
    func acceptsType(of node: Node) -> Bool {
        switch (self, node.kind) {
        case (.any, _): return true
        case (.string, .string), (.enumeration, .string), (.pattern, .string): return true
        case (.integer, .int), (.number, .int), (.number, .float), (.boolean, .bool), (.null, .null): return true
        case (.array, .seq), (.object, .map): return true
        case (.oneOf(let options), _): return options.contains { $0.acceptsType(of: node) }
        default: return false
        }
    }

    var typeNames: [String] {
        switch self {
        case .any: return []
        case .string, .enumeration, .pattern: return ["string"]
        case .integer: return ["integer"]
        case .number: return ["number"]
        case .boolean: return ["boolean"]
        case .null: return ["null"]
        case .array: return ["array"]
        case .object: return ["mapping"]
        case .oneOf(let options): return options.flatMap(\.typeNames)
        }
    }
}

extension KeyPattern {
    func matches(_ key: String) -> Bool {
        switch self {
        case .any: return !key.isEmpty
        case .resourceName:
            return !key.isEmpty
                && key.unicodeScalars.allSatisfy {
                    ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "."
                        || $0 == "_" || $0 == "-"
                }
        case .lowercase: return !key.isEmpty && key.unicodeScalars.allSatisfy { $0 >= "a" && $0 <= "z" }
        }
    }
}

/// The string patterns of the compose-spec schema.
enum StringPattern: Sendable {
    case containerName, pullPolicy

    var text: String {
        switch self {
        case .containerName: return "[a-zA-Z0-9][a-zA-Z0-9_.-]+"
        case .pullPolicy: return "always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+"
        }
    }

    func matches(_ s: String) -> Bool {
        switch self {
        case .containerName:
            let c = Array(s.unicodeScalars)
            func alnum(_ x: Unicode.Scalar) -> Bool {
                (x >= "a" && x <= "z") || (x >= "A" && x <= "Z") || (x >= "0" && x <= "9")
            }
            guard c.count >= 2 else { return false }
            for i in 0..<(c.count - 1) where alnum(c[i]) {
                let n = c[i + 1]
                if alnum(n) || n == "_" || n == "." || n == "-" { return true }
            }
            return false
        case .pullPolicy:
            for word in ["always", "never", "build", "if_not_present", "missing", "refresh", "daily", "weekly"]
            where s.contains(word) {
                return true
            }
            guard let r = s.firstRange(of: "every_") else { return false }
            let rest = s[r.upperBound...]
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let unit = rest.dropFirst(digits.count).first else { return false }
            return "wdhms".contains(unit)
        }
    }
}
