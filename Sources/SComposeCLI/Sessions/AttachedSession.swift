// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Attached `up`: the containers' output multiplexed with Compose's prefixes and colours,
/// `name exited with code N` when one ends, the first Ctrl-C stops everything gracefully and a
/// second one kills; `--abort-on-container-exit` and `--exit-code-from` end the run when one ends.
struct AttachedSession {
    let engine: Engine
    let project: String
    /// Services whose output is shown (empty: all).
    let attach: [String]
    let noAttach: [String]
    let abortOnExit: Bool
    let abortOnFailure: Bool
    let exitCodeFrom: String?
    let prefix: Bool
    let color: Bool
    let timestamps: Bool
    let timeout: Int?
    /// `up --watch`: containers come and go with rebuilds; only Ctrl-C ends the session.
    var watching = false

    func shown(_ c: ContainerStatus) -> Bool {
        (attach.isEmpty || attach.contains(c.record.service)) && !noAttach.contains(c.record.service)
    }

    /// Runs until every container has ended or the user stops it; returns the exit status.
    func run(services: [String]) -> Int32 {
        // SIGINT/SIGTERM seen while attached, counted: the second one forces.
        SignalPipe.watch([SIGINT, SIGTERM])
        var interruptions = 0
        func current() -> [ContainerStatus] {
            engine.containers(project: project).filter { services.isEmpty || services.contains($0.record.service) }
        }
        var presenters = LogPresenters(color: color, prefix: prefix)
        let initial = current()
        presenters.register(initial)
        let names = initial.filter(shown).map { LogPresenters.displayName($0) }
        Console.out("Attaching to " + names.joined(separator: ", ") + "\n")
        var readers: [String: JSONLogReader] = [:]
        var ended: [String: Int32] = [:]
        var code: Int32 = 0
        var stopping = false
        let out = BufferedOutput()
        func drain(_ containers: [ContainerStatus]) {
            for c in containers where shown(c) {
                var reader = readers[c.record.id] ?? JSONLogReader(path: engine.files(c.record.id).log)
                let lines = readers[c.record.id] == nil ? reader.readAll() : reader.readNew()
                readers[c.record.id] = reader
                let p = presenters.prefix(for: c)
                // Only this run's output: what an earlier run of a restarted container wrote stays in `logs`.
                let since = c.startedAt.flatMap(LogTime.parseRFC3339Nano) ?? 0
                for line in lines {
                    guard let entry = LogEntry(line) else { continue }
                    if since > 0, let t = LogTime.parseRFC3339Nano(entry.time), t < since { continue }
                    var text = entry.log
                    if text.hasSuffix("\n") { text.removeLast() }
                    out.write(p + (timestamps ? entry.time + " " : "") + text + "\n")
                }
            }
            out.flush()
        }
        while true {
            let containers = current()
            presenters.register(containers)
            drain(containers)
            for c in containers where !c.running && !c.restarting && c.exit != nil && ended[c.record.id] == nil {
                let exit = c.exit?.exitCode ?? 0
                ended[c.record.id] = exit
                if shown(c) {
                    let line = "\(LogPresenters.displayName(c)) exited with code \(exit)\n"
                    Console.out(presenters.colorize(line, for: c))
                }
                if c.record.service == exitCodeFrom { code = exit }
                if !stopping && (abortOnExit || exitCodeFrom != nil || (abortOnFailure && exit != 0)) {
                    Console.error("Aborting on container exit...\n")
                    if abortOnFailure && exitCodeFrom == nil { code = exit }
                    stopping = true
                    stopAll(containers)
                }
            }
            interruptions += SignalPipe.take().count
            if interruptions > 0 && !stopping {
                Console.error("Gracefully Stopping... press Ctrl+C again to force\n")
                stopping = true
                stopAll(containers)
            }
            if interruptions > 1 {
                for c in containers where c.running { try? engine.signal(c, SIGKILL) }
            }
            if containers.allSatisfy({ !$0.running && !$0.restarting }) && (!watching || stopping) {
                drain(containers)
                return code
            }
            usleep(50_000)
        }
    }

    /// Asks every running container to stop (each shim escalates after its grace period).
    func stopAll(_ containers: [ContainerStatus]) {
        for c in containers where c.running || c.restarting {
            let seconds = timeout ?? c.record.stopTimeout ?? 10
            if !engine.shim(c.record.id).stop(signal: c.record.stopSignal ?? SIGTERM, seconds: seconds) {
                try? engine.stop(c, timeout: seconds)
            }
        }
    }
}
