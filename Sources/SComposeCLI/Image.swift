// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import FoundationEssentials
import SComposeLoader
import SComposeOCI

#if canImport(Glibc)
import Glibc
#endif

/// Where scompose keeps its state: `SCOMPOSE_ROOT`, else `/var/lib/scompose`.
enum StateRoot {
    static var path: String {
        let env = Console.environment()
        if let root = env["SCOMPOSE_ROOT"], !root.isEmpty { return root }
        return "/var/lib/scompose"
    }

    static func images() throws -> ImageStore {
        do {
            return try ImageStore(root: path)
        } catch {
            throw CLIError("cannot open the image store at \(path): \(error)")
        }
    }
}

/// `scompose image …`: the local image store, with `docker image`'s verbs and output.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", _superCommandName: "scompose", abstract: "Manage images",
        subcommands: [
            ImageImport.self, ImageLoad.self, ImageSave.self, ImageList.self, ImageInspect.self, ImageTag.self,
            ImageRemove.self, ImageHistory.self, ImagePrune.self, ImagePull.self, ImagePush.self,
        ])
}

struct ImageImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import the contents from a tarball to create a filesystem image")

    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image")
    var change: [String] = []

    @Option(name: [.short, .long], help: "Set commit message for imported image")
    var message: String?

    @Option(name: .long, help: "Set platform of the image (os/arch[/variant]; the host's by default)")
    var platform: String?

    @Argument(help: "A tar file (plain, gzip or zstd) or - for standard input")
    var file: String

    @Argument(help: "The reference to give the image (e.g. myimage:1)")
    var reference: String?

    func run() throws {
        let store = try StateRoot.images()
        let ref: ImageReference?
        do {
            ref = try reference.map(ImageReference.init(parsing:))
        } catch {
            throw CLIError("\(error)")
        }
        var source = file
        var path = file
        var temp: String?
        if file == "-" {
            source = "-"
            let t = store.root + "/images/import-\(getpid()).tar"
            try Self.copyStandardInput(to: t)
            path = t
            temp = t
        } else if access(file, R_OK) != 0 {
            throw CLIError("open \(file): no such file or directory")
        }
        defer { if let temp { unlink(temp) } }
        let platform = try platform.map(Pulling.parsePlatform) ?? .host
        do {
            let record = try store.importRootfs(
                file: path, reference: ref, changes: ImageChanges(change), message: message, source: source,
                platform: platform)
            Console.out(record.id.description + "\n")
        } catch {
            throw CLIError("\(error)")
        }
    }

    /// Copies standard input to a file, byte for byte.
    static func copyStandardInput(to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot write \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + done }, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw CLIError("write \(path): \(String(cString: strerror(errno)))")
                }
                done += w
            }
        }
    }
}

struct ImageLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Load an image from a tar archive (docker-archive or oci-archive) or STDIN")

    @Option(name: [.short, .long], help: "Read from tar archive file, instead of STDIN")
    var input: String?

    @Flag(name: [.short, .long], help: "Suppress the load output")
    var quiet = false

    func run() throws {
        let store = try StateRoot.images()
        var path = input ?? ""
        var temp: String?
        if input == nil || input == "-" {
            if isatty(0) != 0 {
                throw CLIError("requested load from stdin, but stdin is empty")
            }
            let t = store.root + "/images/stdin-\(getpid()).tar"
            try ImageImport.copyStandardInput(to: t)
            path = t
            temp = t
        }
        defer { if let temp { unlink(temp) } }
        guard access(path, R_OK) == 0 else { throw CLIError("open \(path): no such file or directory") }
        do {
            for image in try store.load(archive: path) {
                if let reference = image.reference {
                    Console.out("Loaded image: \(reference)\n")
                } else {
                    Console.out("Loaded image ID: \(image.id)\n")
                }
            }
        } catch {
            throw CLIError("\(error)")
        }
    }
}

struct ImageSave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", abstract: "Save one or more images to a tar archive (streamed to STDOUT by default)")

    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT")
    var output: String?

    @Option(name: .long, help: "Archive format: docker (what docker load reads) or oci")
    var format: String = ImageStore.ArchiveFormat.docker.rawValue

    @Argument var images: [String]

    func run() throws {
        let store = try StateRoot.images()
        guard let archiveFormat = ImageStore.ArchiveFormat(rawValue: format) else {
            throw CLIError("unsupported format \"\(format)\": use docker or oci")
        }
        if output == nil && isatty(1) != 0 {
            throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        let target = output ?? store.root + "/images/save-\(getpid()).tar"
        do {
            try store.save(images, to: target, format: archiveFormat)
        } catch {
            throw CLIError("\(error)")
        }
        if output == nil {
            defer { unlink(target) }
            let fd = open(target, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CLIError("cannot read \(target)") }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                var done = 0
                while done < n {
                    let w = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress.map { $0 + done }, n - done) }
                    if w < 0 {
                        if errno == EINTR { continue }
                        throw CLIError("write: \(String(cString: strerror(errno)))")
                    }
                    done += w
                }
            }
        }
    }
}

struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only show image IDs")
    var quiet = false

    @Flag(name: .long, help: "Show digests")
    var digests = false

    @Flag(name: [.short, .long], help: "Show all images")
    var all = false

    @Option(name: .long, help: "Format output: table or json")
    var format: String = "table"

    func run() throws {
        let store = try StateRoot.images()
        let records = try store.list()
        let now = Int(time(nil))
        var rows: [[String: String]] = []
        for record in records {
            let names = record.names.compactMap { try? ImageReference(parsing: $0) }
            let created = Clock.parseRFC3339(record.created) ?? now
            let base: [String: String] = [
                "ID": record.id.short, "CreatedSince": Human.since(now - created), "CreatedAt": record.created,
                "Size": Human.size(record.size), "Digest": record.manifest.description,
            ]
            if names.isEmpty {
                rows.append(base.merging(["Repository": "<none>", "Tag": "<none>"]) { $1 })
            } else {
                for n in names {
                    rows.append(base.merging(["Repository": n.familiarRepository, "Tag": n.tag ?? "<none>"]) { $1 })
                }
            }
        }
        if quiet {
            var seen = Set<String>()
            for r in rows where seen.insert(r["ID"] ?? "").inserted { Console.out((r["ID"] ?? "") + "\n") }
            return
        }
        if format == "json" {
            for r in rows {
                let pairs: [(String, JSONValue)] = [
                    ("Containers", .string("N/A")), ("CreatedAt", .string(r["CreatedAt"] ?? "")),
                    ("CreatedSince", .string(r["CreatedSince"] ?? "")), ("Digest", .string(r["Digest"] ?? "")),
                    ("ID", .string(r["ID"] ?? "")), ("Repository", .string(r["Repository"] ?? "")),
                    ("SharedSize", .string("N/A")), ("Size", .string(r["Size"] ?? "")),
                    ("Tag", .string(r["Tag"] ?? "")), ("UniqueSize", .string("N/A")),
                    ("VirtualSize", .string(r["Size"] ?? "")),
                ]
                Console.out(JSONValue.object(pairs).compactText() + "\n")
            }
            return
        }
        guard format == "table" else { throw CLIError("unsupported format \"\(format)\"") }
        var columns = ["REPOSITORY", "TAG"]
        if digests { columns.append("DIGEST") }
        columns += ["IMAGE ID", "CREATED", "SIZE"]
        let keys = columns.map { ["REPOSITORY": "Repository", "TAG": "Tag", "DIGEST": "Digest", "IMAGE ID": "ID",
                                  "CREATED": "CreatedSince", "SIZE": "Size"][$0] ?? $0 }
        Console.out(Table.render(header: columns, rows: rows.map { r in keys.map { r[$0] ?? "" } }))
    }
}

struct ImageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Display detailed information on one or more images")

    @Argument(help: "Images")
    var images: [String]

    func run() throws {
        let store = try StateRoot.images()
        var out: [JSONValue] = []
        var missing: [String] = []
        for name in images {
            guard let record = try store.find(name) else {
                missing.append(name)
                continue
            }
            out.append(try Self.inspect(record, store: store))
        }
        Console.out(JSONValue.array(out).text(indent: "    ", sortKeys: false) + "\n")
        if !missing.isEmpty {
            throw CLIError(missing.map { "Error: No such image: \($0)" }.joined(separator: "\n"))
        }
    }

    static func inspect(_ record: ImageRecord, store: ImageStore) throws -> JSONValue {
        let config = try store.config(record)
        let names = record.names.compactMap { try? ImageReference(parsing: $0) }
        let c = config.config ?? ImageConfig.ContainerDefaults()
        func list(_ v: [String]?) -> JSONValue { v.map { .array($0.map(JSONValue.string)) } ?? .null }
        func set(_ v: [String: ImageConfig.Empty]?) -> JSONValue {
            v.map { .object($0.keys.sorted().map { ($0, .object([])) }) } ?? .null
        }
        var labels: JSONValue = .null
        if let l = c.Labels {
            labels = .object(l.keys.sorted().map { key -> (String, JSONValue) in (key, .string(l[key] ?? "")) })
        }
        var fields: [(String, JSONValue)] = []
        fields.append(("Hostname", .string("")))
        fields.append(("Domainname", .string("")))
        fields.append(("User", .string(c.User ?? "")))
        fields.append(("AttachStdin", .bool(false)))
        fields.append(("AttachStdout", .bool(false)))
        fields.append(("AttachStderr", .bool(false)))
        fields.append(("ExposedPorts", set(c.ExposedPorts)))
        fields.append(("Tty", .bool(false)))
        fields.append(("OpenStdin", .bool(false)))
        fields.append(("StdinOnce", .bool(false)))
        fields.append(("Env", list(c.Env)))
        fields.append(("Cmd", list(c.Cmd)))
        if let h = c.Healthcheck {
            var health: [(String, JSONValue)] = [("Test", list(h.Test))]
            for (key, value) in [("Interval", h.Interval), ("Timeout", h.Timeout), ("StartPeriod", h.StartPeriod), ("StartInterval", h.StartInterval)] {
                if let value { health.append((key, .int(value))) }
            }
            if let retries = h.Retries { health.append(("Retries", .int(Int64(retries)))) }
            fields.append(("Healthcheck", .object(health)))
        }
        fields.append(("Image", .string("")))
        fields.append(("Volumes", set(c.Volumes)))
        fields.append(("WorkingDir", .string(c.WorkingDir ?? "")))
        fields.append(("Entrypoint", list(c.Entrypoint)))
        fields.append(("OnBuild", list(c.OnBuild)))
        fields.append(("Labels", labels))
        if let signal = c.StopSignal { fields.append(("StopSignal", .string(signal))) }
        let containerConfig = JSONValue.object(fields)
        let layers = JSONValue.array(config.rootfs.diff_ids.map { .string($0.description) })
        return .object([
            ("Id", .string(record.id.description)),
            ("RepoTags", .array(names.map { .string($0.familiar) })),
            // Only pulled images have registry digests.
            ("RepoDigests", .array([])),
            ("Parent", .string("")), ("Comment", .string(config.history?.last?.comment ?? "")),
            ("Created", .string(config.created ?? record.created)), ("DockerVersion", .string("")),
            ("Author", .string(config.author ?? "")), ("Config", containerConfig),
            ("Architecture", .string(config.architecture)), ("Os", .string(config.os)),
            ("Size", .int(record.size)),
            ("GraphDriver", .object([("Data", .null), ("Name", .string("overlay"))])),
            ("RootFS", .object([("Type", .string("layers")), ("Layers", layers)])),
            ("Metadata", .object([("LastTagTime", .string(""))])),
        ])
    }
}

struct ImageTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")

    @Argument var source: String
    @Argument var target: String

    func run() throws {
        let store = try StateRoot.images()
        do {
            try store.tag(source, try ImageReference(parsing: target))
        } catch {
            throw CLIError("Error response from daemon: \(error)")
        }
    }
}

struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove one or more images", aliases: ["rmi", "remove"])

    @Flag(name: [.short, .long], help: "Force removal of the image")
    var force = false

    @Argument var images: [String]

    func run() throws {
        let store = try StateRoot.images()
        var failures: [String] = []
        for image in images {
            do {
                // Containers arrive with the runtime; until then no image is in use.
                for line in try store.remove(image, force: force, inUse: ImageUse.checker()) { Console.out(line + "\n") }
            } catch {
                failures.append("Error response from daemon: \(error)")
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}

struct ImageHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image")

    @Flag(name: [.short, .long], help: "Only show image IDs")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output")
    var noTrunc = false

    @Argument var image: String

    func run() throws {
        let store = try StateRoot.images()
        guard let record = try store.find(image) else { throw CLIError("Error response from daemon: No such image: \(image)") }
        let config = try store.config(record)
        let manifest = try store.manifest(record)
        let now = Int(time(nil))
        var layerSizes = manifest.layers.map { _ in Int64(0) }
        let chain = Digest.chainIDs(config.rootfs.diff_ids)
        for (i, id) in chain.enumerated() {
            let sizeFile = store.snapshotsRoot + "/" + id.hex + ".size"
            if let text = try? String(decoding: FileSystem.readBytes(sizeFile), as: UTF8.self), let v = Int64(text) {
                layerSizes[i] = v
            }
        }
        var layerIndex = layerSizes.count - 1
        var rows: [[String]] = []
        for (i, h) in (config.history ?? []).enumerated().reversed() {
            var size: Int64 = 0
            if h.empty_layer != true && layerIndex >= 0 {
                size = layerSizes[layerIndex]
                layerIndex -= 1
            }
            let id = i == (config.history?.count ?? 0) - 1 ? (noTrunc ? record.id.description : record.id.short) : "<missing>"
            if quiet {
                rows.append([id])
                continue
            }
            var createdBy = h.created_by ?? ""
            if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            let created = h.created.flatMap(Clock.parseRFC3339).map { Human.since(now - $0) } ?? "N/A"
            rows.append([id, created, createdBy, Human.size(size), h.comment ?? ""])
        }
        if quiet {
            for r in rows { Console.out(r[0] + "\n") }
            return
        }
        Console.out(Table.render(header: ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows: rows))
    }
}

/// Which images containers use: those are neither removed (without `-f`) nor pruned.
enum ImageUse {
    static func checker() -> (ImageRecord) -> Bool {
        let used = Set(ProjectContext.engine().containers(project: nil).map(\.record.imageID))
        return { used.contains($0.id.description) }
    }
}

struct ImagePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images")

    @Flag(name: [.short, .long], help: "Remove all unused images, not just dangling ones")
    var all = false

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    func run() throws {
        let store = try StateRoot.images()
        let (lines, reclaimed) = try store.prune(all: all, inUse: ImageUse.checker())
        if !lines.isEmpty {
            Console.out("Deleted Images:\n" + lines.map { $0 + "\n" }.joined() + "\n")
        }
        Console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
    }
}

/// Docker's human-readable sizes and durations.
enum Human {
    /// go-units' HumanSizeWithPrecision(size, 3): decimal units, three significant digits.
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes)
        var i = 0
        while value >= 1000 && i < units.count - 1 {
            value /= 1000
            i += 1
        }
        return significant(value, 3) + units[i]
    }

    /// `%.Ng` without trailing zeros.
    static func significant(_ v: Double, _ digits: Int) -> String {
        if v == 0 { return "0" }
        var magnitude = 0
        var x = abs(v)
        while x >= 10 {
            x /= 10
            magnitude += 1
        }
        while x < 1 {
            x *= 10
            magnitude -= 1
        }
        let decimals = max(0, digits - 1 - magnitude)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (v * scale).rounded() / scale
        var text = decimals == 0 ? String(Int64(rounded)) : String(rounded)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// go-units' HumanDuration plus " ago".
    static func since(_ seconds: Int) -> String {
        let s = max(0, seconds)
        let text: String
        if s < 1 {
            text = "Less than a second"
        } else if s == 1 {
            text = "1 second"
        } else if s < 60 {
            text = "\(s) seconds"
        } else if s / 60 == 1 {
            text = "About a minute"
        } else if s / 60 < 60 {
            text = "\(s / 60) minutes"
        } else {
            let hours = Int((Double(s) / 3600 + 0.5).rounded(.down))
            if hours == 1 {
                text = "About an hour"
            } else if hours < 48 {
                text = "\(hours) hours"
            } else if hours < 24 * 7 * 2 {
                text = "\(hours / 24) days"
            } else if hours < 24 * 30 * 2 {
                text = "\(hours / 24 / 7) weeks"
            } else if hours < 24 * 365 * 2 {
                text = "\(hours / 24 / 30) months"
            } else {
                text = "\(s / 3600 / 24 / 365) years"
            }
        }
        return text + " ago"
    }
}

/// Columns padded like Go's tabwriter as docker uses it (three spaces between columns).
enum Table {
    /// Columns padded as Go's tabwriter does (`padding` spaces after the widest cell).
    static func render(header: [String], rows: [[String]], padding: Int = 3, minWidth: Int = 0) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in all {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: max(widths[i] + padding, minWidth) - cell.count)
                }
            }
            out += line + "\n"
        }
        return out
    }
}
