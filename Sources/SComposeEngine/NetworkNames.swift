// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// How a container is named and finds others on its networks, decided with no I/O: the
/// order of its networks, the names the embedded DNS answers for it, its `/etc/hosts` lines
/// and its `resolv.conf`. `networkPlan` allocates the addresses and uses these rules.
enum NetworkNames {
    /// The service's networks, highest `priority` first, then by name, as Compose orders them
    /// (the first is the one whose gateway is the default route).
    static func order(_ service: ServiceConfig) -> [String] {
        service.networks.keys.sorted {
            let a = service.networks[$0]??.priority ?? 0
            let b = service.networks[$1]??.priority ?? 0
            return a != b ? a > b : $0 < $1
        }
    }

    /// The names the embedded DNS answers with this container's address on one network: its
    /// name, hostname and short id, and (unless a one-off without `--use-aliases`) its
    /// service's name and the network's aliases. Sorted, each once.
    static func dnsNames(
        service: ServiceConfig, network: String, containerName: String, hostname: String, containerID: String, serviceAliases: Bool
    ) -> [String] {
        var names = [containerName, hostname, String(containerID.prefix(12))]
        // A container of no project has no service name, only its aliases (`--network-alias`).
        if serviceAliases { names += (service.name.isEmpty ? [] : [service.name]) + ((service.networks[network] ?? nil)?.aliases ?? []) }
        return Array(Set(names)).sorted()
    }

    /// The `/etc/hosts` lines of one address: the hostname, and with `domainname` the full name.
    static func hostsLines(address: String, address6: String?, hostname: String, domainname: String?) -> [String] {
        let names = "\t\(hostname)" + (domainname.map { "\t\(hostname).\($0)" } ?? "")
        return [address + names] + (address6.map { [$0 + names] } ?? [])
    }

    /// `extra_hosts` as `/etc/hosts` lines: `name:ip` or `name=ip`; `host-gateway` is the first
    /// network's gateway (the entry is left out without one).
    static func extraHosts(_ entries: [String], gateway: String?) throws -> [String] {
        try entries.compactMap { entry in
            let parts = entry.split(maxSplits: 1, whereSeparator: { $0 == ":" || $0 == "=" }).map(String.init)
            guard parts.count == 2 else { throw EngineError(.invalidValue(what: "extra_hosts entry", value: entry)) }
            let ip = parts[1] == "host-gateway" ? gateway : parts[1]
            return ip.map { "\($0)\t\(parts[0])" }
        }
    }

    /// The container's `resolv.conf` without the embedded DNS (Docker's default network alone),
    /// as Docker writes it: the host's, without its loopback resolvers (unreachable from the
    /// container's namespace; Google's when none is left); `dns`, `dns_search` and `dns_opt`
    /// each replace the host's lines of their kind (a search of `.` means none).
    static func resolvConf(host: String, service: ServiceConfig) -> String {
        var lines = host.split(separator: "\n").map(String.init).filter { line in
            if line.hasPrefix("nameserver") {
                return service.dns.isEmpty && !(line.hasPrefix("nameserver 127.") || line.hasPrefix("nameserver ::1"))
            }
            if line.hasPrefix("search") || line.hasPrefix("domain") { return service.dnsSearch.isEmpty }
            if line.hasPrefix("options") { return service.dnsOpt.isEmpty }
            return true
        }
        if !service.dns.isEmpty {
            lines += service.dns.map { "nameserver " + $0 }
        } else if !lines.contains(where: { $0.hasPrefix("nameserver") }) {
            lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
        }
        let search = service.dnsSearch.filter { $0 != "." }
        if !search.isEmpty { lines.append("search " + search.joined(separator: " ")) }
        if !service.dnsOpt.isEmpty { lines.append("options " + service.dnsOpt.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The container's `resolv.conf` on project networks: the embedded DNS, `dns_search`,
    /// and `ndots:0` before `dns_opt`, as Docker writes it.
    static func resolvConf(_ service: ServiceConfig) -> String {
        var text = "nameserver 127.0.0.11\n"
        if !service.dnsSearch.isEmpty { text += "search " + service.dnsSearch.joined(separator: " ") + "\n" }
        return text + "options " + (["ndots:0"] + service.dnsOpt).joined(separator: " ") + "\n"
    }
}
