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

// start, stop, restart, signal, pause and remove, through the container's shim.
extension Engine {
    /// Starts an existing, stopped container again (its writable layer is kept).
    public func start(_ c: ContainerStatus) throws {
        guard !c.running else { return }
        try startStopped(c)
    }

    /// `start(_:)` of a container known to be stopped (`c` may say otherwise: `up` restarts
    /// with the status read before its stop).
    @discardableResult
    func startStopped(_ c: ContainerStatus, attachStdin: Bool? = nil) throws -> Int32? {
        let files = ContainerFiles(dir: containersDir + "/" + c.record.id)
        let spec = StateFile.read(ShimSpec.self, from: files.spec)
        // Its networks' bridges and rules, again after the machine restarted.
        // Found by bridge rather than by the DNS list: the default network has no DNS.
        let bridges = Set(spec?.network?.interfaces.map(\.bridge) ?? [])
        if !bridges.isEmpty {
            for record in networkStore.list() where bridges.contains(record.bridge) { try realize(record) }
        }
        // Its published ports, again if a failed start (or a restart of the machine) took them away.
        let backend = networkBackend
        if let ports = c.record.ports, !ports.isEmpty, !backend.isPublished(container: c.record.id),
            let interface = spec?.network?.interfaces.first, let ip = IPv4(interface.address)
        {
            do {
                try backend.publish(
                    PortPublication(containerID: c.record.id, address: ip, address6: interface.address6.flatMap(IPv6.init), ports: ports))
            } catch {
                throw EngineError(.failed(operation: "publish the ports of \(c.record.name)"), cause: error)
            }
        }
        return try start(files, attachStdin: attachStdin)
    }

    /// Sends a signal to a running container's init (through its shim, so that its restart
    /// policy knows the user did it).
    public func signal(_ c: ContainerStatus, _ signal: Int32) throws {
        guard c.running, let pid = c.pid else { return }
        events(c.record).record("kill", id: c.record.id, extra: ["signal": String(signal)])
        let shim = shim(c.record.id)
        if c.shimPid != nil, shim.deliver(signal: signal) { return }
        do {
            try shim.signalInit(pid: pid, signal: signal)
        } catch {
            throw EngineError(.failed(operation: "signal \(c.record.name)"), cause: error)
        }
    }

    /// Starts the container's shim and waits until the container runs (or failed to). With
    /// `attachStdin` (a `run` container made with `waitForAttach`), the returned socket is
    /// attached to it from before its first output.
    @discardableResult
    func start(_ files: ContainerFiles, attachStdin: Bool? = nil) throws -> Int32? {
        do {
            return try ShimClient(files: files).start(shim: shimPath, attachStdin: attachStdin)
        } catch {
            // A container that does not run publishes nothing (`start` makes its rules again).
            networkBackend.unpublish(container: String(files.dir.split(separator: "/").last ?? ""))
            if case .startFailed(let message, let errno) = error {
                // The errno says whether the program was missing (127) or could not run (126).
                throw EngineError(.createTask(message), errno: errno)
            }
            throw EngineError(passing: error)
        }
    }

    /// Stops a running container: its stop signal, then SIGKILL after `timeout` seconds (the
    /// service's `stop_grace_period` when nil); waits for its shim to record the exit. A
    /// container whose shim died is stopped and cleaned up here.
    public func stop(_ c: ContainerStatus, timeout: Int?) throws {
        try stop([c], timeout: timeout)
    }

    /// Stops containers as Compose does: those that depend on others first, and all of one
    /// level at once (each shim escalates to SIGKILL on its own), then waits for their exits.
    /// `progress` is told of each container as it starts and ends stopping.
    public func stop(
        _ containers: [ContainerStatus], timeout: Int?, progress: ((ContainerStatus, Bool) -> Void)? = nil
    ) throws {
        let active = containers.filter { $0.exit == nil && $0.state != .created }
        for level in try Self.downLevels(active) {
            runPreStop(level)
            var waiting: [(ContainerStatus, time_t)] = []
            for c in level {
                progress?(c, false)
                let shim = shim(c.record.id)
                let signal = c.record.stopSignal ?? SIGTERM
                let seconds = timeout ?? c.record.stopTimeout ?? 10
                // A damaged state file hides the shim's pid, not the shim: ask it all the same.
                if c.shimPid != nil || c.damaged != nil, shim.stop(signal: signal, seconds: seconds) {
                    waiting.append((c, time(nil) + time_t(seconds) + 15))
                } else {
                    // No shim (killed, or gone since we looked): nobody supervises the container.
                    shim.stopUnsupervised(pid: c.running ? c.pid : nil, signal: signal, timeout: seconds)
                    events(c.record).record("stop", id: c.record.id)
                    progress?(c, true)
                }
            }
            // The shims write exit.json once their container is gone and its cgroup removed.
            while !waiting.isEmpty {
                var still: [(ContainerStatus, time_t)] = []
                for (c, deadline) in waiting {
                    if access(containersDir + "/" + c.record.id + "/exit.json", F_OK) == 0 {
                        events(c.record).record("stop", id: c.record.id)
                        progress?(c, true)
                    } else if time(nil) >= deadline {
                        throw EngineError(.timedOut(waitingFor: "\(c.record.name) to stop"))
                    } else {
                        still.append((c, deadline))
                    }
                }
                waiting = still
                if !waiting.isEmpty { usleep(10_000) }
            }
        }
    }

    /// Stops the containers, then starts them again as they are now (their state re-read).
    /// `progress` is told of each: false when it starts stopping, true once started again.
    public func restart(
        _ containers: [ContainerStatus], timeout: Int?, progress: ((ContainerStatus, Bool) -> Void)? = nil
    ) throws {
        try stop(containers, timeout: timeout) { c, done in if !done { progress?(c, false) } }
        let ids = Set(containers.map(\.record.id))
        for c in self.containers(project: containers.first?.record.project) where ids.contains(c.record.id) {
            try start(c)
            progress?(c, true)
        }
    }

    /// `stop` with Compose's `Stopping` and `Stopped` lines.
    public func stopReporting(_ containers: [ContainerStatus], timeout: Int?) throws {
        try stop(containers, timeout: timeout) { c, done in
            self.progress(.resource(.container, c.record.name, "\(done ? "Stopped" : "Stopping")"))
        }
    }

    /// Starts the stopped ones of `containers`, the services they depend on first (as Compose's
    /// `start`); `report` is told before (false) and after (true) each.
    public func start(_ containers: [ContainerStatus], report: (ContainerStatus, Bool) -> Void) throws {
        // Dependencies first: the reverse of the order `stop` goes in.
        for level in try Self.downLevels(containers).reversed() {
            for c in level where !c.running {
                report(c, false)
                try start(c)
                report(c, true)
            }
        }
    }

    /// `containers` grouped by the down levels of their services' graph (`labelGraph`): a
    /// service's containers come before those of the services it depends on, and all of one
    /// level can be stopped at once. A cycle is an error naming it (as Docker Compose's).
    static func downLevels(_ containers: [ContainerStatus]) throws(EngineError) -> [[ContainerStatus]] {
        let levels: [[String]]
        do throws(DependencyGraphError) {
            levels = try labelGraph(containers.map(\.record)).levels(.down)
        } catch {
            throw EngineError(passing: error)
        }
        var levelOf: [String: Int] = [:]
        for (i, services) in levels.enumerated() {
            for service in services { levelOf[service] = i }
        }
        var result = [[ContainerStatus]](repeating: [], count: levels.count)
        for c in containers {
            if let i = levelOf[c.record.service] { result[i].append(c) }
        }
        return result.filter { !$0.isEmpty }
    }

    /// The services of `records` and what they depend on, from their
    /// `com.docker.compose.depends_on` labels (which outlive the compose files that made them,
    /// so may disagree with today's), in order of names. A dependency on a service with no
    /// record here is no edge: `stop web` leaves `db` alone.
    static func labelGraph(_ records: [ContainerRecord]) -> DependencyGraph<String> {
        let services = Set(records.map(\.service))
        var dependencies: [String: Set<String>] = [:]
        for record in records {
            let names = ComposeLabel.dependsOnEntries(record.labels[ComposeLabel.dependsOn]).map(\.service)
            dependencies[record.service, default: []].formUnion(names.filter(services.contains))
        }
        return DependencyGraph(services.sorted().map { ($0, (dependencies[$0] ?? []).sorted()) })
    }

    /// The container's cgroup, when this machine has cgroups: where its spec put it.
    func cgroup(of id: String) -> Cgroup? {
        shim(id).cgroup
    }

    /// Freezes (`pause`) or thaws (`unpause`) a running container.
    public func setPaused(_ c: ContainerStatus, _ paused: Bool) throws {
        guard c.running, CgroupLayout.host != nil else {
            throw EngineError(.containerNotRunning(c.record.name))
        }
        do {
            try shim(c.record.id).setPaused(paused)
        } catch {
            throw EngineError(.failed(operation: "\(paused ? "pause" : "unpause") \(c.record.name)"), cause: error)
        }
        events(c.record).record(paused ? "pause" : "unpause", id: c.record.id)
    }

    /// The processes of a running container (pids as the host sees them).
    public func processes(_ c: ContainerStatus) -> [Int32] {
        c.running ? shim(c.record.id).processes() : []
    }

    /// Removes a stopped container's directory. Whatever still runs in its cgroup (a
    /// container whose state could not be read) is killed first: nothing outlives its record.
    public func remove(_ c: ContainerStatus) throws {
        shim(c.record.id).killRemaining()
        releaseNetwork(c.record.id)
        Files.removeTree(containersDir + "/" + c.record.id)
        events(c.record).record("destroy", id: c.record.id)
    }

}
