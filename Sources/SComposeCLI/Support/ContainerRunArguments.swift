// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The flags `container run` and `container create` share (Docker's `docker run` flags); the
/// engine decides what they mean (`ContainerFlags`).
struct ContainerRunArguments: ParsableArguments {
    @Option(name: .long, help: "Assign a name to the container")
    var name: String?

    @Flag(name: [.short, .long], help: "Keep STDIN open even if not attached")
    var interactive = false

    @Flag(name: [.short, .long], help: "Allocate a pseudo-TTY")
    var tty = false

    @Flag(name: .long, help: "Automatically remove the container and its associated anonymous volumes when it exits")
    var rm = false

    @Option(name: [.short, .long], help: "Publish a container's port(s) to the host")
    var publish: [String] = []

    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish all exposed ports to random ports")
    var publishAll = false

    @Option(name: [.short, .customLong("env")], help: "Set environment variables")
    var env: [String] = []

    @Option(name: .customLong("env-file"), help: "Read in a file of environment variables")
    var envFile: [String] = []

    @Option(name: [.short, .long], help: "Bind mount a volume")
    var volume: [String] = []

    @Option(name: .long, help: "Attach a filesystem mount to the container")
    var mount: [String] = []

    @Option(name: .long, help: "Mount a tmpfs directory")
    var tmpfs: [String] = []

    @Option(name: [.short, .long], help: "Working directory inside the container")
    var workdir: String?

    @Option(name: [.short, .long], help: "Username or UID (format: <name|uid>[:<group|gid>])")
    var user: String?

    @Option(name: .long, help: "Overwrite the default ENTRYPOINT of the image")
    var entrypoint: String?

    @Option(name: .customLong("network"), help: "Connect a container to a network")
    var network: String?

    @Option(name: .customLong("network-alias"), help: "Add network-scoped alias for the container")
    var networkAlias: [String] = []

    @Option(name: [.short, .long], help: "Container host name")
    var hostname: String?

    @Option(name: .long, help: "Restart policy to apply when a container exits")
    var restart: String?

    @Option(name: .customLong("health-cmd"), help: "Command to run to check health")
    var healthCmd: String?

    @Option(name: .customLong("health-interval"), help: "Time between running the check (ms|s|m|h)")
    var healthInterval: String?

    @Option(name: .customLong("health-timeout"), help: "Maximum time to allow one check to run (ms|s|m|h)")
    var healthTimeout: String?

    @Option(name: .customLong("health-retries"), help: "Consecutive failures needed to report unhealthy")
    var healthRetries: Int?

    @Option(name: .customLong("health-start-period"), help: "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)")
    var healthStartPeriod: String?

    @Option(name: .customLong("health-start-interval"), help: "Time between running the check during the start period (ms|s|m|h)")
    var healthStartInterval: String?

    @Flag(name: .customLong("no-healthcheck"), help: "Disable any container-specified HEALTHCHECK")
    var noHealthcheck = false

    @Option(name: [.short, .long], help: "Memory limit")
    var memory: String?

    @Option(name: .long, help: "Number of CPUs")
    var cpus: String?

    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (set -1 for unlimited)")
    var pidsLimit: Int64?

    @Option(name: .customLong("cap-add"), help: "Add Linux capabilities")
    var capAdd: [String] = []

    @Option(name: .customLong("cap-drop"), help: "Drop Linux capabilities")
    var capDrop: [String] = []

    @Flag(name: .long, help: "Give extended privileges to this container")
    var privileged = false

    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only")
    var readOnly = false

    @Option(name: .customLong("security-opt"), help: "Security Options")
    var securityOpt: [String] = []

    @Flag(name: .customLong("init"), help: "Run an init inside the container that forwards signals and reaps processes")
    var initProcess = false

    @Option(name: [.short, .customLong("label")], help: "Set meta data on a container")
    var label: [String] = []

    @Option(name: .long, help: "Pull image before running (\"always\", \"missing\", \"never\")")
    var pull: String = "missing"

    @Option(name: .long, help: "Set platform if server is multi-platform capable")
    var platform: String?

    @Option(name: .customLong("stop-signal"), help: "Signal to stop the container")
    var stopSignal: String?

    @Option(name: .customLong("stop-timeout"), help: "Timeout (in seconds) to stop a container")
    var stopTimeout: Int?

    @Option(name: .customLong("add-host"), help: "Add a custom host-to-IP mapping (host:ip)")
    var addHost: [String] = []

    @Option(name: .long, help: "Set custom DNS servers")
    var dns: [String] = []

    @Option(name: .customLong("dns-search"), help: "Set custom DNS search domains")
    var dnsSearch: [String] = []

    @Option(name: .customLong("dns-option"), help: "Set DNS options")
    var dnsOption: [String] = []

    @Option(name: .long, help: "Ulimit options")
    var ulimit: [String] = []

    @Option(name: .long, help: "Add a host device to the container")
    var device: [String] = []

    @Option(name: .long, help: "Sysctl options")
    var sysctl: [String] = []

    @Option(name: .customLong("shm-size"), help: "Size of /dev/shm")
    var shmSize: String?

    @Option(name: .customLong("group-add"), help: "Add additional groups to join")
    var groupAdd: [String] = []

    @Argument(help: "The image")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments")
    var command: [String] = []

    func validate() throws {
        if !["always", "missing", "never"].contains(pull) {
            // Said here: the parser would word a rejection its own way, with its own status.
            Console.error("scompose: invalid pull option: '\(pull)': must be one of \"always\", \"missing\" or \"never\"")
            throw ExitCode(125)
        }
    }

    /// The flags as the engine takes them, `--env-file`s read.
    func flags(detach: Bool) throws -> ContainerRunFlags {
        var f = ContainerRunFlags(image: image)
        f.command = command
        f.name = name
        f.detach = detach
        f.interactive = interactive
        f.tty = tty
        f.autoRemove = rm
        f.publish = publish
        f.publishAll = publishAll
        f.env = env
        for path in envFile {
            do {
                f.envFileLines += String(decoding: try Files.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
            } catch {
                throw CLIError("scompose: open \(path): no such file or directory", code: 125)
            }
        }
        f.volumes = volume
        f.mounts = mount
        f.tmpfs = tmpfs
        f.workdir = workdir
        f.user = user
        f.entrypoint = entrypoint
        f.network = network
        f.networkAliases = networkAlias
        f.hostname = hostname
        f.restart = restart
        f.healthCmd = healthCmd
        f.healthInterval = healthInterval
        f.healthTimeout = healthTimeout
        f.healthRetries = healthRetries
        f.healthStartPeriod = healthStartPeriod
        f.healthStartInterval = healthStartInterval
        f.noHealthcheck = noHealthcheck
        f.memory = memory
        f.cpus = cpus
        f.pidsLimit = pidsLimit
        f.capAdd = capAdd
        f.capDrop = capDrop
        f.privileged = privileged
        f.readOnly = readOnly
        f.securityOpt = securityOpt
        f.initProcess = initProcess
        f.labels = label
        f.pull = pull
        f.platform = platform
        f.stopSignal = stopSignal
        f.stopTimeout = stopTimeout
        f.addHosts = addHost
        f.dns = dns
        f.dnsSearch = dnsSearch
        f.dnsOptions = dnsOption
        f.ulimits = ulimit
        f.devices = device
        f.sysctls = sysctl
        f.shmSize = shmSize
        f.groupAdd = groupAdd
        return f
    }
}
