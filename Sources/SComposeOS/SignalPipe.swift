// SPDX-License-Identifier: Apache-2.0
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Signals as bytes on a pipe (the self-pipe trick): the handler is C and only writes the
/// signal's number, so no Swift code ever runs in a signal handler; an event loop polls `fd`
/// beside its other descriptors and takes the signals with `take()`. One pipe per process.
public enum SignalPipe {
    /// The pipe's read end (non-blocking), to poll for `POLLIN`; -1 if it could not be made.
    public static var fd: Int32 { sc_signal_pipe() }

    /// Delivers `signals` to the pipe from now on (and unblocks them: whoever started us, a
    /// test runner for one, may have left them blocked).
    public static func watch(_ signals: [Int32]) {
        for s in signals { _ = sc_signal_pipe_watch(s) }
    }

    /// Gives `signals` their default dispositions again.
    public static func unwatch(_ signals: [Int32]) {
        for s in signals { _ = sc_signal_pipe_unwatch(s) }
    }

    /// The signals delivered since the last call, oldest first (at most 64 per call).
    public static func take() -> [Int32] {
        let fd = sc_signal_pipe()
        guard fd >= 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 ? buffer[0..<n].map { Int32($0) } : []
    }
}
