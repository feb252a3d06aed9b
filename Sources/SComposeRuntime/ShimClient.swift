// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// What went wrong between a client and a container's shim.
public enum ShimError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The sync pipe could not be made.
    case pipe(errno: Int32)
    /// The shim's program could not be run.
    case spawn(path: String, errno: Int32)
    /// The shim said the container could not be set up or started (`errno` when a system
    /// call was the cause), or it ended without a word (`message` says so).
    case startFailed(message: String, errno: Int32?)
    /// A signal to the container's init, sent without its shim, failed.
    case signal(errno: Int32)
    /// The cgroup refused to freeze or thaw, or the paused marker could not be written.
    case freeze(paused: Bool, cause: String)

    public var description: String {
        switch self {
        case .pipe(let errno): "pipe: \(String(cString: strerror(errno)))"
        case .spawn(let path, let errno): "cannot run \(path): \(String(cString: strerror(errno)))"
        case .startFailed(let message, _): message
        case .signal(let errno): String(cString: strerror(errno))
        case .freeze(_, let cause): cause
        }
    }
}

/// The one client of a container's shim: starts it, sends its control requests, attaches to
/// the container, and does what the shim would when it is gone (stop the container by pid,
/// clean its cgroup, record its exit). Nothing else spawns a shim or opens its socket; the
/// messages are those of `ShimProtocol.swift`.
public struct ShimClient: Sendable {
    public let files: ContainerFiles

    public init(files: ContainerFiles) {
        self.files = files
    }

    // MARK: - Start

    /// Runs `shim` for the container and waits until the container runs or failed to. With
    /// `attachStdin` (a container made with `waitForAttach`), the returned socket is attached
    /// from before its first output, taking input when `attachStdin` is true.
    @discardableResult
    public func start(shim path: String, attachStdin: Bool? = nil) throws(ShimError) -> Int32? {
        unlink(files.exit)
        unlink(files.health)
        unlink(files.state)
        var sync: [Int32] = [-1, -1]
        guard pipe(&sync) == 0 else { throw .pipe(errno: errno) }
        defer { close(sync[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, sync[0])
        posix_spawn_file_actions_adddup2(&actions, sync[1], 3)
        let args: [String] = [path, files.dir, "3"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        // The shim needs no environment, and the container's init (a fork of it) must not
        // carry the caller's.
        var noEnv: [UnsafeMutablePointer<CChar>?] = [nil]
        let r = posix_spawn(&pid, path, &actions, nil, &argv, &noEnv)
        close(sync[1])
        guard r == 0 else { throw .spawn(path: path, errno: r) }
        // The shim's first process exits once it has forked its supervisor.
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        var reader = LineReader(fd: sync[0])
        var message = reader.next().flatMap(ShimSyncMessage.init(line:))
        var attached: Int32?
        if message == .listening {
            attached = attach(stdin: attachStdin ?? false)
            message = reader.next().flatMap(ShimSyncMessage.init(line:))
            // A container made to wait for a client, started detached this time: let it go.
            if attachStdin == nil, let socket = attached {
                close(socket)
                attached = nil
            }
        }
        switch message {
        case .started:
            return attached
        case .failed(let text, let errno):
            if let attached { close(attached) }
            throw .startFailed(message: text, errno: errno)
        case .listening, nil:
            if let attached { close(attached) }
            throw .startFailed(message: "the shim exited without starting the container", errno: nil)
        }
    }

    /// Lines read from a descriptor until its end (the shim's sync pipe, the holder's socket).
    public struct LineReader {
        let fd: Int32
        var pending: [UInt8] = []

        public init(fd: Int32) { self.fd = fd }

        /// The next line without its newline; nil once the descriptor is at its end.
        public mutating func next() -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !pending.contains(UInt8(ascii: "\n")) {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
            }
            guard !pending.isEmpty else { return nil }
            let end = pending.firstIndex(of: UInt8(ascii: "\n")) ?? pending.endIndex
            defer { pending = Array(pending[min(end + 1, pending.endIndex)...]) }
            return Array(pending[..<end])
        }
    }

    // MARK: - Requests

    /// Sends one request; the reply, or nil when the shim does not answer (gone, or hung
    /// for 5 s).
    public func send(_ request: ShimRequest) -> ShimReply? {
        guard let (sock, reply) = exchange(request) else { return nil }
        close(sock)
        return reply
    }

    /// Asks the shim to stop the container as the user asked: `signal`, SIGKILL after `seconds`.
    public func stop(signal: Int32, seconds: Int) -> Bool {
        send(.stop(signal: signal, seconds: Int64(seconds))) == .ok
    }

    /// Asks the shim to send `signal` to the container's init, as the user asked.
    public func deliver(signal: Int32) -> Bool {
        send(.kill(signal: signal)) == .ok
    }

    /// Resizes the container's pty.
    public func resize(rows: UInt16, columns: UInt16) -> Bool {
        send(.resize(rows: rows, columns: columns)) == .ok
    }

    /// An attach stream (`AttachFrame`s in, raw input out when `stdin`), or nil.
    public func attach(stdin: Bool) -> Int32? {
        guard let (sock, reply) = exchange(.attach(stdin: stdin)) else { return nil }
        guard reply == .ok else {
            close(sock)
            return nil
        }
        // The stream lasts as long as the container: no read timeout any more.
        var none = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        return sock
    }

    /// Connects, sends the request and reads the reply line (byte by byte: nothing after it
    /// is taken, so that an attach stream starts intact).
    func exchange(_ request: ShimRequest) -> (Int32, ShimReply)? {
        let dirFD = open(files.dir, 0o10000000 /* O_PATH */ | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { return nil }
        defer { close(dirFD) }
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { return nil }
        var addr = ShimSocket.address(dirFD: dirFD)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard r == 0, (try? Files.writeAll(sock, Array(request.line.utf8), what: "shim socket")) != nil else {
            close(sock)
            return nil
        }
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(sock, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                close(sock)
                return nil
            }
            if byte == UInt8(ascii: "\n") { break }
            reply.append(byte)
        }
        return (sock, ShimReply(line: String(decoding: reply, as: UTF8.self)))
    }

    // MARK: - The container's cgroup

    /// The container's cgroup, where its spec put it; nil on a machine without cgroups.
    public var cgroup: Cgroup? {
        guard let layout = CgroupLayout.host else { return nil }
        let id = files.dir.split(separator: "/").last.map(String.init) ?? ""
        return Cgroup(layout: layout, path: StateFile.read(ShimSpec.self, from: files.spec)?.cgroup ?? "scompose/\(id)")
    }

    /// The container's processes as the host sees them, sorted.
    public func processes() -> [pid_t] {
        cgroup?.processes().sorted() ?? []
    }

    /// Freezes (`pause`) or thaws (`unpause`) the container. The paused marker is written
    /// first when pausing and removed last when resuming, so that `ps` never shows a frozen
    /// container as running.
    public func setPaused(_ paused: Bool) throws(ShimError) {
        guard let cg = cgroup else { throw .freeze(paused: paused, cause: "no cgroup on this machine") }
        if paused {
            let fd = open(files.paused, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .freeze(paused: paused, cause: FileError("open \(files.paused)", errno: errno).description) }
            close(fd)
        }
        do {
            try cg.setFrozen(paused)
        } catch {
            if paused { unlink(files.paused) }
            throw .freeze(paused: paused, cause: error.description)
        }
        if !paused { unlink(files.paused) }
    }

    // MARK: - Without a shim

    /// Sends `signal` to the container's init directly (its shim is gone).
    public func signalInit(pid: Int32, signal: Int32) throws(ShimError) {
        if Glibc.kill(pid, signal) != 0 { throw .signal(errno: errno) }
    }

    /// The shim died (killed, or the machine's OOM killer): nobody reaps or records the
    /// container, so this stops its init (`pid`, when it ran) with `signal` then SIGKILL after
    /// `timeout` seconds, kills whatever else is left in its cgroup, removes the cgroup and
    /// records the exit.
    public func stopUnsupervised(pid: Int32?, signal: Int32, timeout: Int) {
        var code: Int32 = 255
        let cgroup = cgroup
        if let pid, let ticks = StateFile.read(RunningState.self, from: files.state)?.startTicks {
            try? cgroup?.setFrozen(false)
            unlink(files.paused)
            Glibc.kill(pid, signal)
            code = 128 + signal
            let deadline = time(nil) + time_t(timeout)
            while ProcessCheck.isAlive(pid, startTicks: ticks) && time(nil) < deadline { usleep(20_000) }
            if ProcessCheck.isAlive(pid, startTicks: ticks) {
                Glibc.kill(pid, SIGKILL)
                code = 137
                let hard = time(nil) + 10
                while ProcessCheck.isAlive(pid, startTicks: ticks) && time(nil) < hard { usleep(10_000) }
            }
        }
        // Whatever the container left (its init is gone, so its pid namespace is too).
        Self.killRemaining(in: cgroup)
        try? StateFile.write(ExitRecord(exitCode: code, oomKilled: false, finishedAt: Clock.rfc3339Now()), to: files.exit)
    }

    /// Kills whatever still runs in the container's cgroup (thawed first) and removes the
    /// cgroup: nothing outlives the container's record.
    public func killRemaining() {
        Self.killRemaining(in: cgroup)
    }

    static func killRemaining(in cgroup: Cgroup?) {
        guard let cg = cgroup else { return }
        if !cg.processes().isEmpty {
            try? cg.setFrozen(false)
            for pid in cg.processes() { Glibc.kill(pid, SIGKILL) }
            let hard = time(nil) + 5
            while !cg.processes().isEmpty && time(nil) < hard { usleep(10_000) }
        }
        try? cg.remove()
    }
}
