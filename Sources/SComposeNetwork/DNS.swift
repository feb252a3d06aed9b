// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink

#if canImport(Glibc)
import Glibc
#endif

/// Docker's embedded DNS, one per container, run by its shim: a server on 127.0.0.11:53 (UDP
/// and TCP) inside the container's network namespace answers A and AAAA questions for the
/// names of the containers on its networks (service names, with every replica; container
/// names; aliases) from the endpoint files, read again whenever they change; other questions
/// go to the host's resolvers from sockets in the host's namespace, so they work even from
/// internal networks.
public final class DNSResponder {
    public let server: Int32
    public let upstream: Int32
    let store: NetworkStore
    let networks: [String]
    let resolvers: [sockaddr_in]
    /// Per lower-cased name: its IPv4 and IPv6 addresses.
    var names: [String: (v4: [IPv4], v6: [IPv6])] = [:]
    var stamps: [String: Int] = [:]
    var pending: [UInt16: (client: sockaddr_in, id: UInt16, deadline: Int)] = [:]
    var nextID: UInt16 = UInt16.random(in: 1...UInt16.max)

    /// TCP (clients retry there when a UDP answer is truncated): the listening socket, in the
    /// container's namespace (-1: none), its clients, and a connection to a resolver per
    /// forwarded question, made from the host's namespace.
    public let tcpServer: Int32
    var tcpClients: [Int32: (buffer: [UInt8], deadline: Int)] = [:]
    var tcpUpstreams: [Int32: (client: Int32, query: [UInt8], connected: Bool, buffer: [UInt8], deadline: Int)] = [:]
    static let tcpClientLimit = 32

    /// `server` (and `tcpServer`) are bound in the container's namespace; the upstream sockets
    /// are made here (the host's).
    public init(server: Int32, tcpServer: Int32 = -1, store: NetworkStore, networks: [String], resolvers: [String]) {
        self.server = server
        self.tcpServer = tcpServer
        self.store = store
        self.networks = networks
        self.resolvers = resolvers.compactMap { text in
            guard let a = IPv4(text) else { return nil }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(53).bigEndian
            addr.sin_addr.s_addr = a.value.bigEndian
            return addr
        }
        upstream = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    }

    deinit {
        close(server)
        if upstream >= 0 { close(upstream) }
        if tcpServer >= 0 { close(tcpServer) }
        for fd in tcpClients.keys { close(fd) }
        for fd in tcpUpstreams.keys { close(fd) }
    }

    /// The nameservers of the host's resolv.conf (all of them: we ask from the host's namespace).
    public static func hostResolvers(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return f.count >= 2 && f[0] == "nameserver" && IPv4(String(f[1])) != nil ? String(f[1]) : nil
        }
    }

    /// A UDP socket (or, with `tcp`, a listening TCP socket) bound to 127.0.0.11:53 in the
    /// current network namespace.
    public static func bindServer(tcp: Bool = false) -> Int32 {
        let kind = tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue
        let fd = socket(AF_INET, Int32(kind) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var yes: Int32 = 1
        if tcp { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(53).bigEndian
        addr.sin_addr.s_addr = IPv4(127 << 24 | 11).value.bigEndian
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 || (tcp && listen(fd, 16) != 0) {
            close(fd)
            return -1
        }
        return fd
    }

    /// What the shim polls for this server: the sockets and the events wanted on each. Drops
    /// TCP connections idle past their deadline first.
    public func pollDescriptors() -> [(fd: Int32, events: Int16)] {
        let now = Self.now()
        for (fd, c) in tcpClients where c.deadline <= now { dropClient(fd) }
        for (fd, u) in tcpUpstreams where u.deadline <= now {
            close(fd)
            tcpUpstreams[fd] = nil
        }
        var out: [(Int32, Int16)] = [(server, Int16(POLLIN))]
        if upstream >= 0 { out.append((upstream, Int16(POLLIN))) }
        if tcpServer >= 0 { out.append((tcpServer, Int16(POLLIN))) }
        for fd in tcpClients.keys { out.append((fd, Int16(POLLIN))) }
        for (fd, u) in tcpUpstreams { out.append((fd, Int16(u.connected ? POLLIN : POLLOUT))) }
        return out
    }

    /// Serves what poll found on `fd`; false when `fd` is none of ours.
    public func handle(_ fd: Int32, revents: Int16) -> Bool {
        if fd == server {
            handleQuery()
        } else if fd == upstream {
            handleUpstream()
        } else if fd == tcpServer {
            acceptClient()
        } else if tcpClients[fd] != nil {
            readClient(fd)
        } else if tcpUpstreams[fd] != nil {
            serveUpstream(fd, revents: revents)
        } else {
            return false
        }
        return true
    }

    func acceptClient() {
        let fd = accept(tcpServer, nil, nil)
        guard fd >= 0 else { return }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        guard tcpClients.count < Self.tcpClientLimit else {
            close(fd)
            return
        }
        tcpClients[fd] = ([], Self.now() + 10)
    }

    func dropClient(_ fd: Int32) {
        close(fd)
        tcpClients[fd] = nil
        // A question still out for it has no one to go back to.
        for (u, entry) in tcpUpstreams where entry.client == fd {
            close(u)
            tcpUpstreams[u] = nil
        }
    }

    /// Reads a TCP client's bytes; each whole question (two bytes of length, then the message)
    /// is answered here or sent on to a resolver.
    func readClient(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &chunk, chunk.count)
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0, var client = tcpClients[fd] else {
            dropClient(fd)
            return
        }
        client.buffer += chunk[0..<n]
        client.deadline = Self.now() + 10
        tcpClients[fd] = client
        while let c = tcpClients[fd], c.buffer.count >= 2 {
            let length = Int(c.buffer[0]) << 8 | Int(c.buffer[1])
            guard c.buffer.count >= 2 + length else { break }
            let query = Array(c.buffer[2..<(2 + length)])
            tcpClients[fd]?.buffer.removeFirst(2 + length)
            guard query.count >= 12 else {
                dropClient(fd)
                return
            }
            if let answer = localAnswer(query) {
                reply(answer, toClient: fd)
            } else {
                forwardTCP(query, from: fd)
            }
        }
    }

    /// Writes a length-prefixed message to a TCP client (a client that cannot take it is dropped).
    func reply(_ message: [UInt8], toClient fd: Int32) {
        var out = [UInt8(message.count >> 8 & 0xff), UInt8(message.count & 0xff)] + message
        while !out.isEmpty {
            let n = out.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                dropClient(fd)
                return
            }
            out.removeFirst(n)
        }
    }

    /// A question asked over TCP goes to a resolver over TCP: what made the client ask this way
    /// is an answer too long for UDP.
    func forwardTCP(_ query: [UInt8], from client: Int32) {
        guard !resolvers.isEmpty else {
            reply(Self.failure(query, rcode: 2), toClient: client)
            return
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            reply(Self.failure(query, rcode: 2), toClient: client)
            return
        }
        var resolver = resolvers[Int.random(in: 0..<resolvers.count)]
        let r = withUnsafePointer(to: &resolver) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard r == 0 || errno == EINPROGRESS else {
            close(fd)
            reply(Self.failure(query, rcode: 2), toClient: client)
            return
        }
        let framed = [UInt8(query.count >> 8 & 0xff), UInt8(query.count & 0xff)] + query
        tcpUpstreams[fd] = (client, framed, false, [], Self.now() + 10)
    }

    /// A resolver connection: once connected the question goes out; once its whole answer is
    /// in, it goes to the client and the connection is closed.
    func serveUpstream(_ fd: Int32, revents: Int16) {
        guard var u = tcpUpstreams[fd] else { return }
        func fail() {
            close(fd)
            tcpUpstreams[fd] = nil
            if tcpClients[u.client] != nil { reply(Self.failure(Array(u.query.dropFirst(2)), rcode: 2), toClient: u.client) }
        }
        if !u.connected {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0, revents & Int16(POLLERR | POLLHUP) == 0 else {
                fail()
                return
            }
            // Small enough for one write on a fresh connection.
            let n = u.query.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == u.query.count else {
                fail()
                return
            }
            u.connected = true
            tcpUpstreams[fd] = u
            return
        }
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = read(fd, &chunk, chunk.count)
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else {
            fail()
            return
        }
        u.buffer += chunk[0..<n]
        tcpUpstreams[fd] = u
        guard u.buffer.count >= 2 else { return }
        let length = Int(u.buffer[0]) << 8 | Int(u.buffer[1])
        guard u.buffer.count >= 2 + length else { return }
        close(fd)
        tcpUpstreams[fd] = nil
        if tcpClients[u.client] != nil { reply(Array(u.buffer[2..<(2 + length)]), toClient: u.client) }
    }

    func refresh() {
        var changed = false
        for n in networks {
            var st = stat()
            let stamp = stat(store.endpointsDirectory(n), &st) == 0 ? Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec) : 0
            if stamps[n] != stamp {
                stamps[n] = stamp
                changed = true
            }
        }
        guard changed || names.isEmpty else { return }
        var table: [String: (v4: Set<IPv4>, v6: Set<IPv6>)] = [:]
        for n in networks {
            for e in store.endpoints(n) {
                for name in e.names where !name.isEmpty {
                    let key = name.lowercased()
                    table[key, default: ([], [])].v4.insert(e.address)
                    if let a6 = e.address6 { table[key, default: ([], [])].v6.insert(a6) }
                }
            }
        }
        names = table.mapValues { ($0.v4.sorted(), $0.v6.sorted()) }
    }

    static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec)
    }

    /// Serves what is waiting on the server socket.
    func handleQuery() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var client = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &client) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(server, &buffer, buffer.count, 0, $0, &length) }
        }
        guard n >= 12 else { return }
        let query = Array(buffer[0..<n])
        if let answer = localAnswer(query) {
            // Over UDP, at most 512 bytes: a longer answer (many replicas) goes out empty with
            // TC set, and the client asks again over TCP.
            send(answer.count > 512 ? Self.truncated(query) : answer, to: client)
        } else if Self.question(query) != nil {
            forward(query, from: client)
        }
    }

    /// The answer to a question about a name of ours; nil for other names (and for what is not
    /// a question).
    func localAnswer(_ query: [UInt8]) -> [UInt8]? {
        guard let question = Self.question(query) else { return nil }
        refresh()
        guard let known = names[question.name.lowercased()] else { return nil }
        // A (1), AAAA (28), ANY (255); other types of a known name: an empty answer.
        let v4 = question.type == 1 || question.type == 255 ? known.v4 : []
        let v6 = question.type == 28 || question.type == 255 ? known.v6 : []
        return Self.answer(query, questionEnd: question.end, addresses: v4, addresses6: v6)
    }

    func send(_ bytes: [UInt8], to client: sockaddr_in) {
        var c = client
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &c) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(server, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    func forward(_ query: [UInt8], from client: sockaddr_in) {
        let now = Self.now()
        pending = pending.filter { $0.value.deadline > now }
        guard upstream >= 0, !resolvers.isEmpty else {
            send(Self.failure(query, rcode: 2), to: client)
            return
        }
        nextID &+= 1
        if nextID == 0 { nextID = 1 }
        let id = nextID
        let original = UInt16(query[0]) << 8 | UInt16(query[1])
        pending[id] = (client, original, now + 10)
        var out = query
        out[0] = UInt8(id >> 8)
        out[1] = UInt8(id & 0xff)
        var resolver = resolvers[Int(id) % resolvers.count]
        _ = out.withUnsafeBytes { b in
            withUnsafePointer(to: &resolver) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(upstream, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// Relays an upstream answer back to whoever asked.
    func handleUpstream() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(upstream, &buffer, buffer.count, 0)
        guard n >= 12 else { return }
        let id = UInt16(buffer[0]) << 8 | UInt16(buffer[1])
        guard let entry = pending.removeValue(forKey: id) else { return }
        var reply = Array(buffer[0..<n])
        reply[0] = UInt8(entry.id >> 8)
        reply[1] = UInt8(entry.id & 0xff)
        send(reply, to: entry.client)
    }

    /// The question's name, type and where it ends.
    public static func question(_ q: [UInt8]) -> (name: String, type: UInt16, end: Int)? {
        guard q.count >= 12, q[4] == 0, q[5] == 1 else { return nil }
        var i = 12
        var labels: [String] = []
        while i < q.count {
            let length = Int(q[i])
            if length == 0 {
                i += 1
                break
            }
            guard length < 64, i + 1 + length <= q.count else { return nil }
            labels.append(String(decoding: q[(i + 1)..<(i + 1 + length)], as: UTF8.self))
            i += 1 + length
        }
        guard i + 4 <= q.count else { return nil }
        let type = UInt16(q[i]) << 8 | UInt16(q[i + 1])
        return (labels.joined(separator: "."), type, i + 4)
    }

    /// A response with A records for `addresses` and AAAA records for `addresses6` (none: an
    /// empty NOERROR answer); each lives 600 seconds.
    public static func answer(_ q: [UInt8], questionEnd: Int, addresses: [IPv4], addresses6: [IPv6] = []) -> [UInt8] {
        let count = addresses.count + addresses6.count
        var out = Array(q[0..<2])
        out += [0x81 | (q[2] & 0x01), 0x80, 0, 1, UInt8(count >> 8), UInt8(count & 0xff), 0, 0, 0, 0]
        out += q[12..<questionEnd]
        for a in addresses {
            out += [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4] + a.bytes
        }
        for a in addresses6 {
            out += [0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0x02, 0x58, 0, 16] + a.bytes
        }
        return out
    }

    /// An empty response with TC (truncated) set.
    static func truncated(_ q: [UInt8]) -> [UInt8] {
        var out = failure(q, rcode: 0)
        out[2] |= 0x02
        return out
    }

    /// A response with only an error code (2: SERVFAIL).
    static func failure(_ q: [UInt8], rcode: UInt8) -> [UInt8] {
        guard let question = question(q) else { return Array(q.prefix(12)) }
        var out = Array(q[0..<2])
        out += [0x81 | (q[2] & 0x01), 0x80 | rcode, 0, 1, 0, 0, 0, 0, 0, 0]
        out += q[12..<question.end]
        return out
    }
}
