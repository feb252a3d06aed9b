// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Unix-domain socket addresses.
public enum UnixSocket {
    /// `sockaddr_un` for `path` (cut at `sun_path`'s 108 bytes, NUL included: callers keep
    /// their paths short, through `/proc/self/fd/<dirfd>/` where needed).
    public static func address(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        return addr
    }
}
