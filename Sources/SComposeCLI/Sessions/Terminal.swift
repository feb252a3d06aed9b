// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// An interactive session on a pty: our terminal in raw mode, bytes relayed both ways and our
/// window's size passed on, until the program's side of the pty closes.
enum Terminal {
    /// Relays between our standard streams and `master` until the program's side closes.
    static func relay(_ master: Int32) {
        func resize() {
            var size = winsize()
            if ioctl(1, UInt(TIOCGWINSZ), &size) == 0 { _ = ioctl(master, UInt(TIOCSWINSZ), &size) }
        }
        resize()
        SignalPipe.watch([SIGWINCH])
        var saved = termios()
        let haveTerminal = tcgetattr(0, &saved) == 0
        if haveTerminal {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
        }
        defer { if haveTerminal { tcsetattr(0, TCSANOW, &saved) } }
        var buffer = [UInt8](repeating: 0, count: 16384)
        var inputOpen = true
        while true {
            var fds = [
                pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: SignalPipe.fd, events: Int16(POLLIN), revents: 0),
            ]
            if inputOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0, SignalPipe.take().contains(SIGWINCH) { resize() }
            if fds[0].revents != 0 {
                let n = read(master, &buffer, buffer.count)
                if n <= 0 { return }
                Console.write(1, bytes: Array(buffer[0..<n]))
            }
            if inputOpen, fds.count > 2, fds[2].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 {
                    inputOpen = false
                    continue
                }
                _ = buffer.withUnsafeBytes { write(master, $0.baseAddress, n) }
            }
        }
    }
}
