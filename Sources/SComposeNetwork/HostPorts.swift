// SPDX-License-Identifier: Apache-2.0
import SComposeNetlink

#if canImport(Glibc)
import Glibc
#endif

/// The host's ports, probed by binding them: what is free now (the shim holds the ones
/// published for as long as their container lives).
public enum HostPorts {
    /// Whether `port` can be bound now on `ip` (every address when nil) for `proto`.
    public static func isFree(_ port: UInt16, proto: String, ip: String?) -> Bool {
        let fd = socket(AF_INET, kind(proto) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = (ip.flatMap(IPv4.init) ?? IPv4(0)).value.bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The first port of `range` that `isFree`.
    public static func firstFree(in range: ClosedRange<UInt16>, proto: String, ip: String?) -> UInt16? {
        range.first { isFree($0, proto: proto, ip: ip) }
    }

    /// A port the kernel considers free now (its ephemeral choice); 0 when it gives none.
    public static func ephemeral(proto: String) -> UInt16 {
        let fd = socket(AF_INET, kind(proto) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    private static func kind(_ proto: String) -> Int32 {
        Int32(proto == "udp" ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue)
    }
}
