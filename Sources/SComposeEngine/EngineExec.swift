// SPDX-License-Identifier: Apache-2.0
import FoundationEssentials
import SComposeLoader
import SComposeNetwork
import SComposeOCI
import SComposeOS
import SComposeRuntime
import SComposeSpec
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// `exec`: a process started in a running container's namespaces and cgroups.
extension Engine {
    /// Runs a command in a service's running container and returns its exit status.
    public func exec(
        project: String, service: String, index: Int, command: [String], user: String?, workingDir: String?,
        env: [String], privileged: Bool = false, stdio: Launcher.Stdio = .init(),
        terminal: ((Int32) -> Void)? = nil, detach: Bool = false
    ) throws -> Int32 {
        let candidates = containers(project: project).filter { $0.record.service == service }
        guard let c = candidates.first(where: { $0.record.number == index }) ?? (index == 1 ? candidates.first : nil),
            c.running
        else {
            throw EngineError(.serviceNotRunning(service))
        }
        return try exec(
            in: c, command: command, user: user, workingDir: workingDir, env: env, privileged: privileged, stdio: stdio,
            terminal: terminal, detach: detach)
    }

    /// Runs a command in a running container and returns its exit status; `detach` returns 0
    /// as soon as the command runs, in a session of its own (`exec -d`).
    public func exec(
        in c: ContainerStatus, command: [String], user: String?, workingDir: String?, env: [String],
        privileged: Bool = false, stdio: Launcher.Stdio = .init(), terminal: ((Int32) -> Void)? = nil, detach: Bool = false
    ) throws -> Int32 {
        guard c.running, let pid = c.pid else { throw EngineError(.containerNotRunning(c.record.name)) }
        // The process would join the frozen cgroup and hang there: refused as Docker refuses it.
        if c.paused {
            throw EngineError(.containerPaused(id: c.record.id))
        }
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            throw EngineError(.failed(operation: "read the spec of \(c.record.name)"))
        }
        var config = spec.container
        config.args = command
        for e in env {
            let key = e.split(separator: "=", maxSplits: 1).first.map(String.init) ?? e
            config.env.removeAll { $0.hasPrefix(key + "=") }
            if e.contains("=") { config.env.append(e) }
        }
        if let workingDir { config.workingDir = workingDir }
        if let user {
            (config.uid, config.gid, config.additionalGids) = try ImageUsers.resolve(
                user, groupAdd: [], layers: ["/proc/\(pid)/root"])
        }
        if privileged {
            config.privileged = true
        }
        // With a terminal: a pty of the container's own devpts, relayed by `terminal` (given the master).
        var stdio = stdio
        var pty: (master: Int32, slave: Int32)?
        if terminal != nil {
            do {
                pty = try Launcher.openPty(ptmx: "/proc/\(pid)/root/dev/pts/ptmx")
            } catch {
                throw EngineError(.execFailed("\(error)", exitCode: 126), cause: error)
            }
            if let pty { stdio = .init(stdin: pty.slave, stdout: pty.slave, stderr: pty.slave) }
        }
        config.tty = pty != nil
        var slaveOpen = pty != nil
        defer {
            if let pty {
                close(pty.master)
                if slaveOpen { close(pty.slave) }
            }
        }
        var plan: InitPlan
        do {
            plan = try InitPlan.compileExec(config, containerRoot: "/proc/\(pid)/root")
        } catch {
            throw EngineError(.execFailed("\(error)", exitCode: 126), cause: error)
        }
        // Rootless, in a scope of the user's own manager: the manager moves the process in.
        if plan.joinsCgroups, let unit = spec.systemdScope, let manager = spec.systemdManager {
            plan.systemdEntry = .init(manager: manager, unit: unit)
        }
        do {
            if detach {
                _ = try Launcher.startExec(into: pid, plan, stdio: stdio, detach: true)
                return 0
            }
            return try Launcher.exec(into: pid, plan, stdio: stdio) { _ in
                if let pty, let terminal {
                    // Only the program holds the slave now: its last close ends the relay (EIO).
                    close(pty.slave)
                    slaveOpen = false
                    terminal(pty.master)
                }
            }
        } catch {
            // As docker: 127 when the command is not found, 126 when it cannot run.
            throw EngineError(.execFailed("\(error)", exitCode: error.errno == ENOENT ? 127 : 126), cause: error)
        }
    }

}
