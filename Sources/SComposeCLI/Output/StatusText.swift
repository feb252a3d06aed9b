// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// The STATUS column as Docker words it.
enum StatusText {
    static func of(_ c: ContainerStatus, now: Int) -> String {
        func ago(_ time: String?) -> String {
            Human.since(now - (time.flatMap(Clock.parseRFC3339) ?? now))
        }
        switch c.state {
        case .running, .paused:
            let up = "Up " + ago(c.startedAt).replacingSuffix(" ago", "")
            if c.state == .paused { return up + " (Paused)" }
            if c.shimPid == nil { return up + " (unsupervised)" }
            switch c.health {
            case .starting?: return up + " (health: starting)"
            case let h?: return up + " (\(h.rawValue))"
            case nil: return up
            }
        case .restarting:
            return "Restarting (\(c.lastExitCode ?? 0)) \(ago(c.startedAt))"
        case .exited:
            return "Exited (\(c.exit?.exitCode ?? 0)) \(ago(c.exit?.finishedAt))"
        case .created: return "Created"
        }
    }
}
