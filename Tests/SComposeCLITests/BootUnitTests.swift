// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeCLI
import Testing

/// `boot --install`'s units as text and files, with no root and no systemd: the system unit as
/// before, and `--user`'s for the user's own manager (rootless), in `~/.config/systemd/user`.
struct BootUnitTests {
    @Test func aUserUnitForTheUsersOwnManager() {
        let text = BootUnit.text(executable: "/usr/local/bin/scompose", root: "/home/a/.local/share/scompose", user: true)
        #expect(
            text == """
                [Unit]
                Description=Start scompose containers whose restart policy asks for it

                [Service]
                Type=oneshot
                RemainAfterExit=yes
                KillMode=process
                Environment=SCOMPOSE_ROOT=/home/a/.local/share/scompose
                ExecStart=/usr/local/bin/scompose boot

                [Install]
                WantedBy=default.target

                """)
        // The system unit is what it was.
        #expect(
            BootUnit.text(executable: "/usr/bin/scompose", root: "/var/lib/scompose")
                == """
                [Unit]
                Description=Start scompose containers whose restart policy asks for it
                Wants=network-online.target
                After=network-online.target local-fs.target

                [Service]
                Type=oneshot
                Environment=SCOMPOSE_ROOT=/var/lib/scompose
                ExecStart=/usr/bin/scompose boot

                [Install]
                WantedBy=multi-user.target

                """)
        #expect(BootUnit.userDirectory(environment: ["HOME": "/home/a"]) == "/home/a/.config/systemd/user")
        #expect(BootUnit.userDirectory(environment: ["HOME": "/home/a", "XDG_CONFIG_HOME": "/cfg"]) == "/cfg/systemd/user")
        #expect(BootUnit.userDirectory(environment: ["HOME": "/home/a", "XDG_CONFIG_HOME": "relative"]) == "/home/a/.config/systemd/user")
    }

    /// `scompose boot --install --user` through the binary, with a home of the test's own:
    /// the unit in `~/.config/systemd/user`, enabled for `default.target`; `--uninstall --user`
    /// takes both away; `--user` alone is refused.
    @Test func installAndUninstallAUserUnit() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-boot-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        func run(_ args: [String]) throws -> (status: Int32, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ImageCommandTests.binary)
            p.arguments = args
            p.environment = ["HOME": home, "PATH": "/usr/bin:/bin", "SCOMPOSE_ROOT": home + "/state"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: e, as: UTF8.self))
        }
        let units = home + "/.config/systemd/user"
        let install = try run(["boot", "--install", "--user"])
        #expect(install.status == 0, "\(install.err)")
        #expect(install.err.contains("enabled for default.target"), "\(install.err)")
        let unit = try String(contentsOfFile: units + "/scompose-boot.service", encoding: .utf8)
        #expect(unit.contains("Environment=SCOMPOSE_ROOT=\(home)/state\n") && unit.contains("WantedBy=default.target"), "\(unit)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: units + "/default.target.wants/scompose-boot.service") == units + "/scompose-boot.service")
        #expect(try run(["boot", "--uninstall", "--user"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: units + "/scompose-boot.service"))
        #expect(!FileManager.default.fileExists(atPath: units + "/default.target.wants/scompose-boot.service"))
        let alone = try run(["boot", "--user"])
        #expect(alone.status != 0 && alone.err.contains("--user goes with --install or --uninstall"), "\(alone.err)")
    }
}
