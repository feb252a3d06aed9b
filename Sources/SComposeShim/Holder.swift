// SPDX-License-Identifier: Apache-2.0
import CLinux
import CSpawn
import SComposeNetlink
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `scompose-shim holder SYNC_FD`: the process that holds a rootless user's namespaces (user,
/// mount, network) for as long as they have containers. The CLI starts it, maps its IDs with
/// `newuidmap`/`newgidmap`, connects `pasta` to its network namespace and joins it; every
/// shim and container is made inside. Its exchange with the CLI on the sync socket is drawn
/// in `RootlessHolder`'s comment (`HolderMessage` lines).
enum Holder {
    static func main(_ args: [String]) -> Int32 {
        guard args.count == 1, let given = Int32(args[0]) else {
            let usage = Array("usage: scompose-shim holder SYNC_FD\n".utf8)
            _ = usage.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            return 2
        }
        // Only stdio and the sync socket: what the caller's callers leaked (a socket whose end
        // tells them the command is over) must not live on in a process that outlives them.
        if given != 3 {
            dup2(given, 3)
            close(given)
        }
        sc_close_from(4)
        let sync: Int32 = 3
        // Detached at once: the CLI reaps this first process and goes on talking to the child.
        let child = fork()
        if child < 0 {
            say(sync, .failed(step: "fork", errno: errno))
            return 1
        }
        if child > 0 { return 0 }
        setsid()
        chdir("/")
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            for fd: Int32 in 0...2 { dup2(null, fd) }
            close(null)
        }
        // The CLI writes the maps of this process from outside once it is in its namespace.
        guard sc_unshare(Int32(SC_CLONE_NEWUSER)) == 0 else { return fail(sync, "unshare user namespace") }
        say(sync, .userNamespace(pid: getpid()))
        var reader = ShimClient.LineReader(fd: sync)
        guard reader.next().map({ String(decoding: $0, as: UTF8.self) }) == HolderMessage.mapped.line else { return 1 }
        // Root of the namespace, with no groups of the user's left (they map to nobody).
        guard sc_become_root() == 0 else { return fail(sync, "become root in the user namespace") }
        _ = setgroups(0, nil)
        guard sc_unshare(Int32(SC_CLONE_NEWNS | SC_CLONE_NEWNET)) == 0 else { return fail(sync, "unshare mount and network namespaces") }
        // The host's mounts keep arriving (a USB disk, a new bind); ours stay here.
        guard sc_mount(nil, "/", nil, UInt(MS_REC | MS_SLAVE), nil) == 0 else { return fail(sync, "make / a slave mount") }
        do {
            let netlink = try Netlink()
            if let lo = try netlink.linkIndex("lo") { try netlink.setLink(lo, up: true) }
        } catch {
            say(sync, .failed(step: "bring lo up: \(error)", errno: nil))
            return 1
        }
        // Until SIGTERM (the last container gone) or SIGINT; the shims inside keep the
        // namespaces alive on their own if this ends first.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGHUP)
        // An ignored signal is dropped, never pending, so sigwait would not see it: whoever
        // started us (runuser, a test runner) may have left SIGTERM ignored.
        for sig in [SIGTERM, SIGINT, SIGHUP] { signal(sig, SIG_DFL) }
        sigprocmask(SIG_BLOCK, &signals, nil)
        say(sync, .ready)
        close(sync)
        var received: Int32 = 0
        while sigwait(&signals, &received) == 0 {
            if received == SIGTERM || received == SIGINT { break }
        }
        return 0
    }

    static func fail(_ fd: Int32, _ step: String) -> Int32 {
        say(fd, .failed(step: step, errno: errno))
        return 1
    }

    static func say(_ fd: Int32, _ message: HolderMessage) { message.send(to: fd) }
}
