// SPDX-License-Identifier: Apache-2.0

/// A short-syntax volume (`./src:/app:ro`, `data:/var/lib/db`, `/cache`) parsed as Compose does.
struct VolumeSpec: Equatable {
    var type = "volume"
    var source = ""
    var target = ""
    var readOnly = false
    var noCopy = false
    var propagation: String?
    var selinux: String?
    var hasBind = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let propagations: Set<String> = ["rprivate", "private", "rshared", "shared", "rslave", "slave"]

    static func parse(_ spec: String) throws(Failure) -> VolumeSpec {
        var volume = VolumeSpec()
        let chars = Array(spec)
        switch chars.count {
        case 0: throw Failure(description: "invalid empty volume spec")
        case 1, 2:
            volume.target = spec
            return volume
        default: break
        }
        var buffer: [Character] = []
        for c in chars {
            if c == ":" && buffer.count == 1 && buffer[0].isLetter {
                buffer.append(c)  // a Windows drive letter, `c:`
            } else if c == ":" {
                do {
                    try volume.populate(buffer, last: false)
                } catch {
                    throw Failure(description: "invalid spec: \(spec): \(error.description)")
                }
                buffer = []
            } else {
                buffer.append(c)
            }
        }
        do {
            try volume.populate(buffer, last: true)
        } catch {
            throw Failure(description: "invalid spec: \(spec): \(error.description)")
        }
        if Self.isFilePath(volume.source) {
            volume.type = "bind"
            volume.hasBind = true
        }
        return volume
    }

    private mutating func populate(_ buffer: [Character], last: Bool) throws(Failure) {
        let text = String(buffer)
        if buffer.isEmpty { throw Failure(description: "empty section between colons") }
        if source.isEmpty && last {
            target = text
            return
        }
        if source.isEmpty {
            source = text
            return
        }
        if target.isEmpty {
            target = text
            return
        }
        if !last { throw Failure(description: "too many colons") }
        for option in text.split(separator: ",", omittingEmptySubsequences: false) {
            switch option {
            case "ro": readOnly = true
            case "rw": readOnly = false
            case "nocopy": noCopy = true
            case "z", "Z":
                hasBind = true
                selinux = String(option)
            default:
                if Self.propagations.contains(String(option)) {
                    hasBind = true
                    propagation = String(option)
                }
            }
        }
    }

    static func isFilePath(_ source: String) -> Bool {
        guard let first = source.first else { return false }
        if first == "." || first == "/" || first == "~" { return true }
        if source.hasPrefix("\\\\") { return true }
        let chars = Array(source)
        return chars.count > 1 && chars[0].isLetter && chars[1] == ":"
    }

    /// The long syntax, with the keys compose-go's encoding keeps.
    func node(origin: Origin?) -> Node {
        var m = OrderedMap<Node>()
        m["type"] = .string(type)
        if !source.isEmpty { m["source"] = .string(source) }
        if !target.isEmpty { m["target"] = .string(target.isEmpty ? "" : Path.clean(target)) }
        if readOnly { m["read_only"] = .bool(true) }
        if type == "bind" {
            var bind = OrderedMap<Node>()
            if let propagation { bind["propagation"] = .string(propagation) }
            bind["create_host_path"] = .bool(true)
            if let selinux { bind["selinux"] = .string(selinux) }
            m["bind"] = .map(bind)
        } else {
            if hasBind {
                var bind = OrderedMap<Node>()
                if let propagation { bind["propagation"] = .string(propagation) }
                if let selinux { bind["selinux"] = .string(selinux) }
                m["bind"] = .map(bind)
            }
            var vol = OrderedMap<Node>()
            if noCopy { vol["nocopy"] = .bool(true) }
            m["volume"] = .map(vol)
        }
        return Node(.map(m), origin: origin)
    }
}

/// A short-syntax port (`8080:80`, `127.0.0.1:53:53/udp`, `9000-9002:9000-9002`) parsed as Docker does.
struct PortSpec {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Mapping: Equatable {
        var hostIP: String
        var published: String
        var target: Int
        var proto: String
    }

    static func parse(_ raw: String) throws(Failure) -> [Mapping] {
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var ip = ""
        var hostPort = ""
        var containerPort = parts[parts.count - 1]
        switch parts.count {
        case 1: break
        case 2: hostPort = parts[0]
        case 3:
            ip = parts[0]
            hostPort = parts[1]
        default:
            ip = parts[0..<(parts.count - 2)].joined(separator: ":")
            hostPort = parts[parts.count - 2]
        }
        var proto = "tcp"
        let protoParts = containerPort.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if containerPort.isEmpty || protoParts[0].isEmpty {
            containerPort = ""
            proto = ""
        } else if protoParts.count > 1 && !protoParts[1].isEmpty {
            proto = protoParts[1]
            containerPort = protoParts[0]
        } else {
            containerPort = protoParts[0]
        }
        if ip.hasPrefix("[") {
            guard ip.hasSuffix("]") else { throw Failure(description: "invalid IP address \(ip)") }
            ip = String(ip.dropFirst().dropLast())
        }
        if !ip.isEmpty && !IPAddress.isValid(ip) {
            throw Failure(description: "invalid IP address: \(ip)")
        }
        if containerPort.isEmpty { throw Failure(description: "no port specified: \(raw)<empty>") }
        guard let (start, end) = range(containerPort) else {
            throw Failure(description: "invalid containerPort: \(containerPort)")
        }
        var hostStart = 0
        var hostEnd = 0
        if !hostPort.isEmpty {
            guard let r = range(hostPort) else { throw Failure(description: "invalid hostPort: \(hostPort)") }
            (hostStart, hostEnd) = r
        }
        if !hostPort.isEmpty && (end - start) != (hostEnd - hostStart) && end != start {
            throw Failure(
                description: "invalid ranges specified for container and host Ports: \(containerPort) and \(hostPort)")
        }
        let lower = proto.lowercased()
        guard ["tcp", "udp", "sctp"].contains(lower) else { throw Failure(description: "invalid proto: \(proto)") }
        var out: [Mapping] = []
        for i in 0...(end - start) {
            var published = hostPort
            if !hostPort.isEmpty { published = String(hostStart + i) }
            if start == end && hostStart != hostEnd { published = "\(published)-\(hostEnd)" }
            out.append(Mapping(hostIP: ip, published: published, target: start + i, proto: lower))
        }
        // Docker orders the ports as the strings "port/proto" sort.
        return out.sorted { "\($0.target)/\($0.proto)" < "\($1.target)/\($1.proto)" }
    }

    private static func range(_ text: String) -> (Int, Int)? {
        if !text.contains("-") {
            guard let v = UInt16(text) else { return nil }
            return (Int(v), Int(v))
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2, let s = UInt16(parts[0]), let e = UInt16(parts[1]), e >= s else { return nil }
        return (Int(s), Int(e))
    }
}

/// IP address syntax checks (Go's `net.ParseIP`).
enum IPAddress {
    static func isValid(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber), let v = Int(p), v <= 255
            else { return false }
            if p.count > 1 && p.hasPrefix("0") { return false }
        }
        return true
    }

    static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":") else { return false }
        var text = Substring(s)
        var groupsAllowed = 8
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard isIPv4(String(text[text.index(after: lastColon)...])) else { return false }
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
            groupsAllowed = 6
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        func groups(_ h: Substring) -> [Substring]? {
            if h.isEmpty { return [] }
            let g = h.split(separator: ":", omittingEmptySubsequences: false)
            for x in g where x.isEmpty || x.count > 4 || !x.allSatisfy(\.isHexDigit) { return nil }
            return g
        }
        guard let a = groups(halves[0]) else { return false }
        if halves.count == 2 {
            guard let b = groups(halves[1]) else { return false }
            return a.count + b.count < groupsAllowed
        }
        return a.count == groupsAllowed
    }
}

extension Substring {
    fileprivate func components(separatedBy sep: String) -> [Substring] {
        var out: [Substring] = []
        var rest = self
        while let r = rest.firstRange(of: sep) {
            out.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        out.append(rest)
        return out
    }
}
