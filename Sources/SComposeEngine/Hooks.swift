// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// A `post_start` / `pre_stop` hook as the container's record keeps it (`pre_stop` runs at
/// `stop` and `down`, which may not read the compose files).
public struct HookRecord: Sendable, Codable, Equatable {
    public var command: [String]
    public var user: String?
    public var workingDir: String?
    public var privileged: Bool?
    /// `KEY=VALUE`, or `KEY` alone to unset it.
    public var environment: [String]?

    init(_ hook: ServiceHook) {
        command = hook.command
        user = hook.user
        workingDir = hook.workingDir
        privileged = hook.privileged ? true : nil
        let env = hook.environment.sorted { $0.key < $1.key }.map { pair in pair.value.map { "\(pair.key)=\($0)" } ?? pair.key }
        environment = env.isEmpty ? nil : env
    }
}

extension Engine {
    /// Runs hooks in a running container, one after the other; the first that fails is an
    /// error carrying what it printed.
    func runHooks(_ hooks: [HookRecord], in c: ContainerStatus, kind: String) throws {
        for hook in hooks {
            let output = Files.memoryFile("hook")
            guard output >= 0 else { throw EngineError(.during("\(kind) hook of \(c.record.name): memfd"), errno: errno) }
            defer { close(output) }
            let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { if null >= 0 { close(null) } }
            let code = try exec(
                in: c, command: hook.command, user: hook.user, workingDir: hook.workingDir, env: hook.environment ?? [],
                privileged: hook.privileged ?? false, stdio: .init(stdin: null, stdout: output, stderr: output))
            guard code == 0 else {
                lseek(output, 0, SEEK_SET)
                let printed = (try? FileSystem.readAll(fd: output)).map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
                let trimmed = printed.split(whereSeparator: { $0.isNewline }).joined(separator: " ")
                throw EngineError(.hookFailed(kind: kind, container: c.record.name, status: code, output: trimmed))
            }
        }
    }

    /// `post_start` of the container named `name`, just started. A container that has already
    /// ended (a quick one-off) has nothing to run them in.
    func runPostStart(_ hooks: [ServiceHook], container name: String, project: String) throws {
        guard !hooks.isEmpty, let c = container(named: name, project: project), c.running else { return }
        do {
            try runHooks(hooks.map(HookRecord.init), in: c, kind: "post_start")
        } catch {
            if container(named: name, project: project)?.running == true { throw error }
        }
    }

    /// `pre_stop` of the running containers about to be stopped; a failure is reported and the
    /// container stopped all the same, as Compose does.
    func runPreStop(_ containers: [ContainerStatus]) {
        for c in containers where c.running {
            guard let hooks = c.record.preStop, !hooks.isEmpty else { continue }
            do {
                try runHooks(hooks, in: c, kind: "pre_stop")
            } catch {
                progress(.warned(EngineError(passing: error)))
            }
        }
    }
}
