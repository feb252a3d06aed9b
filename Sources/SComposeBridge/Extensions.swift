// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS

/// A service's `x-k8s`: what Kubernetes has and Compose does not.
///
/// ```yaml
/// x-k8s:
///   annotations: {prometheus.io/scrape: "true"}
///   nodeSelector: {disktype: ssd}
///   tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]
///   storageClass: fast      # for the claims of the named volumes it mounts
/// ```
struct ServiceExtension: Sendable, Equatable {
    var annotations: [String: String] = [:]
    var nodeSelector: [String: String] = [:]
    var tolerations: [KubeNode] = []
    var storageClass: String?

    init() {}

    init(_ value: JSONValue?, service: String) throws(BridgeError) {
        guard let value, value != .null else { return }
        let at = "services.\(service).x-k8s"
        guard case .object(let fields) = value else { throw BridgeError("\(at) must be a mapping") }
        for (key, field) in fields {
            switch key {
            case "annotations": annotations = try Self.strings(field, at: at + ".annotations", keys: true)
            case "nodeSelector": nodeSelector = try Self.strings(field, at: at + ".nodeSelector", keys: true)
            case "storageClass": storageClass = try Self.string(field, at: at + ".storageClass")
            case "tolerations":
                guard case .array(let items) = field else { throw BridgeError("\(at).tolerations must be a list") }
                tolerations = try items.enumerated().map { (i, item) throws(BridgeError) in
                    try Self.toleration(item, at: "\(at).tolerations[\(i)]")
                }
            default:
                throw BridgeError("\(at): unknown key \"\(key)\" (known: annotations, nodeSelector, storageClass, tolerations)")
            }
        }
    }

    static func string(_ value: JSONValue, at: String) throws(BridgeError) -> String {
        switch value {
        case .string(let s): return s
        case .number(let text) where Int64(text) != nil: return text
        case .bool(let b): return b ? "true" : "false"
        default: throw BridgeError("\(at) must be a string")
        }
    }

    static func strings(_ value: JSONValue, at: String, keys: Bool) throws(BridgeError) -> [String: String] {
        guard case .object(let pairs) = value else { throw BridgeError("\(at) must be a mapping of strings") }
        var out: [String: String] = [:]
        for (key, item) in pairs {
            if keys, !Kube.isLabelKey(key) { throw BridgeError("\(at): \"\(key)\" is not a valid Kubernetes key") }
            out[key] = try string(item, at: at + "." + key)
        }
        return out
    }

    /// A toleration with Kubernetes' fields only, checked here so a typo fails the conversion
    /// rather than the `kubectl apply`.
    static func toleration(_ value: JSONValue, at: String) throws(BridgeError) -> KubeNode {
        guard case .object(let pairs) = value else { throw BridgeError("\(at) must be a mapping") }
        var out: [String: KubeNode] = [:]
        for (key, item) in pairs {
            switch key {
            case "key", "value": out[key] = .string(try string(item, at: at + "." + key))
            case "operator":
                let op = try string(item, at: at + ".operator")
                guard ["Exists", "Equal"].contains(op) else { throw BridgeError("\(at).operator must be Exists or Equal") }
                out[key] = .string(op)
            case "effect":
                let effect = try string(item, at: at + ".effect")
                guard ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) else {
                    throw BridgeError("\(at).effect must be NoSchedule, PreferNoSchedule or NoExecute")
                }
                out[key] = .string(effect)
            case "tolerationSeconds":
                guard case .number(let text) = item, let seconds = Int64(text) else { throw BridgeError("\(at).tolerationSeconds must be an integer") }
                out[key] = .int(seconds)
            default:
                throw BridgeError("\(at): unknown key \"\(key)\" (known: effect, key, operator, tolerationSeconds, value)")
            }
        }
        return .map(out)
    }
}

/// A named volume's `x-k8s`: `size` and `storageClass` of its claim.
struct VolumeExtension: Sendable, Equatable {
    var size: String?
    var storageClass: String?

    init() {}

    init(_ value: JSONValue?, volume: String) throws(BridgeError) {
        guard let value, value != .null else { return }
        let at = "volumes.\(volume).x-k8s"
        guard case .object(let fields) = value else { throw BridgeError("\(at) must be a mapping") }
        for (key, field) in fields {
            switch key {
            case "size": size = try ServiceExtension.string(field, at: at + ".size")
            case "storageClass": storageClass = try ServiceExtension.string(field, at: at + ".storageClass")
            default: throw BridgeError("\(at): unknown key \"\(key)\" (known: size, storageClass)")
            }
        }
    }
}

extension Kube {
    /// A storage size as a Kubernetes quantity. Docker writes sizes as `10g` or `512m`, where
    /// Kubernetes would read `m` as thousandths: single lowercase units become binary ones.
    static func storage(_ text: String, at: String) throws(BridgeError) -> String {
        let trimmed = text.trimmingCharacters(in: " ")
        let digits = trimmed.prefix { ("0"..."9").contains($0) || $0 == "." }
        let unit = String(trimmed.dropFirst(digits.count))
        guard !digits.isEmpty, digits.filter({ $0 == "." }).count <= 1 else {
            throw BridgeError("\(at): \"\(text)\" is not a size (e.g. 10Gi)")
        }
        let docker = ["k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti", "kb": "Ki", "mb": "Mi", "gb": "Gi", "tb": "Ti"]
        if let binary = docker[unit.lowercased()], unit == unit.lowercased() { return digits + binary }
        let kube: Set<String> = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"]
        guard kube.contains(unit) else { throw BridgeError("\(at): \"\(text)\" is not a size (e.g. 10Gi)") }
        return String(trimmed)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self[...]
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}
