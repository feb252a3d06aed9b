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

// The containers as they are: read from their state files, for `ps`, `up` and every verb.
extension Engine {
    /// The containers of a project (all projects with nil).
    public func containers(project: String?) -> [ContainerStatus] {
        var out: [ContainerStatus] = []
        let ids = Files.list(containersDir).filter { $0.count == 64 }
        for id in ids {
            let files = ContainerFiles(dir: containersDir + "/" + id)
            var damaged: String?
            let record: ContainerRecord
            if let read = ContainerRecord.read(files.dir + "/container.json") {
                record = read
            } else if let recovered = Self.recoveredRecord(id: id, files: files) {
                // One unreadable file must not hide a container from `ps` and `down`.
                record = recovered
                damaged = "container.json"
            } else {
                continue
            }
            if let project, record.project != project { continue }
            let state = RunningState.read(files.state)
            var exit = access(files.exit, F_OK) == 0 ? StateFile.read(ExitRecord.self, from: files.exit) : nil
            // A killed shim may linger as a zombie of whatever adopted it: that is dead too.
            let shimAlive = exit == nil && state.map { ProcessCheck.isAlive($0.shimPid, startTicks: $0.shimStartTicks) } == true
            var running: Bool
            if let state, shimAlive {
                // Its shim records the exit first thing: without one, the container runs (or
                // waits for its restart).
                running = !state.restarting
            } else {
                running = exit == nil && state.map { ProcessCheck.isAlive($0.pid, startTicks: $0.startTicks) } == true
            }
            var lost = false
            if let state, exit == nil, !running, !shimAlive {
                lost = true
                // Its shim died without recording an exit (killed, or the machine went down):
                // exited with 255, as Docker shows such containers, and `up`/`start` start
                // it again with its writable layer.
                exit = ExitRecord(
                    exitCode: 255, oomKilled: false, finishedAt: Self.lostAt(stateFile: files.state), restartCount: state.restartCount)
            }
            if state == nil, exit == nil, access(files.state, F_OK) == 0 {
                // An unreadable state file: no pid to trust, but the cgroup knows.
                damaged = damaged ?? "state.json"
                running = cgroup(of: id).map { !$0.processes().isEmpty } ?? false
            }
            var status = ContainerStatus(
                record: record, running: running, pid: state?.pid, shimPid: shimAlive ? state?.shimPid : nil,
                startedAt: state?.startedAt ?? (running ? "" : nil), exit: exit)
            status.damaged = damaged
            status.lost = lost
            status.restarting = exit == nil && !running && state?.restarting == true
            status.restartCount = exit?.restartCount ?? state?.restartCount ?? 0
            status.lastExitCode = state?.lastExitCode
            status.paused = running && access(files.paused, F_OK) == 0
            if running, record.healthcheck == true {
                // Until the shim's first write, a container with a healthcheck is starting.
                status.health = StateFile.read(HealthState.self, from: files.health).flatMap { HealthStatus(rawValue: $0.status) } ?? .starting
            }
            out.append(status)
        }
        return out.sorted { ($0.record.service, $0.record.number) < ($1.record.service, $1.record.number) }
    }

    /// When a container whose shim vanished stopped, as far as can be told: the machine's boot
    /// when it came up since the state file's last write, else that write.
    static func lostAt(stateFile: String) -> String {
        var st = stat()
        guard stat(stateFile, &st) == 0 else { return Clock.rfc3339Now() }
        var seconds = st.st_mtim.tv_sec
        var nanoseconds = st.st_mtim.tv_nsec
        var sinceBoot = timespec()
        if clock_gettime(CLOCK_BOOTTIME, &sinceBoot) == 0 {
            let boot = time(nil) - sinceBoot.tv_sec
            if boot > seconds { (seconds, nanoseconds) = (boot, 0) }
        }
        return Clock.rfc3339(seconds: seconds, nanoseconds: nanoseconds)
    }

    /// What the shim's spec says of a container whose `container.json` cannot be read: its
    /// project (from the event log's name), service, name and image. Its configuration hash
    /// is unknown, so `up` replaces it.
    static func recoveredRecord(id: String, files: ContainerFiles) -> ContainerRecord? {
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec), let events = spec.events else { return nil }
        let logName = events.path.split(separator: "/").last.map(String.init) ?? ""
        guard logName.hasSuffix(".events") else { return nil }
        let project = String(logName.dropLast(".events".count))
        let name = events.attributes["name"] ?? String(id.prefix(12))
        let number = name.split(separator: "-").last.flatMap { Int($0) } ?? 1
        return ContainerRecord(
            id: id, name: name, project: project, service: events.service, number: number, image: events.attributes["image"] ?? "",
            imageID: "", command: spec.container.args, created: "", configHash: "",
            labels: [ComposeLabel.project: project, ComposeLabel.service: events.service])
    }

    /// The reconciler's view of a container.
    static func observed(_ c: ContainerStatus) -> ObservedContainer {
        let phase: ObservedContainer.Phase = c.running || c.restarting ? .running : .stopped
        return ObservedContainer(
            name: c.record.name, service: c.record.service, number: c.record.number, configHash: c.record.configHash,
            imageID: c.record.imageID, phase: phase, oneoff: c.record.labels[ComposeLabel.oneoff] == "True")
    }
}
