// SPDX-License-Identifier: Apache-2.0
import CSpawn
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The per-container supervisor: detaches, starts the container in its cgroup, copies its
/// output into a json-file log, serves a control socket, reaps it, restarts it under its
/// policy, records its exit, and cleans up. Synchronous and single-threaded by design (no
/// async, no Dispatch): it forks, and namespaces are per thread.
public enum Shim {
    /// `scompose-shim <container-dir> <sync-fd>`; returns the process exit status.
    public static func main(_ args: [String]) -> Int32 {
        if args.first == "holder" { return Holder.main(Array(args.dropFirst())) }
        guard args.count == 2, let givenSyncFD = Int32(args[1]) else {
            let usage = Array("usage: scompose-shim CONTAINER_DIR SYNC_FD\n".utf8)
            _ = usage.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            return 2
        }
        // A reader that went away (the CLI killed mid-`up`) must cost an EPIPE, not the shim.
        signal(SIGPIPE, SIG_IGN)
        // Keep only stdio and the sync pipe: whatever else the caller leaked must not live on in us.
        if givenSyncFD != 3 {
            dup2(givenSyncFD, 3)
            close(givenSyncFD)
        }
        let syncFD: Int32 = 3
        sc_close_from(4)
        // The container must not inherit the sync pipe: the CLI reads until it closes.
        _ = fcntl(syncFD, F_SETFD, FD_CLOEXEC)
        let files = ContainerFiles(dir: args[0])
        guard let spec = StateFile.read(ShimSpec.self, from: files.spec) else {
            report(syncFD, .failed(message: "cannot read spec.json", errno: nil))
            return 1
        }
        // Detach: the parent returns at once so the CLI can go; the child is reparented.
        let child = fork()
        if child < 0 {
            report(syncFD, .failed(message: "fork failed", errno: errno))
            return 1
        }
        if child > 0 { return 0 }
        setsid()
        sc_set_child_subreaper()
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            dup2(null, 0)
            dup2(null, 1)
            dup2(null, 2)
        }
        var supervisor = Supervisor(spec: spec, files: files)
        return supervisor.run(syncFD: syncFD)
    }

    /// Sends a message on the sync pipe; all but `listening` are the last, and close it.
    static func report(_ fd: Int32, _ message: ShimSyncMessage) {
        message.send(fd)
        if message != .listening { close(fd) }
    }
}

/// One container's supervision: runs of the container (more than one under a restart policy)
/// and the event loop that serves its output, its control socket and its exit.
struct Supervisor {
    let spec: ShimSpec
    let files: ContainerFiles
    var cgroup: Cgroup?
    var log: JSONLogWriter
    var listener: Int32 = -1
    var sigchld: Int32 = -1
    /// Set by a `stop` or `kill` request: the restart policy no longer applies.
    var stoppedByUser = false
    var restarts = 0
    /// When SIGKILL follows the stop signal (monotonic milliseconds), during a `stop`.
    var killDeadline: Int64?
    /// The pty master while a `tty: true` container runs (for `resize`).
    var ptyMaster: Int32 = -1
    /// Held open so a `stdin_open` container without a tty does not read EOF.
    var stdinWriter: Int32 = -1
    /// Attached clients (`attach`, `run`): they get the output as `AttachFrame`s; those with
    /// `stdin` feed the container's input.
    var attached: [(fd: Int32, stdin: Bool)] = []
    /// Input read from a client that the container has not taken yet: no client is read
    /// until it is, so a container that does not read its input never blocks the shim.
    var inputPending: [UInt8] = []
    /// Interfaces, DNS server and held ports, when the container has networks.
    let networking: ContainerNetworking?
    /// The healthcheck's state and the probe in flight.
    var health: HealthState?
    var probe: Probe?
    /// When the next probe of Docker's schedule is due (its failures count).
    var nextProbe: Int64 = 0
    /// While the container has never been healthy, extra probes on a fast back-off: one that
    /// passes makes it healthy at once, one that fails does not count. A dependant waiting on
    /// `service_healthy` starts within milliseconds of its dependency being ready instead of
    /// a whole `interval` later, and nothing turns unhealthy sooner than with Docker.
    var nextEarly: Int64?
    var earlyDelay: Int64 = 0
    var runStarted: Int64 = 0
    var probePlan: InitPlan?

    struct Probe {
        var pid: pid_t
        var output: Int32
        var deadline: Int64
        var started: String
        var bytes: [UInt8] = []
        var timedOut = false
        var early = false
    }

    init(spec: ShimSpec, files: ContainerFiles) {
        self.spec = spec
        self.files = files
        log = JSONLogWriter(path: files.log, maxSize: spec.logMaxSize, maxFiles: spec.logMaxFiles)
        networking = spec.network.map { ContainerNetworking(spec: $0) }
    }

    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    mutating func run(syncFD: Int32) -> Int32 {
        reserveSpace()
        if let path = spec.cgroup, let layout = CgroupLayout.host {
            let c = Cgroup(layout: layout, path: path)
            do {
                if let unit = spec.systemdScope { try SystemdScope.enter(unit: unit, layout: layout, manager: spec.systemdManager ?? .system) }
                try c.create()
                try c.apply(spec.resources)
                // A device program takes the host's root to attach; in a user namespace the
                // container has the host's nodes bound in and cannot make others.
                if !spec.container.inUserNamespace {
                    try c.applyDevices(privileged: spec.container.privileged, devices: spec.container.devices)
                }
                cgroup = c
            } catch {
                try? c.remove()
                Shim.report(syncFD, .failed(message: "cgroup: \(error)", errno: nil))
                return 1
            }
        }
        do {
            try networking?.reservePorts()
        } catch {
            try? cgroup?.remove()
            Shim.report(syncFD, .failed(message: error.step, errno: nil))
            return 1
        }
        sigchld = sc_signalfd_sigchld()
        listener = listen(files.dir)
        if spec.waitForAttach == true {
            // `run`: the client attaches first, so that it sees all the output.
            Shim.report(syncFD, .listening)
            let deadline = Self.now() + 30_000
            while attached.isEmpty && listener >= 0 && Self.now() < deadline {
                var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 1000) > 0 { handleRequest(pid: nil) }
            }
        }
        var sync: Int32? = syncFD
        var delay = 0
        var code: Int32 = 0
        while true {
            let startedAt = Self.now()
            let pid: pid_t
            do {
                pid = try start()
            } catch {
                if let fd = sync {
                    Shim.report(fd, .failed(message: error.description, errno: error.errno))
                    cleanup()
                    return 1
                }
                // A restart that cannot start ends the container, with Docker's code for it.
                code = 127
                break
            }
            let state = RunningState(
                pid: pid, shimPid: getpid(), startedAt: Clock.rfc3339Now(),
                startTicks: ProcessCheck.startTicks(pid) ?? 0, restartCount: restarts)
            try? StateFile.write(state, to: files.state)
            spec.events?.record("start", id: spec.id)
            startHealth(pid)
            if let fd = sync {
                Shim.report(fd, .started(pid: pid))
                sync = nil
                // Start-up garbage (the spec's decoding) goes back to the system: the shim
                // lives as long as its container.
                sc_malloc_trim()
            }
            code = supervise(pid)
            endProbe()
            detachAll(exitCode: code)
            spec.events?.record("die", id: spec.id, extra: ["exitCode": String(code)])
            let ranFor = Int((Self.now() - startedAt) / 1000)
            guard spec.restart.shouldRestart(exitCode: code, restarts: restarts, stoppedByUser: stoppedByUser) else { break }
            delay = RestartPolicy.delay(previous: delay, ranFor: ranFor)
            var waiting = state
            waiting.restarting = true
            waiting.lastExitCode = code
            try? StateFile.write(waiting, to: files.state)
            // Requests are served during the back-off: a stop now ends it.
            let until = Self.now() + Int64(delay)
            while !stoppedByUser, Self.now() < until { _ = serve(pid: nil, timeout: Int32(until - Self.now())) }
            if stoppedByUser { break }
            restarts += 1
        }
        let oom = cgroup?.oomKilled() ?? false
        if oom { spec.events?.record("oom", id: spec.id) }
        cleanup()
        let exit = ExitRecord(exitCode: code, oomKilled: oom, finishedAt: Clock.rfc3339Now(), restartCount: restarts)
        if (try? StateFile.write(exit, to: files.exit)) == nil {
            // A full disk: the space kept for this moment makes room for the exit record.
            unlink(reservePath)
            try? StateFile.write(exit, to: files.exit)
        }
        unlink(reservePath)
        if let argv = spec.onExit, !argv.isEmpty { Self.spawnDetached(argv, environment: spec.onExitEnvironment ?? []) }
        return 0
    }

    /// Starts `argv` in a session of its own and leaves it: it outlives the shim (`--rm`).
    static func spawnDetached(_ argv: [String], environment: [String]) {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // glibc's POSIX_SPAWN_SETSID (0x80), which its headers show only under _GNU_SOURCE.
        posix_spawnattr_setflags(&attributes, 0x80)
        var args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var env: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for p in args + env { free(p) } }
        var pid: pid_t = 0
        _ = posix_spawn(&pid, argv[0], nil, &attributes, &args, &env)
    }

    /// Space kept from the start for the exit record, so that a disk the container's logs
    /// filled still gets its exit code.
    var reservePath: String { files.dir + "/exit.reserve" }

    func reserveSpace() {
        let fd = open(reservePath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let zeros = [UInt8](repeating: 0, count: 16384)
        _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    mutating func cleanup() {
        log.close()
        unlink(files.paused)
        try? cgroup?.remove()
        if listener >= 0 {
            close(listener)
            let dirFD = open(files.dir, 0o10000000 /* O_PATH */ | O_DIRECTORY | O_CLOEXEC)
            if dirFD >= 0 {
                unlinkat(dirFD, ShimSocket.name, 0)
                close(dirFD)
            }
        }
    }

    /// The control socket, bound under the container directory.
    func listen(_ dir: String) -> Int32 {
        let dirFD = open(dir, 0o10000000 /* O_PATH */ | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { return -1 }
        defer { close(dirFD) }
        unlinkat(dirFD, ShimSocket.name, 0)
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard sock >= 0 else { return -1 }
        var addr = ShimSocket.address(dirFD: dirFD)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Only root talks to the shim: the directory is root's, and so is the socket.
        fchmodat(dirFD, ShimSocket.name, 0o600, 0)
        guard r == 0, Glibc.listen(sock, 16) == 0 else {
            close(sock)
            return -1
        }
        return sock
    }

    /// Starts one run of the container with fresh standard streams.
    mutating func start() throws(SpawnError) -> pid_t {
        var stdio = Launcher.Stdio()
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        var container = spec.container
        container.cgroupView = cgroup?.view
        if let other = spec.joinNetworkOf {
            let target = ContainerFiles(dir: other)
            guard StateFile.read(ExitRecord.self, from: target.exit) == nil,
                let state = StateFile.read(RunningState.self, from: target.state),
                ProcessCheck.isAlive(state.pid, startTicks: state.startTicks)
            else {
                throw SpawnError(step: "cannot join network of a non running container: \(other.split(separator: "/").last ?? "")", errno: ESRCH)
            }
            container.joinNetwork = "/proc/\(state.pid)/ns/net"
        }
        var console: (parent: Int32, child: Int32)?
        if container.tty {
            // The container opens a pty in its own devpts and sends us the master.
            let pair = try Launcher.socketPair()
            console = (pair.0, pair.1)
            container.consoleSocket = pair.1
        } else {
            var out: [Int32] = [-1, -1]
            var err: [Int32] = [-1, -1]
            guard sc_pipe_cloexec(&out) == 0, sc_pipe_cloexec(&err) == 0 else { throw SpawnError(step: "pipe", errno: errno) }
            stdio = .init(stdin: -1, stdout: out[1], stderr: err[1])
            childEnds = [out[1], err[1]]
            parentEnds = [out[0], err[0]]
            if spec.stdinOpen {
                var input: [Int32] = [-1, -1]
                guard sc_pipe_cloexec(&input) == 0 else { throw SpawnError(step: "pipe", errno: errno) }
                stdio.stdin = input[0]
                childEnds.append(input[0])
                if stdinWriter >= 0 { close(stdinWriter) }
                stdinWriter = input[1]
            }
        }
        // Our end of the console pair is closed on every path (the child's goes with childEnds).
        if let console { childEnds.append(console.child) }
        defer { if let console { close(console.parent) } }
        let plan: InitPlan
        do {
            plan = try InitPlan.compile(container)
        } catch {
            for fd in parentEnds { close(fd) }
            throw SpawnError(step: error.description, errno: EINVAL)
        }
        let cgroup = self.cgroup
        let networking = self.networking
        let pid: pid_t
        do {
            pid = try Launcher.spawn(plan, stdio: stdio) { child in
                try cgroup?.add(child)
                try networking?.attach(child)
            }
        } catch {
            for fd in parentEnds { close(fd) }
            throw error
        }
        if let console {
            // The child's end closed first: a console that never came reads as EOF, not a hang.
            close(console.child)
            childEnds.removeAll { $0 == console.child }
            let master = Launcher.receiveDescriptor(console.parent)
            if master >= 0 {
                ptyMaster = master
                parentEnds = [master]
            }
        }
        outputs = parentEnds.enumerated().map { (fd: $0.element, stream: $0.offset == 0 ? "stdout" : "stderr", pending: []) }
        return pid
    }

    var outputs: [(fd: Int32, stream: String, pending: [UInt8])] = []

    /// The event loop of one run: output to the log, requests, the stop deadline; returns the
    /// exit status once the container's init is reaped and its output drained.
    mutating func supervise(_ pid: pid_t) -> Int32 {
        var code: Int32?
        while code == nil || !outputs.isEmpty {
            var timeout: Int32 = -1
            if let deadline = killDeadline { timeout = Int32(max(0, deadline - Self.now())) }
            if code == nil, spec.healthcheck != nil {
                let due = probe?.deadline ?? min(nextProbe, nextEarly ?? nextProbe)
                let wait = Int32(max(0, min(due - Self.now(), 60_000)))
                timeout = timeout < 0 ? wait : min(timeout, wait)
                runHealthcheck(pid)
            }
            if let reaped = serve(pid: pid, timeout: timeout) { code = reaped }
            if let deadline = killDeadline, Self.now() >= deadline, code == nil {
                kill(pid, SIGKILL)
                killDeadline = nil
            }
        }
        killDeadline = nil
        ptyMaster = -1  // closed with the outputs
        return code ?? 0
    }

    /// One round of poll: output, requests, children. Returns the exit status if `pid` was reaped.
    mutating func serve(pid: pid_t?, timeout: Int32) -> Int32? {
        var fds = outputs.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
        if let probe { fds.append(pollfd(fd: probe.output, events: Int16(POLLIN), revents: 0)) }
        let dns = networking?.dns
        if let dns {
            for d in dns.pollDescriptors() { fds.append(pollfd(fd: d.fd, events: d.events, revents: 0)) }
        }
        if sigchld >= 0 { fds.append(pollfd(fd: sigchld, events: Int16(POLLIN), revents: 0)) }
        let input = inputTarget
        if !inputPending.isEmpty && input >= 0 { fds.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
        for client in attached {
            // Clients are watched for hang-ups; those that give input are read when there is room.
            let reading = client.stdin && inputPending.isEmpty && input >= 0
            fds.append(pollfd(fd: client.fd, events: reading ? Int16(POLLIN) : 0, revents: 0))
        }
        // Without a signalfd, children are looked for every 100 ms.
        let wait = sigchld >= 0 ? timeout : (timeout < 0 ? 100 : min(timeout, 100))
        let r = poll(&fds, nfds_t(fds.count), wait)
        if r < 0 && errno != EINTR { usleep(10_000) }
        var reaped: Int32?
        for p in fds where p.revents != 0 {
            if let current = probe, p.fd == current.output {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = read(current.output, &chunk, chunk.count)
                if n > 0, current.bytes.count < 4096 { probe?.bytes += chunk[0..<min(n, 4096 - current.bytes.count)] }
                if n <= 0 {
                    close(current.output)
                    probe?.output = -1
                }
            } else if let dns, dns.handle(p.fd, revents: p.revents) {
                // Served by the DNS server.
            } else if p.fd == listener {
                handleRequest(pid: pid)
            } else if p.fd == sigchld {
                var info = [UInt8](repeating: 0, count: 128)
                _ = read(sigchld, &info, info.count)
            } else if p.fd == input && (p.revents & Int16(POLLOUT)) != 0 && !inputPending.isEmpty {
                flushInput()
            } else if attached.contains(where: { $0.fd == p.fd }) {
                readClient(p.fd)
            } else if let index = outputs.firstIndex(where: { $0.fd == p.fd }) {
                readOutput(index)
            }
        }
        // Reap the container's init and, as subreaper, any orphan of it.
        while true {
            var status: Int32 = 0
            let r = waitpid(-1, &status, WNOHANG)
            if r <= 0 { break }
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            if r == pid { reaped = code }
            if let current = probe, r == current.pid { finishProbe(code) }
        }
        return reaped
    }

    // MARK: - Healthcheck

    mutating func startHealth(_ pid: pid_t) {
        guard let hc = spec.healthcheck else { return }
        runStarted = Self.now()
        var state = health ?? HealthState(status: "starting", failingStreak: 0, log: [])
        state.status = "starting"
        state.failingStreak = 0
        health = state
        writeHealth()
        nextProbe = runStarted + (hc.startPeriod > 0 ? hc.startInterval : hc.interval) / 1_000_000
        // The first probe does not wait a full interval (Docker's does).
        nextEarly = runStarted + 10
        earlyDelay = 10
        var config = spec.container
        config.args = hc.command
        config.tty = false
        probePlan = try? InitPlan.compileExec(config, containerRoot: "/proc/\(pid)/root")
    }

    /// Starts a probe when one is due, and kills one that overran its timeout.
    mutating func runHealthcheck(_ pid: pid_t) {
        guard let hc = spec.healthcheck else { return }
        let now = Self.now()
        if let current = probe {
            if now >= current.deadline && !current.timedOut {
                kill(current.pid, SIGKILL)
                probe?.timedOut = true
            }
            return
        }
        let early = now < nextProbe
        guard !early || now >= (nextEarly ?? Int64.max), let plan = probePlan else { return }
        // A probe joins the container's cgroup: while it is frozen, the probe would only wait
        // there until its timeout. None is started until `unpause` (looked for each second).
        guard access(files.paused, F_OK) != 0 else {
            nextProbe = max(nextProbe, now + 1000)
            nextEarly = nil
            return
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard sc_pipe_cloexec(&pipeFDs) == 0 else { return }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(pipeFDs[1])
            if null >= 0 { close(null) }
        }
        let started = Clock.rfc3339Now()
        do {
            let probePid = try Launcher.startExec(into: pid, plan, stdio: .init(stdin: null, stdout: pipeFDs[1], stderr: pipeFDs[1]))
            probe = Probe(pid: probePid, output: pipeFDs[0], deadline: now + hc.timeout / 1_000_000, started: started, early: early)
        } catch {
            close(pipeFDs[0])
            record(HealthState.Probe(start: started, end: Clock.rfc3339Now(), exitCode: -1, output: error.description))
        }
    }

    mutating func finishProbe(_ code: Int32) {
        guard let current = probe else { return }
        if current.output >= 0 {
            // What the probe wrote and we have not read yet.
            var chunk = [UInt8](repeating: 0, count: 4096)
            let flags = fcntl(current.output, F_GETFL)
            _ = fcntl(current.output, F_SETFL, flags | O_NONBLOCK)
            var bytes = current.bytes
            while bytes.count < 4096 {
                let n = read(current.output, &chunk, chunk.count)
                if n <= 0 { break }
                bytes += chunk[0..<min(n, 4096 - bytes.count)]
            }
            probe?.bytes = bytes
            close(current.output)
        }
        let output = current.timedOut
            ? "Health check exceeded timeout (\((spec.healthcheck?.timeout ?? 0) / 1_000_000_000)s)"
            : String(decoding: probe?.bytes ?? [], as: UTF8.self)
        probe = nil
        let result = HealthState.Probe(start: current.started, end: Clock.rfc3339Now(), exitCode: current.timedOut ? -1 : code, output: output)
        if current.early && result.exitCode != 0 {
            // Not one of Docker's probes: try again soon, count nothing.
            let now = Self.now()
            earlyDelay = min(earlyDelay * 2, 1000)
            nextEarly = now + earlyDelay < nextProbe ? now + earlyDelay : nil
            return
        }
        record(result)
    }

    mutating func endProbe() {
        if let current = probe {
            kill(current.pid, SIGKILL)
            if current.output >= 0 { close(current.output) }
            probe = nil
        }
    }

    /// Docker's rules: a success makes it healthy; `retries` failures in a row after the start
    /// period make it unhealthy (failures during the start period do not count).
    mutating func record(_ result: HealthState.Probe) {
        guard let hc = spec.healthcheck, var state = health else { return }
        let now = Self.now()
        let inStartPeriod = now < runStarted + hc.startPeriod / 1_000_000
        if result.exitCode == 0 {
            state.status = "healthy"
            state.failingStreak = 0
        } else if !inStartPeriod || state.status == "healthy" {
            state.failingStreak += 1
            if state.failingStreak >= hc.retries { state.status = "unhealthy" }
        }
        state.log = Array((state.log + [result]).suffix(5))
        if state.status != health?.status { spec.events?.record("health_status: \(state.status)", id: spec.id) }
        health = state

        writeHealth()
        let interval = state.status == "starting" && inStartPeriod ? hc.startInterval : hc.interval
        nextProbe = now + interval / 1_000_000
        let early = now + earlyDelay
        nextEarly = state.status == "starting" && early < nextProbe ? early : nil
    }

    func writeHealth() {
        if let health { try? StateFile.write(health, to: files.health) }
    }

    mutating func readOutput(_ index: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let fd = outputs[index].fd
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
        let stream = outputs[index].stream
        if n <= 0 {
            // EOF, or EIO from a pty whose last slave closed.
            if !outputs[index].pending.isEmpty { log.write(outputs[index].pending, stream: stream) }
            close(fd)
            outputs.remove(at: index)
            return
        }
        forward(stream == "stderr" ? .stderr(buffer[0..<n]) : .stdout(buffer[0..<n]))
        var data = outputs[index].pending
        data += buffer[0..<n]
        var start = 0
        for i in data.indices where data[i] == UInt8(ascii: "\n") {
            log.write(Array(data[start...i]), stream: stream)
            start = i + 1
        }
        var rest = Array(data[start...])
        // A very long line is written in pieces, as Docker splits at 16 KiB.
        if rest.count >= 16384 {
            log.write(rest, stream: stream)
            rest = []
        }
        outputs[index].pending = rest
    }

    /// One request on the control socket (the peer must be root).
    mutating func handleRequest(pid: pid_t?) {
        let conn = sc_accept_root(listener)
        guard conn >= 0 else { return }
        var keep = false
        defer { if !keep { close(conn) } }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while !request.contains(UInt8(ascii: "\n")) && request.count < 1024 {
            let n = read(conn, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            request += buffer[0..<n]
        }
        let reply: ShimReply
        do throws(ShimRequest.ParseError) {
            let parsed = try ShimRequest(line: String(decoding: request, as: UTF8.self))
            reply = handle(parsed, conn: conn, pid: pid)
            // An attach keeps the connection: it is a stream now.
            if case .attach = parsed, reply == .ok {
                keep = true
                return
            }
        } catch {
            reply = error == .bad ? .badRequest : .unknownRequest
        }
        let bytes = Array(reply.line.utf8)
        _ = bytes.withUnsafeBytes { write(conn, $0.baseAddress, $0.count) }
    }

    /// Carries out a request; an attach answers `ok` itself (before the connection becomes
    /// a stream) and joins the attached clients.
    mutating func handle(_ request: ShimRequest, conn: Int32, pid: pid_t?) -> ShimReply {
        switch request {
        case .stop(let signal, let seconds):
            stoppedByUser = true
            if let pid {
                try? cgroup?.setFrozen(false)
                unlink(files.paused)
                kill(pid, signal)
                killDeadline = Self.now() + max(0, seconds) * 1000
            }
        case .kill(let signal):
            stoppedByUser = true
            if let pid {
                try? cgroup?.setFrozen(false)
                unlink(files.paused)
                kill(pid, signal)
            }
        case .attach(let stdin):
            guard (try? Files.writeAll(conn, Array(ShimReply.ok.line.utf8), what: "attach")) != nil else { return .error("attach") }
            // Blocking writes with a bound: a client that stops reading slows the container's
            // output (as a full pipe would) and is dropped after 10 s.
            var bound = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &bound, socklen_t(MemoryLayout<timeval>.size))
            attached.append((conn, stdin))
        case .resize(let rows, let columns):
            guard ptyMaster >= 0 else { return .noTTY }
            var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(ptyMaster, UInt(TIOCSWINSZ), &size)
        }
        return .ok
    }

    // MARK: - Attached clients

    /// Where client input goes: the pty, or the stdin pipe of a `stdin_open` container.
    var inputTarget: Int32 { ptyMaster >= 0 ? ptyMaster : stdinWriter }

    /// Output to every attached client, framed.
    mutating func forward(_ output: AttachFrame) {
        guard !attached.isEmpty else { return }
        let frame = output.bytes
        attached.removeAll { client in
            guard (try? Files.writeAll(client.fd, frame, what: "attach")) == nil else { return false }
            close(client.fd)
            return true
        }
    }

    /// Input from a client; its end closes the container's stdin (without a tty).
    mutating func readClient(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = read(fd, &buffer, buffer.count)
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
        guard let index = attached.firstIndex(where: { $0.fd == fd }) else { return }
        if n <= 0 {
            if attached[index].stdin {
                attached[index].stdin = false
                if ptyMaster < 0 && stdinWriter >= 0 && n == 0 {
                    close(stdinWriter)
                    stdinWriter = -1
                }
            }
            // A hang-up (not just the end of its input) ends the client.
            var p = pollfd(fd: fd, events: 0, revents: 0)
            if n < 0 || (poll(&p, 1, 0) > 0 && (p.revents & Int16(POLLHUP)) != 0) {
                close(fd)
                attached.remove(at: index)
            }
            return
        }
        inputPending += buffer[0..<n]
        flushInput()
    }

    mutating func flushInput() {
        let fd = inputTarget
        guard fd >= 0 else {
            inputPending = []
            return
        }
        let flags = fcntl(fd, F_GETFL)
        if flags & O_NONBLOCK == 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        while !inputPending.isEmpty {
            let n = inputPending.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            if n <= 0 {
                inputPending = []
                return
            }
            inputPending.removeFirst(n)
        }
    }

    /// The run ended: clients get its exit status and are let go.
    mutating func detachAll(exitCode: Int32) {
        let frame = AttachFrame.exit(exitCode).bytes
        for client in attached {
            _ = try? Files.writeAll(client.fd, frame, what: "attach")
            close(client.fd)
        }
        attached = []
        inputPending = []
    }
}
