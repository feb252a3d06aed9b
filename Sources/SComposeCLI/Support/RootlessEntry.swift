// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The way into rootless mode: a command that makes or manages containers, run by an ordinary
/// user, runs again inside the user's namespaces (`RootlessHolder`), where it is root, as a
/// child of this process; this one, still on the host, forwards the published ports.
enum RootlessEntry {
    /// Runs this command in the user's namespaces, starting them on first use, and ends with
    /// its status (a `CLIError` with no message); returns at once when already there or root.
    static func enter() throws {
        var environment = Console.environment()
        guard let identity = Rootless.current(environment: environment), !identity.joined else { return }
        // Commands run without XDG_RUNTIME_DIR (su, runuser, cron) use the user's runtime
        // directory where a session or lingering made one, as those with it do: all of them
        // must find the same holder. The command inside gets the variable too.
        if environment["XDG_RUNTIME_DIR"] == nil, let runtime = userRuntimeDirectory(identity.uid) {
            environment["XDG_RUNTIME_DIR"] = runtime
        }
        let name = userName(identity.uid)
        let uids = SubordinateRange.parse(text("/etc/subuid"), name: name, id: identity.uid)
        let gids = SubordinateRange.parse(text("/etc/subgid"), name: name, id: identity.gid)
        let single = uids.isEmpty || gids.isEmpty
        if single {
            Console.warn(
                "no subordinate IDs for \(name) in /etc/subuid and /etc/subgid: only your own ID is mapped (to root), so images "
                    + "with files of other users will not unpack; add a range with "
                    + "`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(name)`")
        }
        let holder = RootlessHolder(directory: Rootless.runDirectory(environment: environment, uid: identity.uid), uid: identity.uid)
        let pid: pid_t
        do {
            pid = try holder.ensure(
                shim: ProjectContext.shimPath, identity: identity, uids: single ? [] : uids, gids: single ? [] : gids)
        } catch {
            throw CLIError(error.description)
        }
        var inside = environment
        inside[Rootless.portStartVariable] = text("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .split(whereSeparator: \.isWhitespace).first.map(String.init)
        let child: pid_t
        do {
            child = try RootlessHolder.spawnJoined(pid, identity: identity, environment: inside)
        } catch {
            throw CLIError(error.description)
        }
        // While it runs and once it is done, the published ports of the user's running
        // containers are what pasta forwards from the host.
        let status = RootlessHolder.wait(child) { forwardPorts(holder) }
        forwardPorts(holder)
        throw CLIError("", code: status)
    }

    static func forwardPorts(_ holder: RootlessHolder) {
        let engine = ProjectContext.engine()
        var ports: Set<ForwardedPort> = []
        for c in engine.containers(project: nil) where c.running {
            for p in c.record.ports ?? [] { ports.insert(ForwardedPort(proto: p.proto, hostIP: p.hostIP, port: p.hostPort)) }
        }
        do {
            try holder.forward(ports.sorted { $0.description < $1.description })
        } catch {
            Console.warn("published ports are not forwarded from the host: \(error)")
        }
    }

    /// Stops the holder once none of the user's containers runs (after `down`): its
    /// namespaces were there for them.
    static func release(_ engine: Engine) {
        let environment = Console.environment()
        guard let identity = Rootless.current(environment: environment),
            !engine.containers(project: nil).contains(where: \.running)
        else { return }
        RootlessHolder(directory: Rootless.runDirectory(environment: environment, uid: identity.uid), uid: identity.uid).stop()
    }

    /// `/run/user/UID` when it is there and the user's (logind made it).
    static func userRuntimeDirectory(_ uid: UInt32) -> String? {
        let path = "/run/user/\(uid)"
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == uid else { return nil }
        return path
    }

    static func text(_ path: String) -> String {
        (try? Files.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func userName(_ uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "\(uid)" }
        return String(cString: name)
    }
}
