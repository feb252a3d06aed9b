// SPDX-License-Identifier: Apache-2.0
import SComposeOS

/// A user or group the image does not know.
public struct UserLookupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Users and groups resolved from the image's /etc/passwd and /etc/group, in the parent:
/// nothing is looked up after pivot_root.
public enum ImageUsers {
    static func file(_ name: String, _ layers: [String]) -> String {
        for layer in layers.reversed() {
            if let bytes = try? Files.read(layer + name) { return String(decoding: bytes, as: UTF8.self) }
        }
        return ""
    }

    /// uid, gid and supplementary groups of `user` (`name`, `uid`, `name:group`, `uid:gid`).
    public static func resolve(_ user: String, groupAdd: [String], layers: [String]) throws(UserLookupError) -> (UInt32, UInt32, [UInt32]) {
        let passwd = file("/etc/passwd", layers)
        let group = file("/etc/group", layers)
        func lookupGroup(_ g: String) -> UInt32? {
            if let n = UInt32(g) { return n }
            for line in group.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count >= 3, f[0] == g { return UInt32(f[2]) }
            }
            return nil
        }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var userName: String?
        if let u = parts.first, !u.isEmpty {
            if let n = UInt32(u) {
                uid = n
                for line in passwd.split(separator: "\n") {
                    let f = line.split(separator: ":", omittingEmptySubsequences: false)
                    if f.count >= 4, UInt32(f[2]) == n {
                        gid = UInt32(f[3]) ?? 0
                        userName = String(f[0])
                    }
                }
            } else {
                guard
                    let line = passwd.split(separator: "\n").first(where: {
                        $0.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init) == u
                    })
                else {
                    throw UserLookupError("unable to find user \(u): no matching entries in passwd file")
                }
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                uid = f.count > 2 ? UInt32(f[2]) ?? 0 : 0
                gid = f.count > 3 ? UInt32(f[3]) ?? 0 : 0
                userName = u
            }
        } else {
            userName = "root"
        }
        if parts.count == 2 {
            guard let g = lookupGroup(parts[1]) else { throw UserLookupError("unable to find group \(parts[1])") }
            gid = g
        }
        var groups: [UInt32] = []
        if let userName {
            for line in group.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count >= 4, f[3].split(separator: ",").contains(where: { $0 == userName }), let g = UInt32(f[2]) {
                    groups.append(g)
                }
            }
        }
        for g in groupAdd {
            guard let n = lookupGroup(g) else { throw UserLookupError("unable to find group \(g)") }
            groups.append(n)
        }
        return (uid, gid, groups)
    }
}
