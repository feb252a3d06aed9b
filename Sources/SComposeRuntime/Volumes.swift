// SPDX-License-Identifier: Apache-2.0
import CLinux
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Why a volume could not be made, found, mounted or seeded, in Docker's words.
public struct VolumeError: Error, Sendable, CustomStringConvertible {
    public var description: String

    /// A failure in `description`'s words.
    public init(_ description: String) { self.description = description }
}

/// A volume of the `local` driver, kept as `volume.json` next to its `_data` directory.
public struct VolumeRecord: Sendable, Codable, Equatable {
    /// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    public var name: String
    /// Always `local`: the only driver there is.
    public var driver: String
    /// The volume's labels (Compose's `com.docker.compose.*` among them).
    public var labels: [String: String]
    /// `driver_opts`: `type`, `o`, `device` as Docker's local driver reads them.
    public var options: [String: String]
    /// RFC 3339, as `docker volume inspect` shows it.
    public var createdAt: String
    /// Made for one container (`volumes: [/data]`, an image's `VOLUME`), named by a random hex id.
    public var anonymous: Bool
}

/// The volumes under `$SCOMPOSE_ROOT/volumes/<name>/`.
public struct VolumeStore: Sendable {
    /// `$SCOMPOSE_ROOT/volumes`.
    public let root: String

    /// The store of the state root `stateRoot` (`$SCOMPOSE_ROOT`).
    public init(stateRoot: String) {
        root = stateRoot + "/volumes"
    }

    /// The volume's own directory: its record and its data.
    public func directory(_ name: String) -> String { root + "/" + name }
    /// What containers mount: the volume's content.
    public func dataPath(_ name: String) -> String { root + "/" + name + "/_data" }

    /// Docker's rule for volume names.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.count >= 2 || name.count == 1 else { return false }
        func ok(_ c: Unicode.Scalar, first: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || (!first && (c == "_" || c == "." || c == "-"))
        }
        return ok(first, first: true) && name.unicodeScalars.dropFirst().allSatisfy { ok($0, first: false) }
    }

    /// Every volume, by name.
    public func list() -> [VolumeRecord] {
        // Not the stagings of volumes being made (nor those a killed command left).
        Files.list(root).filter { !$0.hasPrefix(".") }.compactMap { get($0) }.sorted { $0.name < $1.name }
    }

    /// Whether the volume exists (its record is there), without reading the record.
    public func exists(_ name: String) -> Bool {
        access(directory(name) + "/volume.json", F_OK) == 0
    }

    /// The volume's record, nil if there is no such volume.
    public func get(_ name: String) -> VolumeRecord? {
        StateFile.read(VolumeRecord.self, from: directory(name) + "/volume.json")
    }

    /// Creates the volume unless it exists (then returns the existing one, as Docker does).
    @discardableResult
    public func create(
        _ name: String, labels: [String: String] = [:], options: [String: String] = [:], anonymous: Bool = false
    ) throws(VolumeError) -> VolumeRecord {
        guard Self.isValidName(name) else {
            throw VolumeError(
                "invalid volume name \"\(name)\": only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed")
        }
        if let existing = get(name) { return existing }
        try Self.checkOptions(options, name: name)
        let record = VolumeRecord(
            name: name, driver: "local", labels: labels, options: options, createdAt: Clock.rfc3339Now(),
            anonymous: anonymous)
        // Staged and renamed: a volume is either complete or absent. Stagings whose maker
        // is gone (killed half-way) are removed first.
        for entry in Files.list(root) where entry.hasPrefix(".creating-") {
            if let pid = entry.split(separator: "-").last.flatMap({ Int32($0) }), kill(pid, 0) != 0, errno == ESRCH {
                Files.removeTree(root + "/" + entry)
            }
        }
        let stage = root + "/.creating-" + name + "-" + String(getpid())
        do {
            try Files.makeDirectories(stage + "/_data")
            try StateFile.write(record, to: stage + "/volume.json")
        } catch {
            Files.removeTree(stage)
            throw VolumeError("cannot create volume \(name): \(error)")
        }
        if rename(stage, directory(name)) != 0 {
            let err = errno
            Files.removeTree(stage)
            if let existing = get(name) { return existing }  // created meanwhile by another command
            throw VolumeError("cannot create volume \(name): \(String(cString: strerror(err)))")
        }
        return record
    }

    /// The local driver's options we can honour: `type: none, o: bind, device: PATH` and
    /// `type: tmpfs` (with `o` as tmpfs options).
    static func checkOptions(_ options: [String: String], name: String) throws(VolumeError) {
        for key in options.keys where !["type", "o", "device"].contains(key) {
            throw VolumeError("invalid option key: \"\(key)\" for volume \(name)")
        }
        switch options["type"] {
        case nil where options.isEmpty: return
        case "none"?:
            guard options["o"]?.split(separator: ",").contains("bind") == true, let device = options["device"] else {
                throw VolumeError("volume \(name): type \"none\" needs o: bind and a device")
            }
            guard device.hasPrefix("/") else { throw VolumeError("volume \(name): device \"\(device)\" must be an absolute path") }
        case "tmpfs"?: return
        default:
            throw VolumeError(
                "volume \(name): driver_opts type \"\(options["type"] ?? "")\" is not supported (none with o: bind, or tmpfs)")
        }
    }

    /// Removes the volume with its content.
    public func remove(_ name: String) throws(VolumeError) {
        guard get(name) != nil else { throw VolumeError("Error response from daemon: get \(name): no such volume") }
        Files.removeTree(directory(name))
    }

    /// Whether the volume has nothing in it yet (so the image's content seeds it).
    public func isEmpty(_ name: String) -> Bool { Files.list(dataPath(name)).isEmpty }

    /// How a container mounts the volume at `target`.
    public func mount(_ record: VolumeRecord, target: String, readOnly: Bool) throws(VolumeError) -> ContainerConfig.Mount {
        switch record.options["type"] {
        case "none"?:
            let device = record.options["device"] ?? ""
            var st = stat()
            guard stat(device, &st) == 0 else {
                throw VolumeError(
                    "error while mounting volume '\(dataPath(record.name))': failed to mount local volume: no such file or directory: \(device)")
            }
            return ContainerConfig.Mount(kind: .bind, source: device, target: target, readOnly: readOnly)
        case "tmpfs"?:
            var m = ContainerConfig.Mount(kind: .tmpfs, source: "tmpfs", target: target, readOnly: readOnly)
            m.data = record.options["o"]
            return m
        default:
            return ContainerConfig.Mount(kind: .bind, source: dataPath(record.name), target: target, readOnly: readOnly)
        }
    }
}

/// Seeds an empty volume with what the image has at the mount point, with owners and modes,
/// as Docker does on first mount (the postgres image relies on it). The image's layers are
/// assembled read-only on a mount only our descriptor keeps (`Overlay.openDetached`), and the
/// path is resolved inside it (`openat2(RESOLVE_IN_ROOT)`), so a symlink in the image cannot
/// lead the copy out of the image.
public enum VolumeSeed {
    /// Copies what `layers` (lowest first) hold at `path` into the directory `destination`;
    /// the overlay's mount point is made under `scratch`.
    public static func copy(layers: [String], path: String, into destination: String, scratch: String) throws(VolumeError) {
        guard !layers.isEmpty else { return }
        let rootFD: Int32
        do {
            rootFD = try Overlay(layers: layers).openDetached(under: scratch, flags: SC_O_PATH)
        } catch {
            throw VolumeError(error.message(assemble: "cannot assemble the image to seed a volume", open: "cannot open the image"))
        }
        defer { close(rootFD) }
        let source = sc_open_in_root(rootFD, path, O_RDONLY | O_DIRECTORY, 0)
        guard source >= 0 else { return }  // nothing there (or not a directory): nothing to copy
        defer { close(source) }
        let target = open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard target >= 0 else { throw VolumeError("cannot open volume \(destination): \(String(cString: strerror(errno)))") }
        defer { close(target) }
        var st = stat()
        if fstat(source, &st) == 0 {
            // The volume takes the mount point's owner and mode.
            fchown(target, st.st_uid, st.st_gid)
            fchmod(target, st.st_mode & 0o7777)
        }
        do {
            try TreeCopy(owners: .source, updateExistingDirectories: true).copyContents(of: source, into: target)
        } catch {
            throw VolumeError(error.description)
        }
    }
}
