// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import SComposeRuntime

/// The D-Bus messages scompose sends to systemd, as golden bytes. The expected bytes come from
/// an independent implementation (Python's dbus-next, `Message(...)._marshall()`) given the
/// same call.
@Suite struct DBusTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func startTransientUnitMatchesAReferenceMarshaller() {
        let message = SystemdScope.startMessage(
            unit: "scompose-web-1-0123456789ab.scope", description: "scompose container web-1", pid: 4242, serial: 7)
        let want =
            "6c0100010001000007000000b600000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e616765720000000000000000030173001200000053746172745472616e7369656e74556e697400000000000006017300180000006f72672e667265656465736b746f702e73797374656d643100000000000000000801670010737361287376296128736128737629290000002100000073636f6d706f73652d7765622d312d3031323334353637383961622e73636f7065000000040000006661696c00000000c00000000b0000004465736372697074696f6e00017300001800000073636f6d706f736520636f6e7461696e6572207765622d31000000000000000005000000536c696365000173000000000e00000073636f6d706f73652e736c6963650000000000000800000044656c65676174650001620001000000000000000b000000436f6c6c6563744d6f6465000173000012000000696e6163746976652d6f722d6661696c65640000000000000400000050494473000261750000000004000000921000000000000000000000"
        #expect(Self.hex(message.bytes) == want)
    }

    @Test func attachProcessesToUnitMatchesAReferenceMarshaller() {
        let message = SystemdScope.attachMessage(unit: "scompose-web-1-0123456789ab.scope", subcgroup: "/supervisor", pids: [4242], serial: 9)
        let want =
            "6c0100014000000009000000aa00000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e616765720000000000000000030173001500000041747461636850726f636573736573546f556e697400000006017300180000006f72672e667265656465736b746f702e73797374656d64310000000000000000080167000473736175000000000000002100000073636f6d706f73652d7765622d312d3031323334353637383961622e73636f70650000000b0000002f73757065727669736f72000400000092100000"
        #expect(Self.hex(message.bytes) == want)
    }

    /// An exec whose manager cannot be reached (or refuses the move) fails at the cgroup step
    /// with systemd's answer, at once: the intermediate, held at the gate, sees its end. Into
    /// a process of our own, whose cgroups and namespaces are ours.
    @Test(.enabled(if: getuid() == 0 && CgroupLayout.host != nil)) func anExecTheManagerDoesNotMoveFailsAtOnce() throws {
        let sleeper = fork()
        if sleeper == 0 {
            sleep(30)
            _exit(0)
        }
        defer {
            kill(sleeper, SIGKILL)
            waitpid(sleeper, nil, 0)
        }
        var config = ContainerConfig(layers: [], upperDir: "/u", workDir: "/w", rootDir: "/", args: ["/bin/true"], env: [])
        config.uid = getuid()
        config.gid = getgid()
        var plan = try InitPlan.compileExec(config, containerRoot: "/")
        plan.systemdEntry = .init(manager: .init(socket: "/nonexistent/systemd/private", uid: 0, cgroupBase: ""), unit: "x.scope")
        let started = Date()
        #expect {
            _ = try Launcher.startExec(into: sleeper, plan, stdio: .init())
        } throws: { error in
            "\(error)".contains("join the container's cgroups") && "\(error)".contains("/nonexistent/systemd/private")
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func anErrorReplyIsRead() throws {
        var reply = DBusMessage(
            kind: .error, serial: 3, path: nil, interface: nil, member: nil, destination: nil, replySerial: 7,
            errorName: "org.freedesktop.systemd1.UnitExists", body: [.string("Unit x.scope already exists.")], firstString: nil)
        let parsed = try DBusMessage.parse(reply.bytes)
        #expect(parsed.kind == .error && parsed.replySerial == 7)
        #expect(parsed.errorName == "org.freedesktop.systemd1.UnitExists")
        #expect(parsed.firstString == "Unit x.scope already exists.")
        reply.kind = .methodReturn
        reply.errorName = nil
        reply.body = [.objectPath("/org/freedesktop/systemd1/job/42")]
        let done = try DBusMessage.parse(reply.bytes)
        #expect(done.kind == .methodReturn && done.firstString == "/org/freedesktop/systemd1/job/42")
        #expect(try DBusMessage.length(ofMessageAt: Array(reply.bytes.prefix(10))) == nil)
    }

    @Test func unitNames() {
        #expect(SystemdScope.unitName(container: "app-web-1", id: "0123456789abcdef") == "scompose-app-web-1-0123456789ab.scope")
        #expect(SystemdScope.unitName(container: "a b", id: "ffffffffffffff") == "scompose-a_b-ffffffffffff.scope")
        #expect(SystemdScope.containerCgroup(unit: "u.scope") == "scompose.slice/u.scope/container")
    }

    /// A rootless user's own manager: its socket, where its scopes' cgroups are, and whether it
    /// delegates what limits need (read from a made-up cgroup tree).
    @Test func aUsersManager() throws {
        let m = SystemdScope.Manager.user(uid: 1000, runtimeDirectory: "/run/user/1000")
        #expect(m.socket == "/run/user/1000/systemd/private" && m.uid == 1000)
        #expect(
            SystemdScope.containerCgroup(unit: "u.scope", manager: m)
                == "user.slice/user-1000.slice/user@1000.service/scompose.slice/u.scope/container")
        #expect(SystemdScope.supervisorCgroup(unit: "u.scope", manager: .system) == "scompose.slice/u.scope/supervisor")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scompose-manager-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let service = dir + "/cgroup/user.slice/user-1000.slice/user@1000.service"
        try FileManager.default.createDirectory(atPath: service, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/run/systemd", withIntermediateDirectories: true)
        let layout = CgroupLayout.v2(dir + "/cgroup")
        try "cpu io memory pids\n".write(toFile: service + "/cgroup.controllers", atomically: true, encoding: .utf8)
        // No manager listening: not delegated.
        #expect(SystemdScope.Manager.delegated(uid: 1000, runtimeDirectory: dir + "/run", layout: layout) == nil)
        FileManager.default.createFile(atPath: dir + "/run/systemd/private", contents: nil)
        let found = SystemdScope.Manager.delegated(uid: 1000, runtimeDirectory: dir + "/run", layout: layout)
        #expect(found == .user(uid: 1000, runtimeDirectory: dir + "/run"))
        #expect(SystemdScope.Manager.delegated(uid: 1000, runtimeDirectory: dir + "/run", layout: .v1(controllers: [:], unified: nil)) == nil)
        // memory and pids alone (no cpu) do not do.
        try "memory pids\n".write(toFile: service + "/cgroup.controllers", atomically: true, encoding: .utf8)
        #expect(SystemdScope.Manager.delegated(uid: 1000, runtimeDirectory: dir + "/run", layout: layout) == nil)
        #expect(CgroupPlacement.userScope(m).manager == m && CgroupPlacement.systemdScope.manager == .system && CgroupPlacement.none.manager == nil)
    }
}
