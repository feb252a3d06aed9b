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
/// that runs it at every boot.
struct Boot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot", _superCommandName: "scompose",
        abstract: "Start the containers whose restart policy asks for it after a reboot (not in Docker Compose)")

    @Flag(name: .long, help: "Write and enable a systemd unit that runs `scompose boot` at every boot")
    var install = false

    @Flag(name: .long, help: "Disable and remove that unit")
    var uninstall = false

    @Option(name: .customLong("unit-dir"), help: "Where systemd units go")
    var unitDirectory = "/etc/systemd/system"

    @Option(name: .customLong("health-timeout"), help: "Seconds to wait for a service_healthy dependency")
    var healthTimeout = 300

    func validate() throws {
        if install && uninstall { throw CLIError.rejecting("--install and --uninstall cannot be used together") }
    }

    func run() throws {
        try ProjectContext.guardRoot()
        let unit = BootUnit(directory: unitDirectory)
        if install {
            guard let executable = ProjectContext.executablePath else { throw CLIError("cannot find scompose's own path in /proc/self/exe") }
            try unit.install(executable: executable, root: Path.absolute(StateRoot.path, base: FileSystem.currentDirectory()))
            Console.error(" Installed \(unit.path), enabled for multi-user.target\n")
            return
        }
        if uninstall {
            unit.uninstall()
            Console.error(" Removed \(unit.path)\n")
            return
        }
        let failed = ProjectContext.engine().boot(healthTimeout: healthTimeout)
        if !failed.isEmpty { throw CLIError("could not start \(failed.joined(separator: ", "))") }
    }
}

/// The systemd unit of `scompose boot`, enabled the way `systemctl enable` does it (a link in
/// `multi-user.target.wants`), so that no daemon need be asked.
public struct BootUnit {
    public static let name = "scompose-boot.service"
    public let directory: String
    public var path: String { directory + "/" + Self.name }
    var wantsLink: String { directory + "/multi-user.target.wants/" + Self.name }

    public init(directory: String) { self.directory = directory }

    /// The unit: once, after the network and file systems are up, with this state root.
    public static func text(executable: String, root: String) -> String {
        """
        [Unit]
        Description=Start scompose containers whose restart policy asks for it
        Wants=network-online.target
        After=network-online.target local-fs.target

        [Service]
        Type=oneshot
        Environment=SCOMPOSE_ROOT=\(root)
        ExecStart=\(executable) boot

        [Install]
        WantedBy=multi-user.target

        """
    }

    public func install(executable: String, root: String) throws {
        do {
            try Files.makeDirectories(directory + "/multi-user.target.wants")
            try Files.writeAtomically(path, Array(Self.text(executable: executable, root: root).utf8))
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
