// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS
import Dispatch
import SComposeEngine
import SComposeLoader
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

/// The container of a service that `commit` and `export` act on (`--index`, the first by default).
extension ProjectContext {
    static func container(_ global: GlobalOptions, service: String, index: Int?) throws -> ContainerStatus {
        let (_, containers) = try ProjectContext.containers(global, services: [service])
        // Compose's default index is 0: the first container.
        let wanted = index.flatMap { $0 > 0 ? $0 : nil }
        guard let c = wanted.map({ i in containers.first { $0.record.number == i } }) ?? containers.first else {
            throw CLIError("service \"\(service)\" has no container\(index.map { " #\($0)" } ?? "")")
        }
        return c
    }
}

/// Shared by the verbs that act on a project's containers.
enum ProjectContext {
    static func engine() -> Engine {
        var engine = Engine(root: StateRoot.path, shimPath: shimPath, progress: ProgressOutput.render)
        engine.buildOutput = { Console.error($0) }
        engine.pullImage = { image, platform in
            try Pulling.pull(try ImageReference(parsing: image), platform: platform, lines: false)
        }
        return engine
    }

    /// This executable's path, nil when /proc does not tell.
    static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `scompose-shim` next to this executable, unless SCOMPOSE_SHIM says otherwise.
    static var shimPath: String {
        if let p = Console.environment()["SCOMPOSE_SHIM"], !p.isEmpty { return p }
        return executablePath.map { Path.dirname($0) + "/scompose-shim" } ?? "/usr/local/bin/scompose-shim"
    }

    static func load(_ global: GlobalOptions, services: [String] = [], renderExtensions: Bool = false) throws -> LoadedProject {
        var options = global.projectOptions()
        options.services = services
        options.renderExtensions = renderExtensions
        let project = try Loader.load(options)
        for warning in project.warnings { Console.warn(warning) }
        return project
    }

    /// The project name without loading containers' files: from the compose files.
    static func name(_ global: GlobalOptions) throws -> String {
        try load(global).name
    }

    /// The engine, and the project's containers of `services` (all when empty).
    static func containers(_ global: GlobalOptions, services: [String]) throws -> (Engine, [ContainerStatus]) {
        let name = try self.name(global)
        let engine = self.engine()
        let all = engine.containers(project: name)
        return (engine, services.isEmpty ? all : all.filter { services.contains($0.record.service) })
    }

    /// The work of `up`, `create` and `scale`: with `--dry-run` the plan is printed, one line
    /// per decision prefixed as Compose's dry-run output, and false returned; otherwise it is
    /// carried out.
    static func reconcile(_ project: LoadedProject, _ options: ReconcileOptions, _ global: GlobalOptions, _ engine: Engine) throws -> Bool {
        if global.dryRun {
            let plan = try engine.plan(project, options: options)
            for line in plan.text.split(separator: "\n") { Console.error("DRY-RUN MODE - " + line) }
            return false
        }
        try guardRoot()
        do {
            try interruptible { cancellation in
                try engine.up(project, options: options, parallel: global.parallelLimit, cancellation: cancellation)
            }
        } catch DependencyGraphError.cancelled {
            // As Compose, an interrupted command ends with 130.
            throw CLIError("", code: 130)
        }
        return true
    }

    /// Runs `body` with Ctrl-C (or SIGTERM) turned into its cancellation: no further service
    /// starts, those under way finish; a second one ends the command at once. The signals are
    /// read from the self-pipe by a watcher that ends with `body`, which gives them back their
    /// default dispositions.
    static func interruptible(_ body: (Cancellation) throws -> Void) throws {
        let cancellation = Cancellation()
        // The watcher sleeps in poll(2) on the signals and on this pipe, which wakes it the
        // moment `body` is done (a timeout would cost every command its length).
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else { return try body(cancellation) }
        let (wakeRead, wakeWrite) = (wake[0], wake[1])
        for fd in wake { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        SignalPipe.watch([SIGINT, SIGTERM])
        let watcher = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while true {
                var fds = [pollfd(fd: SignalPipe.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { break }
                if fds[1].revents != 0 { break }
                let count = SignalPipe.take().count
                guard count > 0 else { continue }
                if cancellation.isCancelled || count > 1 { _exit(130) }
                Console.error("Gracefully stopping... press Ctrl+C again to force")
                cancellation.cancel()
            }
            watcher.signal()
        }
        defer {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            watcher.wait()
            close(wakeRead)
            close(wakeWrite)
            SignalPipe.unwatch([SIGINT, SIGTERM])
        }
        try body(cancellation)
    }

    /// Run by an ordinary user, the command goes on inside the user's namespaces (rootless
    /// mode): this re-executes it there and does not return.
    static func guardRoot() throws {
        try RootlessEntry.enter()
    }
}
