// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOCI
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `scompose volume …`: the volumes of every project, as `docker volume` shows them.
struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", _superCommandName: "scompose", abstract: "Manage volumes",
        subcommands: [VolumeList.self, VolumeInspect.self, VolumeCreate.self, VolumeRemove.self, VolumePrune.self])

    static func store() -> VolumeStore { VolumeStore(stateRoot: StateRoot.path) }

    static func json(_ v: VolumeRecord, store: VolumeStore) -> JSONValue {
        .object([
            ("CreatedAt", .string(v.createdAt)), ("Driver", .string(v.driver)),
            ("Labels", v.labels.isEmpty ? .null : .object(v.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("Mountpoint", .string(store.dataPath(v.name))), ("Name", .string(v.name)),
            ("Options", v.options.isEmpty ? .null : .object(v.options.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("Scope", .string("local")),
        ])
    }
}

struct VolumeList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only display volume names")
    var quiet = false

    @Option(name: .long, help: "Format output: table or json")
    var format = "table"

    @Option(name: [.customShort("f"), .long], help: "Provide filter values (e.g. \"label=com.docker.compose.project=app\", \"dangling=true\", \"name=x\")")
    var filter: [String] = []

    func run() throws {
        let store = VolumeCommand.store()
        var volumes = store.list()
        for f in filter {
            let parts = f.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CLIError("bad format of filter (expected name=value)") }
            switch parts[0] {
            case "name": volumes = volumes.filter { $0.name.contains(parts[1]) }
            case "label":
                let kv = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
                volumes = volumes.filter { kv.count == 2 ? $0.labels[kv[0]] == kv[1] : $0.labels[kv[0]] != nil }
            case "dangling":
                let used = ProjectContext.engine().volumesInUse()
                volumes = volumes.filter { (parts[1] == "true" || parts[1] == "1") != used.contains($0.name) }
            case "driver": volumes = volumes.filter { $0.driver == parts[1] }
            default: throw CLIError("invalid filter '\(parts[0])'")
            }
        }
        if quiet {
            for v in volumes { Console.out(v.name + "\n") }
            return
        }
        switch format {
        case "json":
            for v in volumes {
                let labels = v.labels.keys.sorted().map { "\($0)=\(v.labels[$0] ?? "")" }.joined(separator: ",")
                let row: [(String, JSONValue)] = [
                    ("Driver", .string(v.driver)), ("Labels", .string(labels)), ("Links", .string("N/A")),
                    ("Mountpoint", .string(store.dataPath(v.name))), ("Name", .string(v.name)), ("Scope", .string("local")),
                    ("Size", .string("N/A")),
                ]
                Console.out(JSONValue.object(row).compactText() + "\n")
            }
        case "table":
            Console.out(Table.render(header: ["DRIVER", "VOLUME NAME"], rows: volumes.map { [$0.driver, $0.name] }, minWidth: 10))
        default:
            throw CLIError("unsupported format \"\(format)\"")
        }
    }
}

struct VolumeInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes")

    @Argument var names: [String]

    func run() throws {
        let store = VolumeCommand.store()
        var out: [JSONValue] = []
        var missing: [String] = []
        for name in names {
            if let v = store.get(name) { out.append(VolumeCommand.json(v, store: store)) } else { missing.append(name) }
        }
        Console.out(JSONValue.array(out).text(indent: "    ", sortKeys: false) + "\n")
        if let first = missing.first { throw CLIError("Error response from daemon: get \(first): no such volume") }
    }
}

struct VolumeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume")

    @Option(name: [.short, .long], help: "Specify volume driver name")
    var driver = "local"

    @Option(name: .long, help: "Set metadata for a volume")
    var label: [String] = []

    @Option(name: [.short, .customLong("opt")], help: "Set driver specific options")
    var opt: [String] = []

    @Argument var name: String?

    func run() throws {
        try ProjectContext.guardRoot()
        guard driver == "local" else { throw CLIError("volume driver \"\(driver)\" is not supported (local only)") }
        func pairs(_ items: [String]) -> [String: String] {
            var d: [String: String] = [:]
            for item in items {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                d[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            return d
        }
        let volumeName = name ?? Digest.random().hex
        do {
            let v = try VolumeCommand.store().create(volumeName, labels: pairs(label), options: pairs(opt), anonymous: name == nil)
            Console.out(v.name + "\n")
        } catch {
            throw CLIError(error.description)
        }
    }
}

struct VolumeRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Force the removal of one or more volumes")
    var force = false

    @Argument var names: [String]

    func run() throws {
        try ProjectContext.guardRoot()
        let store = VolumeCommand.store()
        let used = ProjectContext.engine().volumesInUse()
        var failed: String?
        for name in names {
            guard store.get(name) != nil else {
                if !force { failed = "Error response from daemon: get \(name): no such volume" }
                continue
            }
            if used.contains(name) {
                failed = "Error response from daemon: remove \(name): volume is in use"
                continue
            }
            do {
                try store.remove(name)
                Console.out(name + "\n")
            } catch {
                failed = "\(error)"
            }
        }
        if let failed { throw CLIError(failed) }
    }
}

struct VolumePrune: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes")

    @Flag(name: [.short, .long], help: "Remove all unused volumes, not just anonymous ones")
    var all = false

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation")
    var force = false

    func run() throws {
        try ProjectContext.guardRoot()
        let store = VolumeCommand.store()
        let used = ProjectContext.engine().volumesInUse()
        var removed: [String] = []
        var reclaimed: Int64 = 0
        for v in store.list() where !used.contains(v.name) && (all || v.anonymous) {
            reclaimed += DiskUsage.bytes(store.directory(v.name))
            try store.remove(v.name)
            removed.append(v.name)
        }
        if !removed.isEmpty { Console.out("Deleted Volumes:\n" + removed.map { $0 + "\n" }.joined() + "\n") }
        Console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
    }
}

/// Bytes used by a directory tree (without following symlinks).
enum DiskUsage {
    static func bytes(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_blocks) * 512 }
        return Files.list(path).reduce(Int64(st.st_blocks) * 512) { $0 + bytes(path + "/" + $1) }
    }
}

/// `scompose cp`: files and directories between a service container and the host.
struct Cp: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cp", _superCommandName: "scompose", 
        abstract: "Copy files/folders between a service container and the local filesystem",
        usage: "scompose cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH\n       scompose cp [OPTIONS] SRC_PATH SERVICE:DEST_PATH")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Include containers created by the run command")
    var all = false

    @Option(name: .long, help: "Index of the container if service has multiple replicas")
    var index: Int?

    @Flag(name: [.short, .long], help: "Archive mode (copy all uid/gid information)")
    var archive = false

    @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH")
    var followLink = false

    @Argument var source: String
    @Argument var destination: String

    func run() throws {
        try ProjectContext.guardRoot()
        if source == "-" || destination == "-" {
            throw CLIError("copying a tar stream from or to standard input/output (\"-\") is not supported; give a path")
        }
        func container(_ arg: String) -> (String, String)? {
            // SERVICE:PATH, but not a local path with a colon after a slash (`./a:b`).
            guard let colon = arg.firstIndex(of: ":"), !arg[..<colon].contains("/"), colon != arg.startIndex else { return nil }
            return (String(arg[..<colon]), String(arg[arg.index(after: colon)...]))
        }
        let from = container(source)
        let to = container(destination)
        guard (from == nil) != (to == nil) else {
            throw CLIError(from == nil ? "one of source or destination must be a SERVICE:PATH" : "copying between containers is not supported")
        }
        let service = (from ?? to)?.0 ?? ""
        let (engine, containers) = try ProjectContext.containers(global, services: [service])
        let candidates = containers.filter { index == nil || $0.record.number == index }
        guard let c = candidates.first(where: { $0.running }) ?? candidates.first else {
            throw CLIError("no container found for service \"\(service)\"")
        }
        do {
            if let (_, path) = from {
                try engine.copyOut(c, path: path, to: destination, archive: archive, followLink: followLink)
                Console.error(" \(c.record.name) copy \(path) to \(destination) Copied")
            } else if let (_, path) = to {
                try engine.copyIn(c, from: source, path: path, archive: archive, followLink: followLink)
                Console.error(" \(c.record.name) copy \(source) to \(c.record.name):\(path) Copied")
            }
        } catch let e as EngineError {
            throw CLIError(e.description, code: e.exitCode)
        }
    }
}
