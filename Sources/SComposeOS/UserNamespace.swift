// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Whether this process runs in a user namespace other than the host's, as rootless scompose
/// does once it has joined the user's namespaces, and what that changes for overlayfs.
public enum UserNamespace {
    /// Read once per process: a process does not change user namespace after it starts (the
    /// rootless CLI joins the user's before Swift runs).
    public static let isNested: Bool = {
        guard let text = try? Files.read("/proc/self/uid_map") else { return false }
        return !isInitial(uidMap: String(decoding: text, as: UTF8.self))
    }()

    /// Whether `uidMap` (a `/proc/PID/uid_map`) is the host's: every ID mapped to itself.
    public static func isInitial(uidMap: String) -> Bool {
        uidMap.split(whereSeparator: \.isWhitespace) == ["0", "0", "4294967295"]
    }

    /// The prefix of overlayfs's own extended attributes (opaque directories, redirects):
    /// `trusted.overlay.` on the host; in a user namespace, where `trusted.*` takes the host's
    /// root, `user.overlay.`, which overlayfs reads when mounted with `userxattr` (Linux 5.11).
    public static func overlayXattrPrefix(nested: Bool = isNested) -> String {
        nested ? "user.overlay." : "trusted.overlay."
    }
}
