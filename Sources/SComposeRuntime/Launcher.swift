// SPDX-License-Identifier: Apache-2.0
import CSpawn

#if canImport(Glibc)
import Glibc
#endif

/// Why a container's first process did not start.
public struct SpawnError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The plan step that failed (its text), or the clone itself.
    public var step: String
    public var errno: Int32

    public var description: String { "\(step): \(String(cString: strerror(errno)))" }

    public init(step: String, errno: Int32) {
        self.step = step
        self.errno = errno
    }
}

/// Starts a container's first process from an init plan.
public enum Launcher {
    /// Standard streams for the container (descriptors stay open in the caller).
    public struct Stdio: Sendable {
        public var stdin: Int32 = -1
        public var stdout: Int32 = -1
        public var stderr: Int32 = -1
        public init(stdin: Int32 = -1, stdout: Int32 = -1, stderr: Int32 = -1) {
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// Clones the container's init in new namespaces, runs the plan, and returns its pid once
    /// `execve` has succeeded (or the failing step). The caller reaps it.
    ///
    /// `beforeStart` runs after the clone and before the child does anything (to put it in its
    /// cgroup, for one); if it throws, the child is killed and reaped.
    public static func spawn(
        _ plan: InitPlan, stdio: Stdio, beforeStart: ((pid_t) throws -> Void)? = nil
    ) throws(SpawnError) -> pid_t {
        let (arena, steps) = encode(plan)
        var fds: [Int32] = [-1, -1]
        guard sc_pipe_cloexec(&fds) == 0 else { throw SpawnError(step: "pipe", errno: errno) }
        var gate: [Int32] = [-1, -1]
        if beforeStart != nil {
            guard sc_pipe_cloexec(&gate) == 0 else {
                close(fds[0])
                close(fds[1])
                throw SpawnError(step: "pipe", errno: errno)
            }
        }
        let pid: pid_t = arena.withUnsafeBufferPointer { arenaBuffer in
            steps.withUnsafeBufferPointer { stepBuffer in
                var cPlan = sc_plan(
                    steps: stepBuffer.baseAddress, count: Int32(stepBuffer.count), arena: arenaBuffer.baseAddress,
                    clone_flags: Int64(plan.namespaces.rawValue), stdin_fd: stdio.stdin, stdout_fd: stdio.stdout,
                    stderr_fd: stdio.stderr, start_fd: gate[0])
                return sc_container_spawn(&cPlan, fds[1])
            }
        }
        let cloneErrno = errno
        close(fds[1])
        defer { close(fds[0]) }
        if gate[0] >= 0 { close(gate[0]) }
        guard pid > 0 else {
            if gate[1] >= 0 { close(gate[1]) }
            throw SpawnError(step: "clone", errno: cloneErrno)
        }
        if let beforeStart {
            do {
                try beforeStart(pid)
            } catch {
                close(gate[1])
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                throw SpawnError(step: "before start: \(error)", errno: EIO)
            }
            var go: UInt8 = 1
            _ = write(gate[1], &go, 1)
            close(gate[1])
        }
        var failure = sc_failure()
        let n = withUnsafeMutableBytes(of: &failure) { read(fds[0], $0.baseAddress, $0.count) }
        if n == MemoryLayout<sc_failure>.size {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            let index = Int(failure.step)
            let step = index >= 0 && index < plan.steps.count ? plan.steps[index].description : "stdio setup"
            throw SpawnError(step: step, errno: failure.err)
        }
        return pid
    }

    /// Starts a process in the container whose init is `target` and returns its pid at once
    /// (once the program runs); the caller reaps it. The process joins the container's
    /// cgroups (those `target` is in) and then its namespaces, as `runc exec` does, so the
    /// container's limits, device rules and `pause` apply to it. For `exec` and healthchecks;
    /// `detach` gives it a session of its own (`exec -d`).
    public static func startExec(
        into target: pid_t, _ plan: InitPlan, stdio: Stdio, detach: Bool = false
    ) throws(SpawnError) -> pid_t {
        let (arena, steps) = encode(plan)
        let cgroupFiles = plan.joinsCgroups ? CgroupLayout.host.map { Cgroup.procsFiles(ofProcess: target, layout: $0) } ?? [] : []
        var cgroupFDs: [Int32] = []
        defer { for fd in cgroupFDs { close(fd) } }
        for file in cgroupFiles {
            let fd = open(file, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SpawnError(step: "join the container's cgroup \(file)", errno: errno) }
            cgroupFDs.append(fd)
        }
        var fds: [Int32] = [-1, -1]
        guard sc_pipe_cloexec(&fds) == 0 else { throw SpawnError(step: "pipe", errno: errno) }
        var gate: [Int32] = [-1, -1]
        if plan.systemdEntry != nil && !cgroupFDs.isEmpty {
            guard sc_pipe_cloexec(&gate) == 0 else {
                let e = errno
                close(fds[0])
                close(fds[1])
                throw SpawnError(step: "pipe", errno: e)
            }
        }
        defer { if gate[1] >= 0 { close(gate[1]) } }
        let pid: pid_t = arena.withUnsafeBufferPointer { arenaBuffer in
            steps.withUnsafeBufferPointer { stepBuffer in
                cgroupFDs.withUnsafeBufferPointer { cgroupBuffer in
                    var cPlan = sc_plan(
                        steps: stepBuffer.baseAddress, count: Int32(stepBuffer.count), arena: arenaBuffer.baseAddress,
                        clone_flags: 0, stdin_fd: stdio.stdin, stdout_fd: stdio.stdout, stderr_fd: stdio.stderr, start_fd: -1)
                    return gate.withUnsafeBufferPointer { gateBuffer in
                        sc_exec_spawn(
                            target, &cPlan, cgroupBuffer.baseAddress, Int32(cgroupBuffer.count), detach ? Int32(SC_EXEC_DETACH) : 0,
                            gate[0] >= 0 ? gateBuffer.baseAddress : nil, fds[1])
                    }
                }
            }
        }
        let forkErrno = errno
        close(fds[1])
        if gate[0] >= 0 { close(gate[0]) }
        defer { close(fds[0]) }
        guard pid > 0 else { throw SpawnError(step: "join the container's namespaces", errno: forkErrno) }
        var entryFailure: SystemdScope.Failure?
        if let entry = plan.systemdEntry, gate[1] >= 0 {
            do {
                try SystemdScope.attach(pid, to: entry)
                var go: UInt8 = 1
                _ = write(gate[1], &go, 1)
            } catch {
                // The intermediate reads the end of the gate and reports the cgroup step.
                entryFailure = error
            }
            close(gate[1])
            gate[1] = -1
        }
        var failure = sc_failure()
        let n = withUnsafeMutableBytes(of: &failure) { read(fds[0], $0.baseAddress, $0.count) }
        if n == MemoryLayout<sc_failure>.size {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let index = Int(failure.step)
            let step = index >= 0 && index < plan.steps.count ? plan.steps[index].description : execStepName(index)
            throw SpawnError(step: step + (entryFailure.map { " (\($0))" } ?? ""), errno: failure.err)
        }
        return pid
    }

    /// What `sc_exec_spawn` was doing when it reports one of its own (negative) steps.
    static func execStepName(_ step: Int) -> String {
        let namespaces = ["cgroup", "ipc", "uts", "net", "pid", "mnt"]
        let setnsRange = Int(SC_EXEC_STEP_SETNS_MNT)...Int(SC_EXEC_STEP_SETNS_CGROUP)
        switch step {
        case Int(SC_EXEC_STEP_STDIO): return "stdio setup"
        case Int(SC_EXEC_STEP_CGROUP): return "join the container's cgroups"
        case setnsRange: return "join the container's \(namespaces[Int(SC_EXEC_STEP_SETNS_CGROUP) - step]) namespace"
        case Int(SC_EXEC_STEP_FORK): return "fork into the container's pid namespace"
        default: return "step \(step)"
        }
    }

    /// A new pty pair (master, slave), both close-on-exec, from the devpts instance whose
    /// `ptmx` is given (a container's, through `/proc/<pid>/root`, so that the program sees a
    /// terminal of its own /dev/pts).
    public static func openPty(ptmx: String = "/dev/ptmx") throws(SpawnError) -> (master: Int32, slave: Int32) {
        let master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw SpawnError(step: "open \(ptmx)", errno: errno) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        // TIOCSPTLCK and TIOCGPTN (_IOW/_IOR macros Swift cannot import).
        guard ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            let e = errno
            close(master)
            throw SpawnError(step: "allocate a pty", errno: e)
        }
        let dir = ptmx.hasSuffix("/ptmx") ? String(ptmx.dropLast(5)) : "/dev/pts"
        let pts = (dir.hasSuffix("/pts") ? dir : "/dev/pts") + "/\(number)"
        let slave = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let e = errno
            close(master)
            throw SpawnError(step: "open \(pts)", errno: e)
        }
        return (master, slave)
    }

    /// A close-on-exec socket pair, for a console's master.
    public static func socketPair() throws(SpawnError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard sc_socketpair_cloexec(&fds) == 0 else { throw SpawnError(step: "socketpair", errno: errno) }
        return (fds[0], fds[1])
    }

    /// The descriptor a console step sent (-1 if none came).
    public static func receiveDescriptor(_ socket: Int32) -> Int32 { sc_receive_fd(socket) }

    /// The plan as C steps and one string arena.
    static func encode(_ plan: InitPlan) -> ([CChar], [sc_step]) {
        var arena: [CChar] = []
        func add(_ s: String?) -> Int32 {
            guard let s else { return -1 }
            let offset = Int32(arena.count)
            arena.append(contentsOf: s.utf8CString)
            return offset
        }
        func addList(_ items: [String]) -> Int32 {
            let offset = Int32(arena.count)
            for item in items { arena.append(contentsOf: item.utf8CString) }
            arena.append(0)
            return offset
        }
        var steps: [sc_step] = []
        for step in plan.steps {
            var c = sc_step()
            c.s = (-1, -1, -1, -1)
            c.n = (0, 0, 0)
            switch step {
            case .mount(let source, let target, let type, let flags, let data):
                c.kind = Int32(SC_MOUNT.rawValue)
                c.s = (add(source), add(target), add(type), add(data))
                c.n.0 = Int64(flags)
            case .mkdir(let p, let mode):
                c.kind = Int32(SC_MKDIR.rawValue)
                c.s.0 = add(p)
                c.n.0 = Int64(mode)
            case .symlink(let target, let link):
                c.kind = Int32(SC_SYMLINK.rawValue)
                c.s.0 = add(target)
                c.s.1 = add(link)
            case .mknod(let p, let mode, let major, let minor):
                c.kind = Int32(SC_MKNOD.rawValue)
                c.s.0 = add(p)
                c.n = (Int64(mode), major, minor)
            case .bindDevice(let host, let target):
                c.kind = Int32(SC_BIND_DEVICE.rawValue)
                c.s.0 = add(host)
                c.s.1 = add(target)
            case .pivotRoot(let p):
                c.kind = Int32(SC_PIVOT_ROOT.rawValue)
                c.s.0 = add(p)
            case .sethostname(let h):
                c.kind = Int32(SC_SETHOSTNAME.rawValue)
                c.s.0 = add(h)
            case .setrlimit(let r, let soft, let hard):
                c.kind = Int32(SC_SETRLIMIT.rawValue)
                c.n = (Int64(r), Int64(bitPattern: soft), Int64(bitPattern: hard))
            case .mask(let p):
                c.kind = Int32(SC_MASK.rawValue)
                c.s.0 = add(p)
            case .readOnly(let p):
                c.kind = Int32(SC_READONLY.rawValue)
                c.s.0 = add(p)
            case .setgroups(let gids):
                c.kind = Int32(SC_SETGROUPS.rawValue)
                c.s.0 = add(gids.map(String.init).joined(separator: ","))
            case .setgid(let g):
                c.kind = Int32(SC_SETGID.rawValue)
                c.n.0 = Int64(g)
            case .setuid(let u):
                c.kind = Int32(SC_SETUID.rawValue)
                c.n.0 = Int64(u)
            case .noNewPrivileges:
                c.kind = Int32(SC_NO_NEW_PRIVS.rawValue)
            case .chdir(let p):
                c.kind = Int32(SC_CHDIR.rawValue)
                c.s.0 = add(p)
            case .writeFile(let p, let content):
                c.kind = Int32(SC_WRITE_FILE.rawValue)
                c.s.0 = add(p)
                c.s.1 = add(content)
            case .boundingSet(let bounding):
                c.kind = Int32(SC_CAPS.rawValue)
                c.n = (Int64(bitPattern: bounding), -1, 0)
            case .capabilities(let main, let ambient):
                c.kind = Int32(SC_CAPS.rawValue)
                c.n = (-1, Int64(bitPattern: main), Int64(bitPattern: ambient))
            case .loopbackUp:
                c.kind = Int32(SC_LOOPBACK_UP.rawValue)
            case .seccomp(let program):
                c.kind = Int32(SC_SECCOMP.rawValue)
                c.s.0 = Int32(arena.count)
                arena.append(contentsOf: program.map { CChar(bitPattern: $0) })
                c.n.0 = Int64(program.count)
            case .controllingTerminal:
                c.kind = Int32(SC_SETSID_TTY.rawValue)
            case .openRoot(let p):
                c.kind = Int32(SC_OPEN_ROOT.rawValue)
                c.s.0 = add(p)
            case .makeInRoot(let p):
                c.kind = Int32(SC_MAKE_IN_ROOT.rawValue)
                c.s.0 = add(p)
            case .mountInRoot(let source, let target, let type, let flags, let data, let isFile, let readOnly, let propagation):
                c.kind = Int32(SC_MOUNT_IN_ROOT.rawValue)
                c.s = (add(source), add(target), add(type), add(data))
                c.n = (Int64(flags), (isFile ? 1 : 0) | (readOnly ? 2 : 0), Int64(propagation))
            case .joinNetwork(let p):
                c.kind = Int32(SC_SETNS_NET.rawValue)
                c.s.0 = add(p)
            case .unshareCgroup:
                c.kind = Int32(SC_UNSHARE_CGROUP.rawValue)
            case .initProcess:
                c.kind = Int32(SC_INIT.rawValue)
            case .console(let ptmx, let dir, let socket):
                c.kind = Int32(SC_CONSOLE.rawValue)
                c.s.0 = add(ptmx)
                c.s.1 = add(dir)
                c.n.0 = Int64(socket)
            case .appArmor(let profile):
                // The per-LSM file (Linux 5.8), or the shared one where it is missing; the
                // container's /proc is the same kernel's.
                let perLSM = "/proc/self/attr/apparmor/exec"
                c.kind = Int32(SC_WRITE_FILE.rawValue)
                c.s.0 = add(access(perLSM, F_OK) == 0 ? perLSM : "/proc/self/attr/exec")
                c.s.1 = add("exec " + profile)
            case .exec(let path, let args, let env):
                c.kind = Int32(SC_EXEC.rawValue)
                c.s.0 = add(path)
                c.s.1 = addList(args)
                c.s.2 = addList(env)
            }
            steps.append(c)
        }
        return (arena, steps)
    }

    /// Runs a process in the namespaces of the running container whose init is `target`,
    /// with the caller's standard streams, and returns its exit status.
    /// `whileRunning` is called once the program runs, before waiting for it (to relay a pty).
    public static func exec(
        into target: pid_t, _ plan: InitPlan, stdio: Stdio = Stdio(), whileRunning: ((pid_t) -> Void)? = nil
    ) throws(SpawnError) -> Int32 {
        let pid = try startExec(into: target, plan, stdio: stdio)
        whileRunning?(pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
