// SPDX-License-Identifier: Apache-2.0

/// Cross-field rules the schema cannot say (compose-go's `validation` package), checked on
/// the merged, canonical model.
enum Validation {
    static func check(_ dict: Node) throws(LoaderError) {
        for (name, v) in dict["volumes"]?.map ?? OrderedMap() {
            guard let m = v.map else {
                if v.isNull { continue }
                throw LoaderError(.invalid, "expected volume, got \(Merge.goPrint(v))", origin: v.origin)
            }
            if let ext = m["external"], ext.bool == true || ext.map != nil {
                for key in m.keys where key != "name" && key != "external" && !key.hasPrefix("x-") {
                    throw LoaderError(
                        .invalid, "volumes.\(name): conflicting parameters \"external\" and \"\(key)\" specified",
                        origin: m[key]?.origin)
                }
            }
        }
        for (kind, keys) in [("configs", ["file", "environment", "content"]), ("secrets", ["file", "environment"])] {
            for (name, v) in dict[kind]?.map ?? OrderedMap() {
                guard let m = v.map else { continue }
                let count = keys.filter { m[$0] != nil }.count
                let list = keys.joined(separator: "|")
                if count > 1 {
                    throw LoaderError(.invalid, "\(kind).\(name): \(list) attributes are mutually exclusive", origin: v.origin)
                }
                if count == 0 && m["driver"] == nil && m["external"] == nil {
                    throw LoaderError(.invalid, "\(kind).\(name): one of \(list) must be set", origin: v.origin)
                }
            }
        }
        for (name, s) in dict["services"]?.map ?? OrderedMap() {
            for v in s["volumes"]?.seq ?? [] {
                if let size = v["tmpfs"]?["size"]?.int, size < 0 {
                    throw LoaderError(
                        .invalid, "services.\(name).volumes.tmpfs.size must be greater than or equal to 0",
                        origin: v["tmpfs"]?["size"]?.origin)
                }
            }
            for p in s["ports"]?.seq ?? [] {
                if let ip = p["host_ip"]?.string, !IPAddress.isValid(ip) {
                    throw LoaderError(
                        .invalid, "services.\(name).ports.[]: invalid ip address: \(ip)", origin: p["host_ip"]?.origin)
                }
            }
            for w in s["develop"]?["watch"]?.seq ?? [] where w["path"]?.string == "" {
                throw LoaderError(
                    .invalid, "services.\(name).develop.watch.[].path: value can't be blank", origin: w.origin)
            }
            let devices = (s["deploy"]?["resources"]?["reservations"]?["devices"]?.seq ?? []).map {
                ("services.\(name).deploy.resources.reservations.devices.[]", $0)
            } + (s["gpus"]?.seq ?? []).map { ("services.\(name).gpus.[]", $0) }
            for (path, d) in devices where d["count"] != nil && d["device_ids"] != nil {
                throw LoaderError(
                    .invalid, "\(path): \"count\" and \"device_ids\" attributes are exclusive", origin: d.origin)
            }
        }
    }
}
