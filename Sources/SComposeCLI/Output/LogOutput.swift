// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// One record of a json-file log, read with the state files' small decoder (one per line would
/// be costly with Foundation's).
struct LogEntry: Decodable {
    var log: String
    var time: String
    /// `stdout` or `stderr`.
    var stream: String?

    init?(_ line: [UInt8]) {
        guard let e = try? StateJSONDecoder().decode(LogEntry.self, from: line) else { return nil }
        self = e
    }
}

/// Log prefixes as Compose prints them: `name  | `, padded to the longest name plus one,
/// coloured in Compose's rainbow order when the output is a terminal.
struct LogPresenters {
    let color: Bool
    let prefix: Bool
    var names: [String: String] = [:]
    var colors: [String: String] = [:]
    var order: [String] = []
    static let rainbow = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"]

    init(color: Bool, prefix: Bool) {
        self.color = color
        self.prefix = prefix
    }

    /// Compose's name for a container in logs: without the project for default names.
    static func displayName(_ c: ContainerStatus) -> String {
        let defaultName = "\(c.record.project)-\(c.record.service)-\(c.record.number)"
        return c.record.name == defaultName ? String(c.record.name.dropFirst(c.record.project.count + 1)) : c.record.name
    }

    mutating func register(_ containers: [ContainerStatus]) {
        for c in containers where names[c.record.id] == nil {
            names[c.record.id] = Self.displayName(c)
            colors[c.record.id] = Self.rainbow[order.count % Self.rainbow.count]
            order.append(c.record.id)
        }
    }

    /// `text` in the container's colour (as Compose prints status lines).
    func colorize(_ text: String, for c: ContainerStatus) -> String {
        guard color, let code = colors[c.record.id] else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }

    func prefix(for c: ContainerStatus) -> String {
        guard prefix else { return "" }
        let width = (names.values.map(\.count).max() ?? 0) + 1
        let name = names[c.record.id] ?? Self.displayName(c)
        let text = name + String(repeating: " ", count: max(0, width - name.count)) + " | "
        guard color, let code = colors[c.record.id] else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }
}

/// `--since` / `--until` values: RFC 3339 times, Unix seconds, or Go durations before now.
enum LogTime {
    /// Nanoseconds since the epoch.
    static func parse(_ text: String, now: Int64, flag: String) throws -> Int64 {
        if let t = parseRFC3339Nano(text) { return t }
        if let seconds = Double(text) { return Int64(seconds * 1e9) }
        if let d = GoDuration.nanoseconds(text) { return now - d }
        throw CLIError("invalid value for \"--\(flag)\": \(text)")
    }

    static func parseRFC3339Nano(_ text: String) -> Int64? {
        guard text.count >= 19, text.contains("T") || text.contains("-"), let seconds = Clock.parseRFC3339(text) else { return nil }
        var nanos: Int64 = 0
        if let dot = text.firstIndex(of: ".") {
            var digits = text[text.index(after: dot)...].prefix { $0.isNumber }
            digits = digits.prefix(9)
            nanos = (Int64(digits) ?? 0) * Int64(pow10(9 - digits.count))
        }
        // A "+hh:mm" offset, as RFC 3339 allows.
        var offset = 0
        if let sign = text.dropFirst(19).lastIndex(where: { $0 == "+" || $0 == "-" }) {
            let parts = text[text.index(after: sign)...].split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { offset = (parts[0] * 3600 + parts[1] * 60) * (text[sign] == "+" ? 1 : -1) }
        }
        return Int64(seconds - offset) * 1_000_000_000 + nanos
    }

    static func pow10(_ n: Int) -> Int { (0..<max(0, n)).reduce(1) { r, _ in r * 10 } }
}

/// Go's time.ParseDuration, for the units logs accept.
enum GoDuration {
    static func nanoseconds(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.filter({ rest.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return Int64(total)
    }
}
