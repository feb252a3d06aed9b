// SPDX-License-Identifier: Apache-2.0
import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// Runs one of the few host helpers scompose may run (`apparmor_parser`, credential helpers,
/// `newuidmap`…): no shell, its standard input given, its standard output read back.
public enum Subprocess {
    /// How the program ended and what it printed.
    public struct Result: Sendable {
        /// The exit status, or 128 + the signal that killed it.
        public var status: Int32
        /// Standard output (and error, with `mergeErrors`), as written.
        public var output: [UInt8]
    }

    /// Why it could not run.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var program: String
        public var errno: Int32
        public var description: String { "cannot run \(program): \(String(cString: strerror(errno)))" }
    }

    /// Initializes spawn attributes (the caller destroys them) so that the program starts with
    /// the signals this process ignores or handles back at their defaults and none blocked:
    /// what we ignore (SIGPIPE, SIGINT while a child runs) is the program's to decide (pasta
    /// refuses to start with SIGPIPE ignored), and one that waits for SIGTERM with it blocked
    /// never ends.
    public static func initCleanSignals(_ attributes: inout posix_spawnattr_t) {
        posix_spawnattr_init(&attributes)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
    }

    /// Runs `argv` and waits for it. `argv[0]` is an absolute path, or with `searchPath` a name
    /// looked up in `PATH`; the environment is empty unless `inheritEnvironment`; standard
    /// error is read with the output (`mergeErrors`) or left as ours. The input is written
    /// before the output is read: the helpers this is for read all of theirs first. At most
    /// `limit` bytes of output are kept. `passing` are descriptors the program gets as 3, 4, …
    /// (they may be close-on-exec here).
    public static func run(
        _ argv: [String], input: [UInt8] = [], searchPath: Bool = false, inheritEnvironment: Bool = false,
        mergeErrors: Bool = true, limit: Int = 1 << 20, passing: [Int32] = []
    ) throws(Failure) -> Result {
        let program = argv.first ?? ""
        // Close-on-exec, so that what other threads start later does not hold them (the child
        // gets its copies through dup2).
        func cloexecPipe() throws(Failure) -> [Int32] {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw Failure(program: program, errno: errno) }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return fds
        }
        let stdin = try cloexecPipe()
        let stdout: [Int32]
        do {
            stdout = try cloexecPipe()
        } catch {
            close(stdin[0])
            close(stdin[1])
            throw error
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdout[1], 1)
        if mergeErrors { posix_spawn_file_actions_adddup2(&actions, stdout[1], 2) }
        // Moved above the numbers they go to first, so that no dup2 overwrites one not yet
        // copied (closed when this returns).
        var high: [Int32] = []
        defer { for fd in high { close(fd) } }
        for fd in passing {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3 + Int32(passing.count))
            guard copy >= 0 else { throw Failure(program: program, errno: errno) }
            high.append(copy)
        }
        for (i, fd) in high.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, 3 + Int32(i)) }
        // Nothing else of ours: a helper that stays (pasta) must not hold what our caller
        // waits to see closed.
        sc_spawn_addclosefrom(&actions, 3 + Int32(passing.count))
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var noEnv: [UnsafeMutablePointer<CChar>?] = [nil]
        var attributes = posix_spawnattr_t()
        Self.initCleanSignals(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var pid: pid_t = 0
        let r = noEnv.withUnsafeMutableBufferPointer { empty in
            let env = inheritEnvironment ? environ : empty.baseAddress
            return searchPath
                ? posix_spawnp(&pid, program, &actions, &attributes, &cArgs, env)
                : posix_spawn(&pid, program, &actions, &attributes, &cArgs, env)
        }
        close(stdin[0])
        close(stdout[1])
        defer { close(stdout[0]) }
        guard r == 0 else {
            close(stdin[1])
            throw Failure(program: program, errno: r)
        }
        // A program that exits without reading must not kill us with SIGPIPE: EPIPE ends the write.
        var ignore = sigaction()
        var previous = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigaction(SIGPIPE, &ignore, &previous)
        _ = try? Files.writeAll(stdin[1], input, what: program)
        sigaction(SIGPIPE, &previous, nil)
        close(stdin[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Read to the end (a program blocked on a full pipe would never exit); keep `limit`.
        while true {
            let n = read(stdout[0], &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[0..<min(n, max(0, limit - output.count))]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, output: output)
    }
}
