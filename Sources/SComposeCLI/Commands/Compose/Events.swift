// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", _superCommandName: "scompose", abstract: "Receive real time events from containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Output events as a stream of json objects")
    var json = false

    @Option(name: .long, help: "Show all events created since timestamp (RFC 3339, or relative like 10m)")
    var since: String?

    @Option(name: .long, help: "Stream events until this timestamp (RFC 3339, or relative like 10m)")
    var until: String?

    @Argument var services: [String] = []

    func run() throws {
        let project = try ProjectContext.name(global)
        let engine = ProjectContext.engine()
        let path = engine.eventLog(project: project)
        let now = Clock.nowNanoseconds()
        let since = try self.since.map { try LogTime.parse($0, now: now, flag: "since") }
        let until = try self.until.map { try LogTime.parse($0, now: now, flag: "until") }
        try? Files.makeDirectories(StateRoot.path + "/projects")
        var fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Past events only when asked for with --since (the rotated log first); otherwise from
        // now on, as Compose.
        var files = [fd]
        if since != nil {
            let older = open(path + ".1", O_RDONLY | O_CLOEXEC)
            if older >= 0 { files.insert(older, at: 0) }
        } else {
            lseek(fd, 0, SEEK_END)
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(files[0], &buffer, buffer.count)
            if n > 0 {
                pending += buffer[0..<n]
                while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(pending[..<end])
                    pending.removeFirst(end + 1)
                    guard let event = try? StateJSONDecoder().decode(ContainerEvent.self, from: line) else { continue }
                    let at = LogTime.parseRFC3339Nano(event.time) ?? 0
                    if let since, at < since { continue }
                    if let until, at > until { return }
                    if !services.isEmpty && !services.contains(event.service) { continue }
                    Console.out(json ? Self.json(event) : Self.text(event))
                }
                continue
            }
            if files.count > 1 {
                close(files.removeFirst())
                pending = []
                continue
            }
            // The log was rotated under us: the rest is in the new one, from its start.
            var held = stat()
            var named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino != named.st_ino {
                let next = open(path, O_RDONLY | O_CLOEXEC)
                if next >= 0 {
                    close(fd)
                    fd = next
                    files = [fd]
                    pending = []
                    continue
                }
            }
            if let until, Clock.nowNanoseconds() > until { return }
            usleep(50_000)
        }
    }

    /// As Compose's `--json`: time, type, service, id, action, attributes.
    static func json(_ e: ContainerEvent) -> String {
        func q(_ s: String) -> String { JSONText.quote(s) }
        let attributes = e.attributes.sorted { $0.key < $1.key }.map { "\(q($0.key)):\(q($0.value))" }.joined(separator: ",")
        return "{\"action\":\(q(e.action)),\"attributes\":{\(attributes)},\"id\":\(q(e.id)),\"service\":\(q(e.service)),\"time\":\(q(e.time)),\"type\":\"container\"}\n"
    }

    /// As Compose's text: `2006-01-02 15:04:05.000000 container ACTION ID (k=v, …)`.
    static func text(_ e: ContainerEvent) -> String {
        var stamp = String(e.time.map { $0 == "T" ? " " : $0 }.filter { $0 != "Z" })
        if let dot = stamp.firstIndex(of: ".") {
            let fraction = stamp[stamp.index(after: dot)...]
            stamp = String(stamp[..<dot]) + "." + String((fraction + "000000").prefix(6))
        } else {
            stamp += ".000000"
        }
        let attributes = e.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "\(stamp) container \(e.action) \(e.id) (\(attributes))\n"
    }
}
