// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeNetwork
import SComposeOS
import SComposeRuntime

struct ContainerInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more containers")

    @Option(name: [.short, .long], help: "Format output using a custom template: 'json' or a Go template")
    var format: String?

    @Argument var containers: [String]

    func run() throws {
        let engine = ContainerContext.engine()
        var found: [JSONValue] = []
        var failures: [String] = []
        for reference in containers {
            do {
                let c = try engine.container(reference: reference)
                found.append(ContainerInspectJSON.of(c, spec: StateFile.read(ShimSpec.self, from: engine.files(c.record.id).spec), networks: NetworkStore(stateRoot: StateRoot.path).list()))
            } catch {
                failures.append("Error: \(error is EngineError ? "No such container: \(reference)" : ErrorWording.message(error))")
            }
        }
        if let format, format != "json" {
            Console.out(try GoTemplate.render(format, rows: found))
        } else {
            Console.out(JSONValue.array(found).text(indent: "    ", sortKeys: false) + "\n")
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}

/// A container in the JSON shape of `docker container inspect`: the fields scripts read
/// (`State`, `Config`, `HostConfig`, `Mounts`, `NetworkSettings`), from its state files.
enum ContainerInspectJSON {
    static let zeroTime = "0001-01-01T00:00:00Z"

    static func of(_ c: ContainerStatus, spec: ShimSpec?, networks: [NetworkRecord]) -> JSONValue {
        let config = spec?.container
        let args = c.record.command
        func strings(_ list: [String]?) -> JSONValue { list.map { .array($0.map(JSONValue.string)) } ?? .null }
        let state = c.state
        var stateFields: [(String, JSONValue)] = [
            ("Status", .string(state.rawValue)), ("Running", .bool(state == .running || state == .paused)),
            ("Paused", .bool(state == .paused)), ("Restarting", .bool(state == .restarting)),
            ("OOMKilled", .bool(c.exit?.oomKilled ?? false)), ("Dead", .bool(false)),
            ("Pid", .int(Int64(c.running ? c.pid ?? 0 : 0))), ("ExitCode", .int(Int64(c.exit?.exitCode ?? c.lastExitCode ?? 0))),
            ("Error", .string("")), ("StartedAt", .string(c.startedAt.flatMap { $0.isEmpty ? nil : $0 } ?? zeroTime)),
            ("FinishedAt", .string(c.exit?.finishedAt ?? zeroTime)),
        ]
        if let health = c.health { stateFields.append(("Health", .object([("Status", .string(health.rawValue))]))) }
        // Ports as Docker keys them: `80/tcp` → host bindings.
        var bindings: [String: [PortBinding]] = [:]
        for p in c.record.ports ?? [] { bindings["\(p.containerPort)/\(p.proto)", default: []].append(p) }
        func portMap(hostIPDefault: String) -> JSONValue {
            .object(bindings.keys.sorted().map { key in
                (key, .array((bindings[key] ?? []).map { p in
                    .object([("HostIp", .string(p.hostIP ?? hostIPDefault)), ("HostPort", .string(String(p.hostPort)))])
                }))
            })
        }
        let restart = spec?.restart ?? .no
        let networkMode = spec?.joinNetworkOf != nil ? "container" : (spec?.network == nil ? "none" : networkName(spec, networks) ?? "bridge")
        let hostConfig = JSONValue.object([
            ("NetworkMode", .string(networkMode)), ("PortBindings", portMap(hostIPDefault: "")),
            ("RestartPolicy", .object([("Name", .string(restart.name)), ("MaximumRetryCount", .int(Int64(restart.maxRetries)))])),
            ("AutoRemove", .bool(false)), ("Privileged", .bool(config?.privileged ?? false)),
            ("ReadonlyRootfs", .bool(config?.readOnlyRootfs ?? false)),
            ("Memory", .int(spec?.resources.memory ?? 0)), ("PidsLimit", spec?.resources.pids.map { .int($0) } ?? .null),
        ])
        let mounts = JSONValue.array((config?.mounts ?? []).map { m in
            let volume = volumeName(m.source)
            return .object([
                ("Type", .string(m.kind == .tmpfs ? "tmpfs" : volume != nil ? "volume" : "bind")),
                ("Name", volume.map(JSONValue.string) ?? .null), ("Source", .string(m.kind == .tmpfs ? "" : m.source)),
                ("Destination", .string(m.target)), ("Mode", .string("")), ("RW", .bool(!m.readOnly)),
                ("Propagation", .string(m.propagation ?? (volume == nil && m.kind == .bind ? "rprivate" : ""))),
            ])
        })
        let env = config?.env ?? []
        let configJSON = JSONValue.object([
            ("Hostname", .string(config?.hostname ?? "")), ("User", .string(config.map { $0.uid == 0 && $0.gid == 0 ? "" : "\($0.uid):\($0.gid)" } ?? "")),
            ("Tty", .bool(config?.tty ?? false)), ("OpenStdin", .bool(spec?.stdinOpen ?? false)),
            ("Env", strings(env)), ("Cmd", strings(args)), ("Image", .string(c.record.image)),
            ("WorkingDir", .string(config?.workingDir ?? "")),
            ("Labels", .object(c.record.labels.keys.sorted().map { ($0, .string(c.record.labels[$0] ?? "")) })),
        ])
        var nets: [(String, JSONValue)] = []
        for iface in spec?.network?.interfaces ?? [] {
            let record = networks.first { $0.bridge == iface.bridge }
            nets.append((record?.name ?? iface.bridge, .object([
                ("NetworkID", .string(record?.id ?? "")), ("Gateway", .string(record?.gateway.description ?? "")),
                ("IPAddress", .string(iface.address)), ("IPPrefixLen", .int(Int64(iface.prefix))),
                ("IPv6Gateway", .string(record?.gateway6?.description ?? "")), ("GlobalIPv6Address", .string(iface.address6 ?? "")),
                ("MacAddress", .string(iface.mac ?? "")),
            ])))
        }
        let primary = spec?.network?.interfaces.first
        let networkSettings = JSONValue.object([
            ("Ports", portMap(hostIPDefault: "0.0.0.0")), ("IPAddress", .string(primary?.address ?? "")),
            ("Gateway", .string(spec?.network?.gateway ?? "")), ("Networks", .object(nets)),
        ])
        return .object([
            ("Id", .string(c.record.id)), ("Created", .string(c.record.created)), ("Path", .string(args.first ?? "")),
            ("Args", .array(args.dropFirst().map(JSONValue.string))), ("State", .object(stateFields)),
            ("Image", .string(c.record.imageID)), ("Name", .string("/" + c.record.name)), ("RestartCount", .int(Int64(c.restartCount))),
            ("HostConfig", hostConfig), ("Mounts", mounts), ("Config", configJSON), ("NetworkSettings", networkSettings),
        ])
    }

    /// The network of the container's first interface.
    static func networkName(_ spec: ShimSpec?, _ networks: [NetworkRecord]) -> String? {
        guard let bridge = spec?.network?.interfaces.first?.bridge else { return nil }
        return networks.first { $0.bridge == bridge }?.name
    }

    /// A volume's name, for a mount of its data directory (`…/volumes/<name>/_data`).
    static func volumeName(_ source: String) -> String? {
        let parts = source.split(separator: "/")
        guard parts.count >= 3, parts[parts.count - 1] == "_data", parts[parts.count - 3] == "volumes" else { return nil }
        return String(parts[parts.count - 2])
    }
}
