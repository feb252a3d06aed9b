// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// `scompose boot`: what Docker's daemon does when the machine starts, without a daemon.
/// Containers whose restart policy asks for it start again in dependency order (waiting for
/// `service_healthy` dependencies, which Docker does not); `--install` writes a systemd unit
/// that runs it at every boot, `--install --user` one for the user's own systemd manager
/// (rootless).
struct Boot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot", _superCommandName: "scompose",
        abstract: "Start the containers whose restart policy asks for it after a reboot (not in Docker Compose)")

    @Flag(name: .long, help: "Write and enable a systemd unit that runs `scompose boot` at every boot")
    var install = false

    @Flag(name: .long, help: "Disable and remove that unit")
    var uninstall = false

    @Flag(
        name: .long,
        help: "With --install or --uninstall: a unit of your own systemd manager (~/.config/systemd/user), for your rootless containers")
    var user = false

    @Option(name: .customLong("unit-dir"), help: "Where systemd units go (default /etc/systemd/system; with --user ~/.config/systemd/user)")
    var unitDirectory: String?

    @Option(name: .customLong("health-timeout"), help: "Seconds to wait for a service_healthy dependency")
    var healthTimeout = 300

    func validate() throws {
        if install && uninstall { throw CLIError.rejecting("--install and --uninstall cannot be used together") }
        if user && !install && !uninstall { throw CLIError.rejecting("--user goes with --install or --uninstall") }
    }

    func run() throws {
        // The unit is a file of the host's (the user's own, with --user): written from here,
        // not from inside a rootless user's namespaces.
        if install || uninstall {
            let environment = Console.environment()
            if !user && unitDirectory == nil && getuid() != 0 {
                throw CLIError("a system unit needs root: `scompose boot --install --user` writes one for your own systemd manager")
            }
            let unit = BootUnit(directory: unitDirectory ?? (user ? BootUnit.userDirectory(environment: environment) : BootUnit.systemDirectory), user: user)
            if install {
                guard let executable = ProjectContext.executablePath else { throw CLIError("cannot find scompose's own path in /proc/self/exe") }
                try unit.install(executable: executable, root: Path.absolute(StateRoot.path, base: FileSystem.currentDirectory()))
                Console.error(" Installed \(unit.path), enabled for \(unit.target)\n")
                if user {
                    Console.error(
                        " Run `systemctl --user daemon-reload` to have it seen now, and `loginctl enable-linger` for it to start at boot without a login\n")
                }
            } else {
                unit.uninstall()
                Console.error(" Removed \(unit.path)\n")
            }
            return
        }
        try ProjectContext.guardRoot()
        let failed = ProjectContext.engine().boot(healthTimeout: healthTimeout)
        if !failed.isEmpty { throw CLIError("could not start \(failed.joined(separator: ", "))") }
    }
}

/// The systemd unit of `scompose boot`, enabled the way `systemctl enable` does it (a link in
/// the target's `.wants` folder), so that no daemon need be asked: a system unit for
/// `multi-user.target`, or a user unit (rootless) for the user manager's `default.target`.
public struct BootUnit {
    public static let name = "scompose-boot.service"
    /// Where a system unit goes by default.
    public static let systemDirectory = "/etc/systemd/system"
    public let directory: String
    /// A unit of the user's own systemd manager.
    public let user: Bool
    public var path: String { directory + "/" + Self.name }
    /// The target that wants it: what the manager reaches at boot (or, for a user's, at their
    /// first login or, lingering, at boot).
    public var target: String { user ? "default.target" : "multi-user.target" }
    var wantsLink: String { directory + "/\(target).wants/" + Self.name }

    public init(directory: String, user: Bool = false) {
        self.directory = directory
        self.user = user
    }

    /// Where a user's own units go: `$XDG_CONFIG_HOME/systemd/user` (`~/.config/systemd/user`).
    public static func userDirectory(environment: [String: String]) -> String {
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/systemd/user" }
        return (environment["HOME"] ?? "/") + "/.config/systemd/user"
    }

    /// The unit: once, after the network and file systems are up, with this state root.
    public static func text(executable: String, root: String) -> String {
        text(executable: executable, root: root, user: false)
    }

    /// The unit, a system's or (`user`) a user manager's. A user manager has no
    /// network-online.target to wait for. `scompose boot` leaves behind, in the unit's cgroup,
    /// the rootless user's namespace holder and pasta (and, without delegated cgroups, the
    /// containers' shims): the unit stays active after it and only its main process is
    /// stopped with it, so that they go on.
    public static func text(executable: String, root: String, user: Bool) -> String {
        let order = user ? "" : "Wants=network-online.target\nAfter=network-online.target local-fs.target\n"
        let keep = user ? "RemainAfterExit=yes\nKillMode=process\n" : ""
        return """
            [Unit]
            Description=Start scompose containers whose restart policy asks for it
            \(order)
            [Service]
            Type=oneshot
            \(keep)Environment=SCOMPOSE_ROOT=\(root)
            ExecStart=\(executable) boot

            [Install]
            WantedBy=\(user ? "default.target" : "multi-user.target")

            """
    }

    public func install(executable: String, root: String) throws {
        do {
            try Files.makeDirectories(directory + "/\(target).wants")
            try Files.writeAtomically(path, Array(Self.text(executable: executable, root: root, user: user).utf8))
        } catch {
            throw CLIError("cannot write \(path): \(ErrorWording.message(error))")
        }
        unlink(wantsLink)
        guard symlink(path, wantsLink) == 0 else { throw CLIError("cannot enable \(path): \(String(cString: strerror(errno)))") }
    }

    public func uninstall() {
        unlink(wantsLink)
        unlink(path)
    }
}
