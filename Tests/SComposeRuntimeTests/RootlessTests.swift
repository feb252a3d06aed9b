// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

@testable import SComposeRuntime

/// Rootless mode's decisions, as text: subordinate ranges, ID maps, the holder's lines, pasta's
/// port specs, where state goes, and what a container in a user namespace gets.
struct RootlessModeTests {
    @Test func subordinateRangesAndMaps() {
        let text = "# ranges\nalice:100000:65536\nbob:165536:65536\n1000:231072:1000\nalice:300000:10\nbad line\n"
        let alice = SubordinateRange.parse(text, name: "alice", id: 1000)
        #expect(alice == [.init(start: 100000, count: 65536), .init(start: 231072, count: 1000), .init(start: 300000, count: 10)])
        #expect(SubordinateRange.parse(text, name: "carol", id: 1002).isEmpty)
        #expect(
            SubordinateRange.mapArguments(id: 1000, ranges: Array(alice.prefix(2)))
                == ["0", "1000", "1", "1", "100000", "65536", "65537", "231072", "1000"])
    }

    @Test func holderLinesRoundTrip() {
        for message in [HolderMessage.userNamespace(pid: 42), .mapped, .ready, .failed(step: "unshare user namespace", errno: 1)] {
            #expect(HolderMessage(line: message.line) == message)
        }
        #expect(HolderMessage.userNamespace(pid: 42).line == "userns 42")
        #expect(HolderMessage(line: "failed 0 lo up") == .failed(step: "lo up", errno: nil))
        #expect(HolderMessage(line: "userns x") == nil && HolderMessage(line: "hello") == nil)
    }

    @Test func pastaPortSpecs() {
        #expect(ForwardedPort(proto: "tcp", hostIP: nil, port: 8080).spec == "8080")
        #expect(ForwardedPort(proto: "tcp", hostIP: "0.0.0.0", port: 8080).spec == "8080")
        #expect(ForwardedPort(proto: "udp", hostIP: "127.0.0.1", port: 53).description == "udp 127.0.0.1/53")
    }

    @Test func pastaOnAHostWithoutADefaultRoute() {
        let header = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        let v4 = header + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        let lan = header + "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        let zero = String(repeating: "0", count: 32)
        let unreachable = "\(zero) 00 \(zero) 00 \(zero) ffffffff 00000001 00000000 00200200       lo\n"
        let v6 = "\(zero) 00 \(zero) 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n"
        #expect(RootlessHolder.hasDefaultRoute(ipv4: v4, ipv6: ""))
        #expect(RootlessHolder.hasDefaultRoute(ipv4: lan, ipv6: v6))
        #expect(!RootlessHolder.hasDefaultRoute(ipv4: lan, ipv6: unreachable))
        #expect(!RootlessHolder.hasDefaultRoute(ipv4: header, ipv6: ""))
        #expect(RootlessHolder.offlineArguments.starts(with: ["-i", "lo"]))
    }

    @Test func statePerUser() {
        #expect(Rootless.stateRoot(environment: ["HOME": "/home/a"]) == "/home/a/.local/share/scompose")
        #expect(Rootless.stateRoot(environment: ["HOME": "/home/a", "XDG_DATA_HOME": "/data"]) == "/data/scompose")
        #expect(Rootless.runDirectory(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uid: 1000) == "/run/user/1000/scompose")
        #expect(Rootless.runDirectory(environment: [:], uid: 1000) == "/tmp/scompose-1000")
        #expect(Rootless.current(environment: [Rootless.userVariable: "1000:1001", "HOME": "/home/a"]) == Rootless(uid: 1000, gid: 1001, home: "/home/a"))
    }

    @Test func aContainerInAUserNamespace() throws {
        var c = ContainerConfig(layers: ["/l"], upperDir: "/u", workDir: "/w", rootDir: "/r", args: ["sh"], env: [])
        c.inUserNamespace = true
        c.ttyGroupMapped = false
        let plan = try InitPlan.compile(c).description
        #expect(plan.contains("bind-device /dev/null /r/dev/null"))
        #expect(!plan.contains("mknod"))
        #expect(plan.contains("devpts") && !plan.contains("gid=5"))
        var exec = ContainerConfig(layers: ["/l"], upperDir: "/u", workDir: "/w", rootDir: "/r", args: ["sh"], env: [])
        exec.ownCgroup = false
        #expect(try InitPlan.compileExec(exec, containerRoot: "/r").joinsCgroups == false)
        #expect(try InitPlan.compileExec(ContainerConfig(layers: ["/l"], upperDir: "/u", workDir: "/w", rootDir: "/r", args: ["sh"], env: []), containerRoot: "/r").joinsCgroups)
    }
}
