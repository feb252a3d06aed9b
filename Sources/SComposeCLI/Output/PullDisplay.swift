// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader
import SComposeOCI
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The per-layer lines of a pull. Events come from the download threads: one lock orders them.
final class PullDisplay: Sendable {
    struct State {
        var order: [Digest] = []
        var last: [Digest: Int64] = [:]
    }
    let tty: Bool
    let state = Mutex(State())

    init(tty: Bool) { self.tty = tty }

    func start(_ layers: [(Digest, Bool)]) {
        state.withLock { s in
            s.order = layers.map(\.0)
            var out = ""
            for (digest, present) in layers {
                if present {
                    out += "\(digest.hex.prefix(12)): Already exists\n"
                } else if tty {
                    out += "\(digest.hex.prefix(12)): Pulling fs layer\n"
                }
            }
            Console.out(out)
        }
    }

    /// On a terminal, at most ten redraws a second per layer.
    func update(_ digest: Digest, received: Int64, total: Int64) {
        guard tty else { return }
        state.withLock { s in
            guard let i = s.order.firstIndex(of: digest) else { return }
            let now = Clock.nowNanoseconds()
            if let last = s.last[digest], now - last < 100_000_000 { return }
            s.last[digest] = now
            let width = 50
            let done = total > 0 ? Int(Int64(width) * received / total) : 0
            let bar = "[" + String(repeating: "=", count: max(0, done - 1)) + (done > 0 ? ">" : "") + String(repeating: " ", count: width - max(done, 0)) + "]"
            let text = "\(digest.hex.prefix(12)): Downloading \(bar) \(Units.decimal(received))/\(Units.decimal(total))"
            Console.out(Self.rewrite(line: i, of: s.order.count, text))
        }
    }

    func finish(_ digest: Digest) {
        state.withLock { s in
            guard let i = s.order.firstIndex(of: digest) else { return }
            let text = "\(digest.hex.prefix(12)): Pull complete"
            Console.out(tty ? Self.rewrite(line: i, of: s.order.count, text) : text + "\n")
        }
    }

    /// Line `i` of the `count` printed last, replaced, with the cursor back below them.
    static func rewrite(line i: Int, of count: Int, _ text: String) -> String {
        let up = count - i
        return "\u{1B}[\(up)A\r\u{1B}[2K" + text + "\u{1B}[\(up)B\r"
    }
}
