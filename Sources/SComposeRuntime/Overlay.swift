// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// An overlayfs file system: image layers and, for a writable one, an upper and a work
/// directory. The one place that writes overlayfs's mount options, for containers (through
/// their init plan) and for the file systems that builds, `cp`, `commit`, `export` and volume
/// seeds read and write from outside a container.
public struct Overlay: Sendable, Equatable {
    /// Lowest first, as an image lists its layers.
    public var layers: [String]
    /// Where writes go; nil for a read-only file system.
    public var upper: String?
    /// overlayfs's scratch directory, on the upper directory's file system.
    public var work: String?

    /// Read-only without `upper`; a writable one needs `work` too.
    public init(layers: [String], upper: String? = nil, work: String? = nil) {
        self.layers = layers
        self.upper = upper
        self.work = work
    }

    /// Mounted in a user namespace (rootless): overlayfs keeps its attributes (opaque
    /// directories) in `user.overlay.*`, as the layers were unpacked there.
    public var userXattr = UserNamespace.isNested

    /// The mount data: `lowerdir` with the top layer first (overlayfs's order), then
    /// `upperdir` and `workdir` when writable, and `userxattr` in a user namespace.
    public var options: String {
        var out = "lowerdir=" + layers.reversed().map(Self.escape).joined(separator: ":")
        if let upper { out += ",upperdir=" + Self.escape(upper) }
        if let work { out += ",workdir=" + Self.escape(work) }
        if userXattr { out += ",userxattr" }
        return out
    }

    /// overlayfs splits its options at `,` and the lower layers at `:`, then takes `\` as an
    /// escape in every path: a path holding any of the three is escaped so that it stays one path.
    public static func escape(_ path: String) -> String {
        // By scalar: the kernel sees bytes, and a combining mark after `:` would hide it in a Character.
        let special: Set<Unicode.Scalar> = ["\\", ":", ","]
        guard path.unicodeScalars.contains(where: special.contains) else { return path }
        var out = String.UnicodeScalarView()
        for c in path.unicodeScalars {
            if special.contains(c) { out.append("\\") }
            out.append(c)
        }
        return String(out)
    }

    /// The longest mount data `mount(2)` takes whole: it copies one page and ends the string at
    /// the page's last byte, so longer options would lose their end (layers, or the work directory).
    public static let optionsLimit = Int(sysconf(Int32(_SC_PAGESIZE))) - 1

    /// `options`, or an error if they are longer than `limit` (they would be cut short).
    public func checkedOptions(limit: Int = Overlay.optionsLimit) throws(OverlayError) -> String {
        let text = options
        let length = text.utf8.count
        guard length <= limit else {
            throw OverlayError(
                step: .assemble,
                reason: "its \(layers.count) layers make \(length) bytes of mount options, more than the kernel's \(limit)")
        }
        return text
    }

    /// Opens the file system's root (`open(2)` `flags`, with `O_DIRECTORY | O_CLOEXEC`) on a mount
    /// that only the returned descriptor keeps: mounted on a fresh directory under `scratch`,
    /// opened, and detached at once, so nothing stays mounted if we die, and nobody else can
    /// reach it by path. One lower layer without an upper one, or an upper one without lower
    /// layers, is that directory itself (overlayfs wants two directories at least).
    public func openDetached(under scratch: String, flags: Int32) throws(OverlayError) -> Int32 {
        if (upper == nil && layers.count <= 1) || layers.isEmpty {
            guard let only = layers.first ?? upper else { throw OverlayError(step: .open, errno: ENOENT) }
            let fd = open(only, flags | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw OverlayError(step: .open, errno: errno) }
            return fd
        }
        let data = try checkedOptions()
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let mountPoint = scratch + "/overlay-" + String(repeating: "0", count: 16 - hex.count) + hex
        do {
            try Files.makeDirectories(mountPoint)
        } catch {
            throw OverlayError(step: .assemble, reason: error.description)
        }
        defer { rmdir(mountPoint) }
        guard sc_mount("overlay", mountPoint, "overlay", upper == nil ? UInt(MS_RDONLY) : 0, data) == 0 else {
            throw OverlayError(step: .assemble, errno: errno)
        }
        let fd = open(mountPoint, flags | O_DIRECTORY | O_CLOEXEC)
        let openErrno = errno
        // Lazily: the descriptor keeps the file system until it is closed.
        _ = sc_umount_detach(mountPoint)
        guard fd >= 0 else { throw OverlayError(step: .open, errno: openErrno) }
        return fd
    }
}

/// Why an overlay could not be mounted (`assemble`) or its root opened (`open`).
public struct OverlayError: Error, Sendable, CustomStringConvertible {
    /// Mounting (options included) or opening the mounted root.
    public enum Step: Sendable { case assemble, open }
    /// Where it failed.
    public var step: Step
    /// The system's words for the failure, or what was wrong with the options.
    public var reason: String

    /// A failure in `reason`'s words.
    public init(step: Step, reason: String) {
        self.step = step
        self.reason = reason
    }

    /// A failed system call, in the system's words for `errno`.
    public init(step: Step, errno: Int32) {
        self.init(step: step, reason: String(cString: strerror(errno)))
    }

    /// The message with the caller's own words for each step: "`assemble`: reason".
    public func message(assemble: String, open: String) -> String {
        (step == .assemble ? assemble : open) + ": " + reason
    }

    public var description: String { message(assemble: "cannot assemble the overlay", open: "cannot open the overlay") }
}
