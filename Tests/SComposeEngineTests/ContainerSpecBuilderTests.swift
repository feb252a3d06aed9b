// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec
import Testing

@testable import SComposeEngine

/// The service → container translation, read as text without root: each case changes one
/// thing of a service, its image or what `create` resolved, and looks at the lines it decides.
@Suite struct ContainerSpecBuilderTests {
    static let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

    func build(
        _ edit: (inout ServiceConfig) -> Void = { _ in }, image: (inout ImageConfig.ContainerDefaults) -> Void = { _ in },
        resolved: (inout ContainerResolution) -> Void = { _ in }, oneoff: OneOff? = nil
    ) throws -> ContainerBlueprint {
        var service = ServiceConfig(name: "web")
        service.image = "busybox"
        edit(&service)
        var defaults = ImageConfig.ContainerDefaults()
        defaults.Cmd = ["sh"]
        defaults.Env = ["PATH=/usr/bin:/bin", "LANG=C"]
        image(&defaults)
        var r = ContainerResolution(
            id: Self.id, files: ContainerFiles(dir: "/state/containers/\(Self.id)"), imageName: "busybox",
            imageID: "sha256:feed", layers: ["/state/snapshots/a", "/state/snapshots/b"], defaults: defaults,
            storage: StoragePlan(), network: NetworkPlan(resolvConf: "nameserver 127.0.0.11\noptions ndots:0\n"),
            created: "2026-12-03T12:00:00Z", events: EventSource(path: "/state/projects/p.events", service: "web", attributes: [:]))
        resolved(&r)
        let builder = ContainerSpecBuilder(
            project: "p", workingDirectory: "/src/p", composeFiles: ["/src/p/compose.yaml", "/src/p/compose.override.yaml"],
            service: service, number: 2, name: "p-web-2", hash: "cafe", oneoff: oneoff)
        return try builder.build(r)
    }

    func lines(_ b: ContainerBlueprint) -> [String] { b.description.split(separator: "\n").map(String.init) }

    func value(_ b: ContainerBlueprint, _ path: String) -> String? {
        lines(b).first { $0.hasPrefix(path + " = ") }.map { String($0.dropFirst(path.count + 3)) }
    }

    // MARK: - Command and environment

    @Test func imageCommandByDefault() throws {
        #expect(value(try build(), "spec.container.args") == #"["sh"]"#)
        #expect(value(try build(), "record.command") == #"["sh"]"#)
    }

    @Test func entrypointAndCommandJoin() throws {
        let b = try build(image: { $0.Entrypoint = ["/entry"]; $0.Cmd = ["a", "b"] })
        #expect(value(b, "spec.container.args") == #"["/entry", "a", "b"]"#)
    }

    @Test func serviceEntrypointDropsImageCommand() throws {
        let b = try build({ $0.entrypoint = ["/bin/echo"] }, image: { $0.Entrypoint = ["/entry"]; $0.Cmd = ["a"] })
        #expect(value(b, "spec.container.args") == #"["/bin/echo"]"#)
    }

    @Test func serviceCommandKeepsImageEntrypoint() throws {
        let b = try build({ $0.command = ["x", "y z"] }, image: { $0.Entrypoint = ["/entry"] })
        #expect(value(b, "spec.container.args") == #"["/entry", "x", "y z"]"#)
    }

    @Test func noCommandIsAnError() {
        #expect(throws: EngineError.self) { try build(image: { $0.Cmd = nil }) }
        do {
            _ = try build(image: { $0.Cmd = nil })
        } catch {
            #expect((error as? EngineError)?.reason == .noCommand(service: "web"))
        }
    }

    @Test func environmentPrecedence() throws {
        let b = try build({ $0.environment = ["LANG": "fr_FR.UTF-8", "EXTRA": "1", "GONE": nil] }, image: { $0.Env = ["PATH=/x", "LANG=C", "GONE=y"] })
        #expect(value(b, "spec.container.env") == #"["HOSTNAME=0123456789ab", "PATH=/x", "EXTRA=1", "LANG=fr_FR.UTF-8"]"#)
    }

    @Test func defaultPathWhenNoneIsSet() throws {
        let b = try build(image: { $0.Env = nil })
        #expect(value(b, "spec.container.env") == #"["HOSTNAME=0123456789ab", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]"#)
    }

    @Test func workingDirectory() throws {
        #expect(value(try build(), "spec.container.workingDir") == #""/""#)
        #expect(value(try build(image: { $0.WorkingDir = "/app" }), "spec.container.workingDir") == #""/app""#)
        #expect(value(try build({ $0.workingDir = "/srv" }, image: { $0.WorkingDir = "/app" }), "spec.container.workingDir") == #""/srv""#)
        #expect(value(try build(image: { $0.WorkingDir = "" }), "spec.container.workingDir") == #""/""#)
    }

    @Test func resolvedUser() throws {
        let b = try build(resolved: { $0.uid = 1000; $0.gid = 100; $0.additionalGids = [27, 44] })
        #expect(value(b, "spec.container.uid") == "1000")
        #expect(value(b, "spec.container.gid") == "100")
        #expect(value(b, "spec.container.additionalGids") == "[27, 44]")
    }

    // MARK: - Names, hosts and DNS

    @Test func hostnameIsTheIDPrefixOrTheService() throws {
        #expect(try build().hostname == "0123456789ab")
        #expect(try build({ $0.hostname = "db" }).hostname == "db")
        #expect(value(try build({ $0.hostname = "db" }), "spec.container.hostname") == #""db""#)
    }

    @Test func hostsWithoutNetworks() throws {
        let b = try build()
        #expect(b.hosts == "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t0123456789ab\n")
    }

    @Test func hostsFromTheNetworkPlan() throws {
        let b = try build(resolved: { $0.network.hosts = ["172.30.0.2\t0123456789ab", "172.30.0.3\tdb"] })
        #expect(lines(b).contains("hosts 172.30.0.3 db"))
        #expect(!b.hosts.contains("127.0.1.1"))
    }

    @Test func hostNetworkUsesTheHostsHostsFile() throws {
        let b = try build({ $0.networkMode = "host" }, resolved: { $0.hostEtcHosts = "10.0.0.1 host\n" })
        #expect(b.hosts == "10.0.0.1 host\n")
        #expect(!(value(b, "spec.container.namespaces")?.isEmpty ?? true))
    }

    @Test func resolvConfFromTheNetworkPlan() throws {
        #expect(lines(try build()).contains("resolv nameserver 127.0.0.11"))
    }

    @Test func fileBindsPointIntoTheContainerDirectory() throws {
        let b = try build()
        #expect(value(b, "spec.container.fileBinds[0].source") == #""/state/containers/\#(Self.id)/hosts""#)
        #expect(value(b, "spec.container.fileBinds[2].target") == #""/etc/resolv.conf""#)
    }

    @Test func joinedNetworkSharesItsHostsFile() throws {
        let b = try build({ $0.networkMode = "service:db" }, resolved: { $0.network.joinDirectory = "/state/containers/db1"; $0.network.hostsSource = "/state/containers/db1/hosts" })
        #expect(value(b, "spec.container.fileBinds[0].source") == #""/state/containers/db1/hosts""#)
        #expect(value(b, "spec.joinNetworkOf") == #""/state/containers/db1""#)
    }

    // MARK: - Namespaces and sysctls

    @Test func privateNetworkGetsDockersSysctls() throws {
        let b = try build()
        #expect(value(b, "spec.container.sysctls.net.ipv4.ip_unprivileged_port_start") == #""0""#)
        #expect(value(b, "spec.container.sysctls.net.ipv4.ping_group_range") == #""0 2147483647""#)
    }

    @Test func hostNetworkDropsTheNetworkNamespace() throws {
        let b = try build({ $0.networkMode = "host" })
        let net = try build().spec.container.namespaces
        #expect(net.contains(.net))
        #expect(!b.spec.container.namespaces.contains(.net))
        #expect(b.spec.container.sysctls.isEmpty)
    }

    @Test func serviceSysctlsOverride() throws {
        let b = try build({ $0.sysctls = ["net.ipv4.ip_unprivileged_port_start": "1024", "kernel.shmmax": "1000"] })
        #expect(value(b, "spec.container.sysctls.net.ipv4.ip_unprivileged_port_start") == #""1024""#)
        #expect(b.spec.container.sysctls["kernel.shmmax"] == "1000")
    }

    @Test func nonNamespacedSysctlsAreRefused() {
        #expect(throws: EngineError.self) { try build({ $0.sysctls = ["vm.swappiness": "10"] }) }
        #expect(throws: EngineError.self) { try build({ $0.networkMode = "host"; $0.sysctls = ["net.ipv4.ip_forward": "1"] }) }
    }

    // MARK: - Security

    @Test func defaultCapabilitiesAndSeccomp() throws {
        let b = try build()
        #expect(b.spec.container.capabilities == SecurityDefaults.capabilities)
        #expect(value(b, "spec.container.seccomp") == "true")
        #expect(value(b, "spec.container.noNewPrivileges") == "false")
    }

    @Test func capAddAndDrop() throws {
        let b = try build({ $0.capAdd = ["NET_ADMIN", "CAP_SYS_PTRACE"]; $0.capDrop = ["chown"] })
        let caps = try #require(b.spec.container.capabilities)
        #expect(caps.contains(12) && caps.contains(19) && !caps.contains(0))
    }

    @Test func dropAllKeepsWhatIsAdded() throws {
        let b = try build({ $0.capAdd = ["NET_BIND_SERVICE"]; $0.capDrop = ["ALL"] })
        #expect(b.spec.container.capabilities == [10])
    }

    @Test func unknownCapabilityIsAnError() {
        #expect(throws: EngineError.self) { try build({ $0.capAdd = ["FLY"] }) }
    }

    @Test func securityOptions() throws {
        let b = try build({ $0.securityOpt = ["no-new-privileges:true", "seccomp=unconfined"] }, resolved: { $0.appArmorProfile = "custom" })
        #expect(value(b, "spec.container.noNewPrivileges") == "true")
        #expect(value(b, "spec.container.seccomp") == "false")
        #expect(value(b, "spec.container.appArmorProfile") == #""custom""#)
        #expect(throws: EngineError.self) { try build({ $0.securityOpt = ["seccomp=/profile.json"] }) }
        #expect(throws: EngineError.self) { try build({ $0.securityOpt = ["bogus=1"] }) }
    }

    @Test func appArmorRequest() {
        var service = ServiceConfig(name: "s")
        #expect(Security.appArmorRequest(service) == nil)
        service.securityOpt = ["no-new-privileges", "apparmor=unconfined"]
        #expect(Security.appArmorRequest(service) == "unconfined")
        service.securityOpt = ["apparmor:my-profile"]
        #expect(Security.appArmorRequest(service) == "my-profile")
    }

    @Test func privilegedAndReadOnly() throws {
        let b = try build({ $0.privileged = true; $0.readOnly = true })
        #expect(value(b, "spec.container.privileged") == "true")
        #expect(value(b, "spec.container.readOnlyRootfs") == "true")
    }

    @Test func ulimits() throws {
        let b = try build({ $0.ulimits = ["nofile": Ulimit(soft: 1024, hard: 4096), "core": Ulimit(soft: -1, hard: -1)] })
        #expect(value(b, "spec.container.rlimits[0].resource") == "4")
        #expect(value(b, "spec.container.rlimits[0].soft") == "\(UInt64.max)")
        #expect(value(b, "spec.container.rlimits[1].resource") == "7")
        #expect(value(b, "spec.container.rlimits[1].hard") == "4096")
        #expect(throws: EngineError.self) { try build({ $0.ulimits = ["nofile": Ulimit(soft: 10, hard: 5)] }) }
        #expect(throws: EngineError.self) { try build({ $0.ulimits = ["wings": Ulimit(soft: 1, hard: 1)] }) }
    }

    // MARK: - Storage

    @Test func mountsAndAnonymousVolumes() throws {
        let b = try build(resolved: {
            $0.storage.mounts = [.init(kind: .bind, source: "/src/p/data", target: "/data", readOnly: true)]
            $0.storage.anonymous = ["/var/lib/x": "0f0f"]
        })
        #expect(value(b, "spec.container.mounts[0].source") == #""/src/p/data""#)
        #expect(value(b, "spec.container.mounts[0].readOnly") == "true")
        #expect(value(b, "record.anonymousVolumes./var/lib/x") == #""0f0f""#)
    }

    @Test func layersAndDirectories() throws {
        let b = try build()
        #expect(value(b, "spec.container.layers") == #"["/state/snapshots/a", "/state/snapshots/b"]"#)
        #expect(value(b, "spec.container.upperDir") == #""/state/containers/\#(Self.id)/upper""#)
    }

    @Test func shmSizeTtyStdinInit() throws {
        let b = try build({ $0.shmSize = 1 << 27; $0.tty = true; $0.stdinOpen = true; $0.initProcess = true })
        #expect(value(b, "spec.container.shmSize") == "134217728")
        #expect(value(b, "spec.container.tty") == "true")
        #expect(value(b, "spec.stdinOpen") == "true")
        #expect(value(b, "spec.container.initProcess") == "true")
    }

    // MARK: - Resources and supervision

    @Test func resourcesWithDockersDefaultSwap() throws {
        let b = try build({ $0.memLimit = 64 << 20; $0.cpus = 0.5; $0.cpuShares = 512; $0.pidsLimit = 50; $0.blkioWeight = 300 })
        #expect(value(b, "spec.resources.memory") == "67108864")
        #expect(value(b, "spec.resources.memorySwap") == "134217728")
        #expect(value(b, "spec.resources.cpus") == "0.5")
        #expect(value(b, "spec.resources.cpuShares") == "512")
        #expect(value(b, "spec.resources.pids") == "50")
        #expect(value(b, "spec.resources.blkioWeight") == "300")
    }

    @Test func deployLimitsWhenTheServiceSetsNone() throws {
        var deploy = DeployConfig()
        deploy.memoryLimit = 32 << 20
        deploy.cpuLimit = 1.5
        deploy.pidsLimit = 9
        let b = try build({ $0.deploy = deploy; $0.memswapLimit = 48 << 20 })
        #expect(b.spec.resources.memory == 32 << 20)
        #expect(b.spec.resources.memorySwap == 48 << 20)
        #expect(b.spec.resources.cpus == 1.5)
        #expect(b.spec.resources.pids == 9)
    }

    @Test func cgroupPlacement() throws {
        #expect(value(try build(), "spec.cgroup") == #""scompose/\#(Self.id)""#)
        let scoped = try build(resolved: { $0.cgroups = .systemdScope })
        #expect(value(scoped, "spec.systemdScope") == #""scompose-p-web-2-0123456789ab.scope""#)
        #expect(value(scoped, "spec.cgroup") == #""scompose.slice/scompose-p-web-2-0123456789ab.scope/container""#)
    }

    @Test func restartPolicies() throws {
        #expect(try build({ $0.restart = "on-failure:3" }).spec.restart == RestartPolicy(name: "on-failure", maxRetries: 3))
        var deploy = DeployConfig()
        deploy.restartCondition = "on-failure"
        deploy.restartMaxAttempts = 2
        #expect(try build({ $0.deploy = deploy }).spec.restart == RestartPolicy(name: "on-failure", maxRetries: 2))
        deploy.restartCondition = "any"
        #expect(try build({ $0.deploy = deploy }).spec.restart.name == "always")
        #expect(throws: EngineError.self) { try build({ $0.restart = "sometimes" }) }
    }

    @Test func healthcheckFromServiceOverImage() throws {
        var health = Healthcheck()
        health.test = ["CMD-SHELL", "pg_isready"]
        health.interval = 2_000_000_000
        var imageHealth = ImageConfig.HealthConfig()
        imageHealth.Test = ["CMD", "true"]
        imageHealth.Retries = 7
        let b = try build({ $0.healthcheck = health }, image: { $0.Healthcheck = imageHealth })
        #expect(value(b, "spec.healthcheck.command") == #"["/bin/sh", "-c", "pg_isready"]"#)
        #expect(value(b, "spec.healthcheck.interval") == "2000000000")
        #expect(value(b, "spec.healthcheck.retries") == "7")
        #expect(value(b, "record.healthcheck") == "true")
        health.disable = true
        #expect(try build({ $0.healthcheck = health }, image: { $0.Healthcheck = imageHealth }).spec.healthcheck == nil)
    }

    @Test func logRotation() throws {
        var logging = LoggingConfig()
        logging.options = ["max-size": "10m", "max-file": "3"]
        let b = try build({ $0.logging = logging })
        #expect(value(b, "spec.logMaxSize") == "10485760")
        #expect(value(b, "spec.logMaxFiles") == "3")
        logging.driver = "syslog"
        #expect(throws: EngineError.self) { try build({ $0.logging = logging }) }
    }

    @Test func stopSignalAndGracePeriod() throws {
        let b = try build({ $0.stopSignal = "SIGINT"; $0.stopGracePeriod = 30_000_000_000 })
        #expect(value(b, "record.stopSignal") == "2")
        #expect(value(b, "record.stopTimeout") == "30")
        #expect(throws: EngineError.self) { try build({ $0.stopSignal = "SIGNOPE" }) }
    }

    // MARK: - Labels, ports, one-offs

    @Test func composeLabels() throws {
        let b = try build({ $0.labels = ["com.docker.compose.project": "mine", "team": "a"]; $0.dependsOn = ["db": Dependency(condition: .healthy, restart: true), "cache": Dependency()] })
        let labels = b.record.labels
        #expect(labels["team"] == "a")
        #expect(labels[ComposeLabel.project] == "p")
        #expect(labels[ComposeLabel.containerNumber] == "2")
        #expect(labels[ComposeLabel.oneoff] == "False")
        #expect(labels[ComposeLabel.configHash] == "cafe")
        #expect(labels[ComposeLabel.workingDir] == "/src/p")
        #expect(labels[ComposeLabel.configFiles] == "/src/p/compose.yaml,/src/p/compose.override.yaml")
        #expect(labels[ComposeLabel.image] == "sha256:feed")
        #expect(labels[ComposeLabel.dependsOn] == "cache:service_started:false,db:service_healthy:true")
        let entries = ComposeLabel.dependsOnEntries(labels[ComposeLabel.dependsOn])
        #expect(entries.map(\.service) == ["cache", "db"])
        #expect(entries.map(\.condition) == [.started, .healthy])
    }

    @Test func oneOffContainers() throws {
        var oneoff = OneOff(slug: "abc123")
        oneoff.attach = true
        let b = try build(oneoff: oneoff)
        #expect(b.record.labels[ComposeLabel.oneoff] == "True")
        #expect(b.record.labels[ComposeLabel.slug] == "abc123")
        #expect(value(b, "spec.waitForAttach") == "true")
        #expect(value(try build(), "spec.waitForAttach") == nil)
    }

    @Test func publishedPorts() throws {
        let b = try build(resolved: {
            $0.network.ports = [PortBinding(proto: "tcp", hostIP: nil, hostPort: 8080, containerPort: 80)]
            $0.network.primaryAddress6 = IPv6("fd00::2")
        })
        #expect(value(b, "record.ports[0].hostPort") == "8080")
        #expect(value(b, "record.ports[0].containerPort") == "80")
        #expect(value(b, "record.portsOnIPv6") == "true")
        #expect(value(try build(), "record.ports") == nil)
    }

    @Test func recordIdentity() throws {
        let b = try build()
        #expect(value(b, "record.name") == #""p-web-2""#)
        #expect(value(b, "record.image") == #""busybox""#)
        #expect(value(b, "record.created") == #""2026-12-03T12:00:00Z""#)
        #expect(value(b, "spec.events.path") == #""/state/projects/p.events""#)
    }

    @Test func preStopHooks() throws {
        var hook = ServiceHook(command: ["sh", "-c", "flush"])
        hook.user = "root"
        let b = try build({ $0.preStop = [hook] })
        #expect(value(b, "record.preStop[0].command") == #"["sh", "-c", "flush"]"#)
        #expect(value(b, "record.preStop[0].user") == #""root""#)
    }

    @Test func flattenedTextIsStable() throws {
        let text = try build().description
        #expect(text == (try build().description))
        #expect(text.hasPrefix("hostname 0123456789ab\nhosts 127.0.0.1 localhost\n"))
    }

    // MARK: - Networks and aliases (the rules networkPlan applies around its allocations)

    func attached(_ edit: (inout ServiceConfig) -> Void) -> ServiceConfig {
        var service = ServiceConfig(name: "web")
        edit(&service)
        return service
    }

    @Test func networksByPriorityThenName() {
        var high = ServiceNetwork()
        high.priority = 10
        let service = attached { $0.networks = ["b": nil, "a": nil, "z": high] }
        #expect(NetworkNames.order(service) == ["z", "a", "b"])
    }

    @Test func dnsNamesWithAliases() {
        var back = ServiceNetwork()
        back.aliases = ["api", "web"]
        let service = attached { $0.networks = ["back": back, "front": nil] }
        #expect(NetworkNames.dnsNames(service: service, network: "back", containerName: "p-web-1", hostname: "0123456789ab", containerID: Self.id, serviceAliases: true)
            == ["0123456789ab", "api", "p-web-1", "web"])
        #expect(NetworkNames.dnsNames(service: service, network: "front", containerName: "p-web-1", hostname: "h", containerID: Self.id, serviceAliases: true)
            == ["0123456789ab", "h", "p-web-1", "web"])
    }

    /// A one-off container answers to the service's names only with `run --use-aliases`.
    @Test func oneOffsWithoutServiceAliases() {
        var back = ServiceNetwork()
        back.aliases = ["api"]
        let service = attached { $0.networks = ["back": back] }
        #expect(NetworkNames.dnsNames(service: service, network: "back", containerName: "p-web-run-1", hostname: "h", containerID: Self.id, serviceAliases: false)
            == ["0123456789ab", "h", "p-web-run-1"])
    }

    @Test func hostsLinesWithDomainAndIPv6() {
        #expect(NetworkNames.hostsLines(address: "172.30.0.2", address6: nil, hostname: "web", domainname: nil) == ["172.30.0.2\tweb"])
        #expect(NetworkNames.hostsLines(address: "172.30.0.2", address6: "fd00::2", hostname: "web", domainname: "example.org")
            == ["172.30.0.2\tweb\tweb.example.org", "fd00::2\tweb\tweb.example.org"])
    }

    @Test func extraHosts() throws {
        #expect(try NetworkNames.extraHosts(["db:10.0.0.5", "cache=10.0.0.6", "host.docker.internal:host-gateway"], gateway: "172.30.0.1")
            == ["10.0.0.5\tdb", "10.0.0.6\tcache", "172.30.0.1\thost.docker.internal"])
        #expect(try NetworkNames.extraHosts(["gw:host-gateway"], gateway: nil) == [])
        #expect(throws: EngineError.self) { try NetworkNames.extraHosts(["nothing"], gateway: nil) }
    }

    @Test func resolvConfOnProjectNetworks() {
        #expect(NetworkNames.resolvConf(attached { _ in }) == "nameserver 127.0.0.11\noptions ndots:0\n")
        let tuned = attached { $0.dnsSearch = ["corp", "lan"]; $0.dnsOpt = ["timeout:2"] }
        #expect(NetworkNames.resolvConf(tuned) == "nameserver 127.0.0.11\nsearch corp lan\noptions ndots:0 timeout:2\n")
    }
}
