// SPDX-License-Identifier: Apache-2.0
import CSpawn
import FoundationEssentials
import SComposeRuntime
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The per-container supervisor: detaches, starts the container in its cgroup, copies its
/// output into a json-file log, reaps it, records its exit, and cleans up. Synchronous and
/// single-threaded by design (no async, no Dispatch): it forks, and namespaces are per thread.
public enum Shim {
    /// `scompose-shim <container-dir> <sync-fd>`; returns the process exit status.
    public static func main(_ args: [String]) -> Int32 {
        guard args.count == 2, let givenSyncFD = Int32(args[1]) else {
            let usage = Array("usage: scompose-shim CONTAINER_DIR SYNC_FD\n".utf8)
            _ = usage.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            return 2
        }
        // A reader that went away (the CLI killed mid-`up`) must cost an EPIPE, not the shim.
        signal(SIGPIPE, SIG_IGN)
        // Keep only stdio and the sync pipe: whatever else the caller leaked (Foundation's
        // Process waits on a socketpair its grandchildren inherit) must not live on in us.
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
            report(syncFD, #"{"error":"cannot read spec.json"}"#)
            return 1
        }
        // Detach: the parent returns at once so the CLI can go; the child is reparented.
        let child = fork()
        if child < 0 {
            report(syncFD, #"{"error":"fork failed"}"#)
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
        return supervise(spec, files, syncFD)
    }

    static func report(_ fd: Int32, _ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func supervise(_ spec: ShimSpec, _ files: ContainerFiles, _ syncFD: Int32) -> Int32 {
        var cgroup: Cgroup?
        if let path = spec.cgroup, let layout = CgroupLayout.current() {
            let c = Cgroup(layout: layout, path: path)
            do {
                try c.create()
                try c.apply(spec.resources)
                cgroup = c
            } catch {
                try? c.remove()
                report(syncFD, #"{"error":\#(jsonString("cgroup: \(error)"))}"#)
                return 1
            }
        }
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        // Close-on-exec: the container gets only the write ends, through dup2.
        guard sc_pipe_cloexec(&out) == 0, sc_pipe_cloexec(&err) == 0 else {
            try? cgroup?.remove()
            report(syncFD, #"{"error":"pipe failed"}"#)
            return 1
        }
        let pid: pid_t
        do {
            pid = try Launcher.spawn(
                InitPlan.compile(spec.container), stdio: .init(stdin: -1, stdout: out[1], stderr: err[1])
            ) { child in
                try cgroup?.add(child)
            }
        } catch {
            try? cgroup?.remove()
            report(syncFD, #"{"error":\#(jsonString(error.description)),"errno":\#(error.errno)}"#)
            return 1
        }
        close(out[1])
        close(err[1])
        let state = RunningState(
            pid: pid, shimPid: getpid(), startedAt: Clock.rfc3339Now(), startTicks: ProcessCheck.startTicks(pid) ?? 0)
        try? StateFile.write(state, to: files.state)
        report(syncFD, #"{"pid":\#(pid)}"#)

        let log = open(files.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        var pending: [Int32: [UInt8]] = [out[0]: [], err[0]: []]
        let streams: [Int32: String] = [out[0]: "stdout", err[0]: "stderr"]
        var open = [out[0], err[0]]
        var buffer = [UInt8](repeating: 0, count: 65536)
        func emit(_ fd: Int32, _ line: [UInt8]) {
            guard log >= 0 else { return }
            let text = String(decoding: line, as: UTF8.self)
            let record = #"{"log":\#(jsonString(text)),"stream":"\#(streams[fd] ?? "stdout")","time":"\#(Clock.rfc3339Now())"}"# + "\n"
            let bytes = Array(record.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeBytes { write(log, $0.baseAddress.map { $0 + done }, bytes.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                done += n
            }
        }
        while !open.isEmpty {
            var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let r = poll(&polls, nfds_t(polls.count), -1)
            if r < 0 {
                if errno == EINTR { continue }
                break
            }
            for p in polls where p.revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    if let rest = pending[p.fd], !rest.isEmpty { emit(p.fd, rest) }
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                    continue
                }
                var data = pending[p.fd, default: []] + buffer[0..<n]
                while let newline = data.firstIndex(of: UInt8(ascii: "\n")) {
                    emit(p.fd, Array(data[...newline]))
                    data.removeSubrange(...newline)
                }
                // A very long line is written in pieces, as Docker splits at 16 KiB.
                if data.count >= 16384 {
                    emit(p.fd, data)
                    data = []
                }
                pending[p.fd] = data
            }
        }
        if log >= 0 { close(log) }
        // Reap the container's init (and, as subreaper, any orphans of it).
        var code: Int32 = 0
        while true {
            var status: Int32 = 0
            let r = waitpid(-1, &status, 0)
            if r < 0 {
                if errno == EINTR { continue }
                break
            }
            if r == pid {
                code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
        }
        let oom = cgroup?.oomKilled() ?? false
        try? StateFile.write(ExitRecord(exitCode: code, oomKilled: oom, finishedAt: Clock.rfc3339Now()), to: files.exit)
        try? cgroup?.remove()
        return 0
    }
}
