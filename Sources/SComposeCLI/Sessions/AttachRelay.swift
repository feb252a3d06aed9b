// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Our standard streams joined to a container through its shim's attach stream: its output
/// (demultiplexed into stdout and stderr), our input to it, our terminal's size and, without a
/// tty, our SIGINT/SIGTERM/SIGHUP passed on (docker's sig-proxy). Returns its exit status.
struct AttachRelay {
    let socket: Int32
    let shim: ShimClient
    let input: Bool
    let tty: Bool
    var proxySignals = true

    func run() -> Int32 {
        defer { close(socket) }
        var saved = termios()
        let rawTerminal = tty && input && tcgetattr(0, &saved) == 0
        if rawTerminal {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
        }
        defer { if rawTerminal { tcsetattr(0, TCSANOW, &saved) } }
        if tty { resize() }
        let proxied = proxySignals && !rawTerminal ? [SIGINT, SIGTERM, SIGHUP] : []
        SignalPipe.watch([SIGWINCH] + proxied)
        var inputOpen = input
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var code: Int32?
        loop: while true {
            var fds = [
                pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: SignalPipe.fd, events: Int16(POLLIN), revents: 0),
            ]
            if inputOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 {
                for s in SignalPipe.take() {
                    if s == SIGWINCH {
                        resize()
                    } else {
                        _ = shim.deliver(signal: s)
                    }
                }
            }
            if fds[0].revents != 0 {
                let n = read(socket, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                for frame in AttachFrame.take(from: &pending) {
                    switch frame {
                    case .exit(let status): code = status
                    case .stderr(let payload): Console.write(2, bytes: Array(payload))
                    case .stdout(let payload): Console.write(1, bytes: Array(payload))
                    }
                }
                if code != nil { break loop }
            }
            if inputOpen, fds.count > 2, fds[2].revents != 0 {
                let n = read(0, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    // Our input ended: so does the container's (without a tty).
                    inputOpen = false
                    shutdown(socket, Int32(SHUT_WR))
                    continue
                }
                if (try? Files.writeAll(socket, Array(buffer[0..<n]), what: "attach")) == nil { inputOpen = false }
            }
        }
        if let code { return code }
        // The stream ended without a status (the shim went away): the recorded exit, if any.
        for _ in 0..<50 {
            if let exit = StateFile.read(ExitRecord.self, from: shim.files.exit) { return exit.exitCode }
            usleep(100_000)
        }
        return 255
    }

    func resize() {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0 || ioctl(0, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return }
        _ = shim.resize(rows: size.ws_row, columns: size.ws_col)
    }
}
