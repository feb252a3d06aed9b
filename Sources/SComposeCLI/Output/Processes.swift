// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// `ps -ef` columns for a host pid, read from /proc (as `docker top` shows them).
enum Processes {
    static func userNames() -> [UInt32: String] {
        var names: [UInt32: String] = [:]
        let text = (try? Files.read("/etc/passwd")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count > 2, let uid = UInt32(f[2]), names[uid] == nil { names[uid] = String(f[0]) }
        }
        return names
    }

    /// UID, PID, PPID, C, STIME, TTY, TIME, CMD.
    static func info(_ pid: Int32, users: [UInt32: String]) -> [String]? {
        guard let stat = try? Files.read("/proc/\(pid)/stat"), let status = try? Files.read("/proc/\(pid)/status") else {
            return nil
        }
        let text = String(decoding: stat, as: UTF8.self)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let f = text[text.index(close, offsetBy: 2)...].split(separator: " ").map(String.init)
        guard f.count > 20 else { return nil }
        let ppid = f[1]
        let ttyNumber = Int(f[4]) ?? 0
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let cpu = (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
        let startTicks = Double(f[19]) ?? 0
        var uptime = 0.0
        if let u = try? Files.read("/proc/uptime"), let first = String(decoding: u, as: UTF8.self).split(separator: " ").first {
            uptime = Double(first) ?? 0
        }
        let elapsed = max(1, uptime - startTicks / ticks)
        let percent = Int(cpu / ticks / elapsed * 100)
        let started = Int(time(nil)) - Int(elapsed)
        var t = time_t(started)
        var tm = tm()
        localtime_r(&t, &tm)
        var nowT = time(nil)
        var today = tm
        localtime_r(&nowT, &today)
        func pad2(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let stime = tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year
            ? "\(pad2(tm.tm_hour)):\(pad2(tm.tm_min))" : "\(months[Int(tm.tm_mon)])\(pad2(tm.tm_mday))"
        let seconds = Int(cpu / ticks)
        let cputime = "\(pad2(Int32(seconds / 3600))):\(pad2(Int32(seconds / 60 % 60))):\(pad2(Int32(seconds % 60)))"
        var tty = "?"
        if ttyNumber != 0 {
            let major = (ttyNumber >> 8) & 0xfff
            let minor = (ttyNumber & 0xff) | ((ttyNumber >> 12) & 0xfff00)
            tty = major == 136 ? "pts/\(minor)" : "tty\(minor)"
        }
        var uid: UInt32 = 0
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix("Uid:") {
            uid = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) } ?? 0
        }
        var cmd = "[\(comm)]"
        if let raw = try? Files.read("/proc/\(pid)/cmdline"), !raw.isEmpty {
            var args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            while args.last == "" { args.removeLast() }
            if !args.isEmpty { cmd = args.joined(separator: " ") }
        }
        return [users[uid] ?? String(uid), String(pid), ppid, String(percent), stime, tty, cputime, cmd]
    }
}
