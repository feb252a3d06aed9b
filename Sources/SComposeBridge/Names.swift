// SPDX-License-Identifier: Apache-2.0

/// Kubernetes' rules for names, labels and quantities, and compose values turned into them.
enum Kube {
    /// A DNS-1035 label (what a Service's name must be, and the safe choice for every object):
    /// lowercase letters, digits and `-`, starting with a letter, at most 63 characters. Compose
    /// names may hold `_`, `.` and capitals: those become `-` and lowercase.
    static func name(_ text: String) -> String {
        var out = ""
        for scalar in text.lowercased().unicodeScalars {
            let ok = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
            out.unicodeScalars.append(ok ? scalar : "-")
        }
        while out.hasPrefix("-") { out.removeFirst() }
        if let first = out.unicodeScalars.first, ("0"..."9").contains(first) { out = "c-" + out }
        if out.isEmpty { out = "unnamed" }
        if out.count > 63 { out = String(out.prefix(63)) }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }

    /// Whether a text is a valid label value (at most 63 characters of letters, digits, `-`, `_`,
    /// `.`, starting and ending with a letter or digit; empty is allowed).
    static func isLabelValue(_ text: String) -> Bool {
        if text.isEmpty { return true }
        guard text.count <= 63, let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            alnum(first), alnum(last)
        else { return false }
        return text.unicodeScalars.allSatisfy { alnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// Whether a text is a valid label or annotation key: `[prefix/]name`, the prefix a DNS
    /// subdomain, the name as a label value but not empty.
    static func isLabelKey(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let name = parts.last, parts.count <= 2, !name.isEmpty, isLabelValue(String(name)) else { return false }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.count <= 253 else { return false }
            return prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                guard let f = part.unicodeScalars.first, let l = part.unicodeScalars.last, part.count <= 63 else { return false }
                return lowerAlnum(f) && lowerAlnum(l) && part.unicodeScalars.allSatisfy { lowerAlnum($0) || $0 == "-" }
            }
        }
        return true
    }

    /// Whether a text can be a ConfigMap or Secret key (and so an environment variable given
    /// with `envFrom`).
    static func isDataKey(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 253 && text != "." && text != ".."
            && text.unicodeScalars.allSatisfy { alnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    private static func alnum(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    private static func lowerAlnum(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("0"..."9").contains(c)
    }

    /// Bytes as a quantity: the largest binary unit that divides them (`512Mi`), else bytes.
    static func memory(_ bytes: Int64) -> String {
        for (unit, size) in [("Ti", Int64(1) << 40), ("Gi", Int64(1) << 30), ("Mi", Int64(1) << 20), ("Ki", Int64(1) << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)"
    }

    /// CPUs as a quantity: whole CPUs (`2`) or millicores (`500m`).
    static func cpu(_ cpus: Double) -> String {
        let milli = Int64((cpus * 1000).rounded())
        return milli % 1000 == 0 ? "\(milli / 1000)" : "\(milli)m"
    }

    /// Nanoseconds as whole seconds, rounded up and at least `minimum` (probe fields are seconds).
    static func seconds(_ nanoseconds: Int64, minimum: Int64 = 1) -> Int64 {
        let whole = (nanoseconds + 999_999_999) / 1_000_000_000
        return max(whole, minimum)
    }

    /// A port's name: at most 15 characters, lowercase letters, digits and single `-`, with a letter.
    static func portName(_ proto: String, _ port: Int, name: String?) -> String {
        if let name {
            let cleaned = Kube.name(name)
            if cleaned.count <= 15, !cleaned.contains("--") { return cleaned }
        }
        return "\(proto.lowercased())-\(port)"
    }
}
