// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// AppArmor where the host has it enabled (Debian, Ubuntu): containers run under
/// `scompose-default`, a profile with the effect of Docker's `docker-default`, unless their
/// `security_opt` names another loaded profile or `unconfined`. The profile is compiled and
/// loaded by `apparmor_parser` (the only compiler of the kernel's policy format) once per
/// boot; the container's init plan asks the kernel to confine the program at its execve.
public enum AppArmor {
    /// The profile containers get by default.
    public static let defaultProfile = "scompose-default"

    /// Why a profile cannot be used.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Whether the running kernel enforces AppArmor (`/sys/module/apparmor/parameters/enabled`
    /// says `Y` and its file system is there).
    public static func isEnabled(sys: String = "/sys") -> Bool {
        guard let text = try? Files.read(sys + "/module/apparmor/parameters/enabled"), text.first == UInt8(ascii: "Y")
        else { return false }
        return access(sys + "/kernel/security/apparmor/profiles", R_OK) == 0
    }

    /// The names of the profiles the kernel has loaded, from the text of
    /// `/sys/kernel/security/apparmor/profiles` (`name (enforce)` per line).
    static func loadedProfiles(_ text: String) -> Set<String> {
        var out = Set<String>()
        for line in text.split(separator: "\n") {
            guard let open = line.lastIndex(of: "(") else { continue }
            var name = line[..<open]
            while name.last == " " { name = name.dropLast() }
            if !name.isEmpty { out.insert(String(name)) }
        }
        return out
    }

    /// Whether `name` is loaded in the kernel.
    public static func isLoaded(_ name: String, sys: String = "/sys") -> Bool {
        guard let bytes = try? Files.read(sys + "/kernel/security/apparmor/profiles") else { return false }
        return loadedProfiles(String(decoding: bytes, as: UTF8.self)).contains(name)
    }

    /// The profile a container runs under: nil where AppArmor is off, for `unconfined` and for
    /// privileged containers (as Docker); else the named one, which must be loaded, or ours,
    /// loaded here if it is not yet.
    public static func profile(requested: String?, privileged: Bool) throws(Failure) -> String? {
        guard isEnabled() else { return nil }
        if requested == "unconfined" || (privileged && requested == nil) { return nil }
        if let requested {
            guard isLoaded(requested) else {
                throw Failure(description: "AppArmor profile \"\(requested)\" is not loaded (load it with apparmor_parser)")
            }
            return requested
        }
        if !isLoaded(defaultProfile) { try load(defaultProfileText) }
        return defaultProfile
    }

    /// Compiles and loads (or replaces) a profile through `apparmor_parser`.
    static func load(_ text: String) throws(Failure) {
        let candidates = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser", "/usr/bin/apparmor_parser"]
        guard let parser = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw Failure(
                description: "AppArmor is enabled but apparmor_parser is missing to load the \(defaultProfile) profile: install Debian's apparmor package")
        }
        let result: Subprocess.Result
        do {
            // -K: do not write the kernel's cache of compiled profiles; -r: load or replace.
            result = try Subprocess.run([parser, "-K", "-r"], input: Array(text.utf8))
        } catch {
            throw Failure(description: "apparmor_parser: \(error)")
        }
        guard result.status == 0 else {
            let message = String(decoding: result.output, as: UTF8.self).trimmingNewlines()
            throw Failure(description: "apparmor_parser could not load \(defaultProfile) (exit \(result.status)): \(message)")
        }
    }

    /// `scompose-default`: what Docker's `docker-default` allows and refuses, written for
    /// scompose. Everything is allowed but mounts, writes to the kernel's /proc and /sys files
    /// (a process's own /proc files and the container's cgroup stay writable), reading the
    /// kernel's memory and firmware, and signals or ptrace from other profiles.
    public static let defaultProfileText = """
        #include <tunables/global>

        profile \(defaultProfile) flags=(attach_disconnected,mediate_deleted) {
          #include <abstractions/base>

          network,
          capability,
          file,
          umount,

          # Signals and tracing stay among the container's processes (and the host's unconfined ones).
          signal (receive) peer=unconfined,
          signal (send,receive) peer=\(defaultProfile),
          ptrace (trace,read,tracedby,readby) peer=\(defaultProfile),

          # Nothing mounted from inside.
          deny mount,

          # /proc: no writes but to a process's own files and kernel.shm*; never sysrq or kcore.
          deny @{PROC}/* w,
          deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
          deny @{PROC}/sys/[^k]** w,
          deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
          deny @{PROC}/sysrq-trigger rwklx,
          deny @{PROC}/kcore rwklx,

          # /sys: read-only but for cgroups; firmware, power capping and LSM files not even read.
          deny /sys/[^f]*/** wklx,
          deny /sys/f[^s]*/** wklx,
          deny /sys/fs/[^c]*/** wklx,
          deny /sys/fs/c[^g]*/** wklx,
          deny /sys/fs/cg[^r]*/** wklx,
          deny /sys/firmware/** rwklx,
          deny /sys/devices/virtual/powercap/** rwklx,
          deny /sys/kernel/security/** rwklx,
        }

        """
}
