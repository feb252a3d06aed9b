// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Writing to the terminal without Foundation.
enum Console {
    static func out(_ text: String) {
        write(1, text)
    }

    static func error(_ text: String) {
        write(2, text.hasSuffix("\n") ? text : text + "\n")
    }

    static func warn(_ text: String) {
        write(2, "WARN[0000] \(text)\n")
    }

    static func write(_ fd: Int32, _ text: String) {
        write(fd, bytes: Array(text.utf8))
    }

    /// Writes all of `bytes` to standard output or error. The process ignores SIGPIPE (see
    /// `ignoreBrokenPipes`), so a reader that went away (`logs -f | head`) shows here as EPIPE:
    /// the command then ends as SIGPIPE would have ended it. Other errors drop the output.
    static func write(_ fd: Int32, bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + done }, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { endOnBrokenPipe() }
                return
            }
            done += n
        }
    }

    /// Called once at start: a write to a socket whose other end closed (a shim that exited,
    /// systemd's bus) must be an error the caller handles, not the death of the command.
    /// Programs started from here get the default back (`Subprocess`, `CSpawn`).
    static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Ends the process by SIGPIPE, as a command whose standard output was closed.
    static func endOnBrokenPipe() -> Never {
        signal(SIGPIPE, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                env[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }
}
