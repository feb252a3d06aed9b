// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// A line of the holder's sync socket.
public enum HolderMessage: Sendable, Equatable {
    /// The holder is in its new user namespace: the CLI may write its ID maps.
    case userNamespace(pid: pid_t)
    /// The CLI wrote the maps.
    case mapped
    /// The holder's namespaces are made: the CLI may connect pasta and join them.
    case ready
    /// A step of the holder's failed.
    case failed(step: String, errno: Int32?)

    public var line: String {
        switch self {
        case .userNamespace(let pid): "userns \(pid)"
        case .mapped: "mapped"
        case .ready: "ready"
        case .failed(let step, let errno): "failed \(errno ?? 0) \(step)"
        }
    }

    /// Writes the line (and its newline) to `fd`.
    public func send(to fd: Int32) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    public init?(line: String) {
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch words.first {
        case "userns": guard words.count == 2, let pid = pid_t(words[1]) else { return nil }; self = .userNamespace(pid: pid)
        case "mapped" where words.count == 1: self = .mapped
        case "ready" where words.count == 1: self = .ready
        case "failed":
            guard words.count == 3, let n = Int32(words[1]) else { return nil }
            self = .failed(step: words[2], errno: n == 0 ? nil : n)
        default: return nil
        }
    }
}

/// Why rootless scompose could not set up the user's namespaces.
public struct RootlessError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var errno: Int32?

    public init(_ description: String, errno: Int32? = nil) {
        self.description = description + (errno.map { ": " + String(cString: strerror($0)) } ?? "")
        self.errno = errno
    }

    /// A host helper that is not installed, with the Debian package that has it.
    static func missing(_ program: String, package: String, why: String) -> RootlessError {
        RootlessError("rootless mode needs \(program) (\(why)): install the \(package) package (apt-get install \(package))")
    }
}

/// The holder of a rootless user's namespaces, from the CLI's side: found running, started,
/// or stopped when the user's last container is gone.
///
///     CLI (the user, outside)                    holder (scompose-shim holder 3)
///     socketpair, spawn ──────────────────────▶ forks (the first process exits), setsid
///                                               unshare(user)
///     ◀──────────────────────────── userns PID
///     newuidmap PID 0 UID 1 1 START COUNT…
///     newgidmap PID 0 GID 1 1 START COUNT…
///     mapped ─────────────────────────────────▶ root inside; unshare(mount, net);
///                                               / a slave mount; lo up
///     ◀───────────────────────────────── ready   blocks until SIGTERM
///     pasta --config-net -t none PID             (a daemon; started again with the
///                                                published ports as they change)
///     writes holder.pid (pid, start ticks), runs itself again joining PID's namespaces
///
/// `failed ERRNO STEP` replaces any line of the holder's; the socket's end without `ready`
/// is a failure too.
/// A host port that pasta forwards to the same port in the holder's network namespace.
public struct ForwardedPort: Sendable, Hashable, CustomStringConvertible {
    public var proto: String
    /// The host address it is bound to; nil for all.
    public var hostIP: String?
    public var port: UInt16

    public init(proto: String, hostIP: String?, port: UInt16) {
        self.proto = proto
        self.hostIP = hostIP.flatMap { $0.isEmpty || $0 == "0.0.0.0" ? nil : $0 }
        self.port = port
    }

    /// pasta's form: `8080`, or `127.0.0.1/8080` bound to one address.
    public var spec: String { hostIP.map { "\($0)/\(port)" } ?? "\(port)" }
    public var description: String { "\(proto) \(spec)" }
}

public struct RootlessHolder: Sendable {
    /// The user's run directory (`Rootless.runDirectory`).
    public let directory: String
    /// Where pasta writes its pid: a directory of the user's under /tmp, since Debian's
    /// AppArmor profile for pasta lets it write nowhere else but the home.
    let pastaDirectory: String

    /// The holder of the user `uid` (outside), whose run directory is `directory`.
    public init(directory: String, uid: UInt32) {
        self.directory = directory
        pastaDirectory = Rootless.runDirectory(environment: [:], uid: uid)
    }

    var pidFile: String { directory + "/holder.pid" }
    var pastaPidFile: String { pastaDirectory + "/pasta.pid" }
    var portsFile: String { directory + "/pasta.ports" }

    /// The holder's pid, when the one recorded still runs.
    public func running() -> pid_t? {
        guard let text = try? Files.read(pidFile) else { return nil }
        let fields = String(decoding: text, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = pid_t(fields[0]), let ticks = UInt64(fields[1]),
            ProcessCheck.isAlive(pid, startTicks: ticks)
        else { return nil }
        return pid
    }

    /// The running holder, or a new one with `identity`'s IDs mapped and pasta connected.
    public func ensure(shim: String, identity: Rootless, uids: [SubordinateRange], gids: [SubordinateRange]) throws(RootlessError) -> pid_t {
        do {
            try Files.makeDirectories(directory, mode: 0o700)
        } catch {
            throw RootlessError("cannot create \(directory)", errno: error.errno)
        }
        // One CLI starts it; the others wait and find it running.
        let lock: FileLock
        do {
            lock = try FileLock.acquire(directory + "/holder.lock")
        } catch {
            throw RootlessError("cannot lock \(directory)/holder.lock", errno: error.errno)
        }
        defer { _ = lock }
        if let pid = running() { return pid }
        let pid = try start(shim: shim, identity: identity, uids: uids, gids: gids)
        guard let ticks = ProcessCheck.startTicks(pid) else { throw RootlessError("the namespace holder ended as it started") }
        do {
            try Files.writeAtomically(pidFile, Array("\(pid) \(ticks)\n".utf8))
        } catch {
            kill(pid, SIGTERM)
            throw RootlessError("cannot write \(pidFile)", errno: error.errno)
        }
        return pid
    }

    func start(shim: String, identity: Rootless, uids: [SubordinateRange], gids: [SubordinateRange]) throws(RootlessError) -> pid_t {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw RootlessError("socketpair", errno: errno)
        }
        defer { close(pair[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 3)
        let args: [String] = [shim, "holder", "3"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var noEnv: [UnsafeMutablePointer<CChar>?] = [nil]
        // The holder waits for SIGTERM: it must not start with it blocked by our caller.
        var attributes = posix_spawnattr_t()
        Subprocess.initCleanSignals(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var first: pid_t = 0
        let r = posix_spawn(&first, shim, &actions, &attributes, &argv, &noEnv)
        close(pair[1])
        guard r == 0 else { throw RootlessError("cannot run \(shim)", errno: r) }
        var status: Int32 = 0
        while waitpid(first, &status, 0) < 0 && errno == EINTR {}
        var reader = ShimClient.LineReader(fd: pair[0])
        func expect() throws(RootlessError) -> HolderMessage {
            guard let line = reader.next(), let message = HolderMessage(line: String(decoding: line, as: UTF8.self)) else {
                throw RootlessError("the namespace holder ended before it was ready")
            }
            if case .failed(let step, let errno) = message {
                throw RootlessError("the namespace holder could not \(step)", errno: errno)
            }
            return message
        }
        guard case .userNamespace(let pid) = try expect() else { throw RootlessError("the namespace holder said something else") }
        // A pasta whose holder ended without `stop` (killed): given its namespace as a
        // descriptor, it does not notice, and would keep the published ports.
        if let stale = stalePasta() { kill(stale, SIGTERM) }
        do throws(RootlessError) {
            try map("newuidmap", pid: pid, id: identity.uid, ranges: uids)
            try map("newgidmap", pid: pid, id: identity.gid, ranges: gids)
            HolderMessage.mapped.send(to: pair[0])
            guard try expect() == .ready else { throw RootlessError("the namespace holder said something else") }
            try connectPasta(pid, ports: [])
        } catch {
            kill(pid, SIGKILL)
            throw error
        }
        return pid
    }

    /// `newuidmap`/`newgidmap` (setuid helpers of Debian's uidmap): the user as root, the
    /// subordinate ranges after it. With no range, the kernel's own single-ID map.
    func map(_ helper: String, pid: pid_t, id: UInt32, ranges: [SubordinateRange]) throws(RootlessError) {
        if ranges.isEmpty {
            let file = helper == "newuidmap" ? "uid_map" : "gid_map"
            // An unprivileged writer of gid_map must give up setgroups first.
            if helper == "newgidmap" { _ = Self.writeProc("/proc/\(pid)/setgroups", "deny") }
            if let errno = Self.writeProc("/proc/\(pid)/\(file)", "0 \(id) 1\n") {
                throw RootlessError("cannot write /proc/\(pid)/\(file)", errno: errno)
            }
            return
        }
        let argv = [helper, "\(pid)"] + SubordinateRange.mapArguments(id: id, ranges: ranges)
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(argv, searchPath: true)
        } catch {
            if error.errno == ENOENT { throw .missing(helper, package: "uidmap", why: "to map the user's subordinate IDs") }
            throw RootlessError("cannot run \(helper)", errno: error.errno)
        }
        guard result.status == 0 else {
            throw RootlessError("\(argv.joined(separator: " ")) failed: \(Self.text(result.output))")
        }
    }

    /// pasta (Debian's passt) gives the holder's network namespace the host's addresses and
    /// routes (egress), and binds `ports` on the host, forwarding them to the same ports inside,
    /// where the shims hold the published ports. Its `-t auto` (ports found inside) does not
    /// forward anything with Debian 12's pasta, so the list is given, and pasta started again
    /// when it changes (`forward`). Nothing is forwarded the other way (`-T none -U none`).
    func connectPasta(_ pid: pid_t, ports: [ForwardedPort]) throws(RootlessError) {
        let tcp = ports.filter { $0.proto == "tcp" }.map(\.spec)
        let udp = ports.filter { $0.proto == "udp" }.map(\.spec)
        let routes = Self.hasDefaultRoute(
            ipv4: (try? Files.read("/proc/net/route")).map { String(decoding: $0, as: UTF8.self) } ?? "",
            ipv6: (try? Files.read("/proc/net/ipv6_route")).map { String(decoding: $0, as: UTF8.self) } ?? "")
        // The holder's namespaces as descriptors of pasta's own (3 and 4), not its
        // /proc/PID/ns files: opening another process's takes ptrace access, which Debian's
        // AppArmor profile for pasta does not grant.
        let user = open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC)
        let net = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        defer {
            if user >= 0 { close(user) }
            if net >= 0 { close(net) }
        }
        guard user >= 0, net >= 0 else { throw RootlessError("cannot open the namespaces of the holder \(pid)", errno: errno) }
        let argv =
            ["pasta", "--config-net", "--quiet"] + (routes ? [] : Self.offlineArguments) + [
                "-t", tcp.isEmpty ? "none" : tcp.joined(separator: ","),
                "-u", udp.isEmpty ? "none" : udp.joined(separator: ","), "-T", "none", "-U", "none",
                "--pid", pastaPidFile, "--userns", "/proc/self/fd/3", "--netns", "/proc/self/fd/4",
            ]
        do {
            try Self.makePrivateDirectory(pastaDirectory)
        } catch {
            throw RootlessError("cannot use \(pastaDirectory)", errno: error.errno)
        }
        // pasta keeps a pid file that is there already (one of an earlier holder's).
        unlink(pastaPidFile)
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(argv, searchPath: true, passing: [user, net])
        } catch {
            if error.errno == ENOENT { throw .missing("pasta", package: "passt", why: "for containers' network access and published ports") }
            throw RootlessError("cannot run pasta", errno: error.errno)
        }
        guard result.status == 0 else {
            throw RootlessError("pasta failed (\(result.status)): \(Self.text(result.output))")
        }
        try? Files.writeAtomically(portsFile, Array((ports.map(\.description).sorted().joined(separator: "\n") + "\n").utf8))
    }

    /// pasta copies the addresses and routes of the host's interface with the default route
    /// and refuses to start without one ("External interface not usable"). On a host with no
    /// default route (offline, or a VM without a network), it takes loopback as that
    /// interface, with an address, gateway and MAC of its own (slirp4netns's usual ones), so
    /// that published ports still reach the namespace; there is no egress to lose. Its
    /// device in the namespace is `tap0` (named after the host interface otherwise: `lo`).
    static let offlineArguments = [
        "-i", "lo", "-I", "tap0", "-M", "9a:55:9a:55:9a:55", "-a", "10.0.2.100", "-n", "24", "-g", "10.0.2.2",
    ]

    /// Whether `/proc/net/route` (`ipv4`) or `/proc/net/ipv6_route` (`ipv6`) has a default
    /// route through an interface other than loopback (where the kernel keeps IPv6's
    /// unreachable default).
    static func hasDefaultRoute(ipv4: String, ipv6: String) -> Bool {
        let v4 = ipv4.split(separator: "\n").dropFirst().contains { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count > 7 && fields[1] == "00000000" && fields[7] == "00000000" && fields[0] != "lo"
        }
        let v6 = ipv6.split(separator: "\n").contains { line in
            let fields = line.split(whereSeparator: \.isWhitespace)
            return fields.count == 10 && fields[0] == String(repeating: "0", count: 32) && fields[1] == "00" && fields[9] != "lo"
        }
        return v4 || v6
    }

    /// Forwards exactly `ports` from the host to the holder's namespace: pasta started again
    /// with the new list when it differs from the one it runs with.
    public func forward(_ ports: [ForwardedPort]) throws(RootlessError) {
        guard let pid = running() else { return }
        let wanted = ports.map(\.description).sorted().joined(separator: "\n") + "\n"
        let current = (try? Files.read(portsFile)).map { String(decoding: $0, as: UTF8.self) }
        if current == wanted, pastaPid(holder: pid) != nil { return }
        if let pasta = pastaPid(holder: pid) {
            kill(pasta, SIGTERM)
            // Gone, or a zombie nobody reaps yet (its descriptors are closed either way).
            for _ in 0..<100 {
                guard let stat = try? Files.read("/proc/\(pasta)/stat"), !String(decoding: stat, as: UTF8.self).contains(") Z ") else { break }
                usleep(10_000)
            }
        }
        // The old pasta's tap device goes away in the namespace a moment after it ends: the
        // new one cannot make its own until then.
        var attempt = 0
        while true {
            do {
                try connectPasta(pid, ports: ports)
                return
            } catch {
                // Stopped meanwhile (`down` of the user's last project, from the command this
                // process runs): there is nothing to forward any more.
                if running() != pid { return }
                attempt += 1
                if attempt == 20 { throw error }
                usleep(50_000)
            }
        }
    }

    /// The pasta connected to the holder `holder`, if it runs: the one of the pid file, when
    /// that pid is still a pasta started after the holder (not a pid used again).
    func pastaPid(holder: pid_t) -> pid_t? {
        guard let pasta = pidFilePasta(), let mine = ProcessCheck.startTicks(pasta.pid), let theirs = ProcessCheck.startTicks(holder),
            mine >= theirs
        else { return nil }
        return pasta.pid
    }

    /// The pasta of the pid file, whatever holder it served, if it still runs.
    func stalePasta() -> pid_t? {
        guard let pasta = pidFilePasta(), pasta.args.contains(Substring(pastaPidFile)) else { return nil }
        return pasta.pid
    }

    /// The process of the pid file and its arguments, when it still runs as a pasta (one given
    /// a namespace to connect).
    private func pidFilePasta() -> (pid: pid_t, args: [Substring])? {
        guard let text = try? Files.read(pastaPidFile),
            let pid = pid_t(String(decoding: text, as: UTF8.self).split(whereSeparator: \.isWhitespace).first ?? ""),
            let cmdline = try? Files.read("/proc/\(pid)/cmdline")
        else { return nil }
        let args = String(decoding: cmdline, as: UTF8.self).split(separator: "\0")
        return args.contains("--netns") ? (pid, args) : nil
    }

    /// `path` as a directory of this user's alone (0700), made if missing: it is under /tmp,
    /// where anyone could have made it first.
    static func makePrivateDirectory(_ path: String) throws(FileError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw FileError("mkdir \(path)", errno: errno) }
        var st = stat()
        guard lstat(path, &st) == 0 else { throw FileError("stat \(path)", errno: errno) }
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            throw FileError("\(path) is not a directory of this user's alone", errno: EPERM)
        }
    }

    /// Ends the holder and its pasta; the namespaces go with the last process in them.
    public func stop() {
        guard let pid = running() else { return }
        // pasta notices its namespace's end only once the holder is reaped; until then it
        // holds the published ports on the host.
        if let pasta = pastaPid(holder: pid) { kill(pasta, SIGTERM) }
        kill(pid, SIGTERM)
        unlink(pidFile)
        unlink(pastaPidFile)
        unlink(portsFile)
    }

    /// Runs this program again (`/proc/self/exe`, same arguments) inside `pid`'s namespaces,
    /// as a child with this one's standard streams and terminal (`CLinux`'s constructor joins
    /// them before anything else runs), and returns its pid. Interrupts from the terminal are
    /// the child's to handle: the caller ignores them meanwhile, the child gets them back.
    public static func spawnJoined(_ pid: pid_t, identity: Rootless, environment: [String: String]) throws(RootlessError) -> pid_t {
        var env = environment
        env[Rootless.joinVariable] = "\(pid)"
        env[Rootless.userVariable] = "\(identity.uid):\(identity.gid)"
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var attributes = posix_spawnattr_t()
        Subprocess.initCleanSignals(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        var child: pid_t = 0
        let r = posix_spawn(&child, "/proc/self/exe", nil, &attributes, &argv, &envp)
        guard r == 0 else { throw RootlessError("cannot run scompose again in the user's namespaces", errno: r) }
        return child
    }

    /// Waits for `child`; calls `tick` about once a second meanwhile. Its exit status (128 +
    /// the signal when killed). The child's pidfd wakes the wait as it ends: every rootless
    /// command waits here, and polling every 100 ms added up to that to each of them. (pidfds
    /// came in Linux 5.3, before the 5.11 rootless overlays need; without one, poll skips the
    /// -1 and the wait only wakes each second.)
    public static func wait(_ child: pid_t, tick: () -> Void) -> Int32 {
        let pidfd = sc_pidfd_open(child)
        defer { if pidfd >= 0 { close(pidfd) } }
        var status: Int32 = 0
        while true {
            let r = waitpid(child, &status, WNOHANG)
            if r == child { break }
            if r < 0 && errno != EINTR { return 1 }
            var ready = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 1000) == 0 { tick() }
        }
        // WIFEXITED/WEXITSTATUS are macros Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// A helper's output on one line.
    static func text(_ output: [UInt8]) -> String {
        String(decoding: output, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Writes a /proc file in one call; its errno on failure.
    static func writeProc(_ path: String, _ text: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? nil : errno
    }
}
