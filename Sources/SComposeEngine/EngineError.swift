// SPDX-License-Identifier: Apache-2.0
import SComposeBuild
import SComposeNetwork
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// An error of the engine: why it failed as a value (`reason`, which callers switch on and the
/// CLI words as Compose does, in `SComposeCLI/Output/ErrorWording.swift`), its `kind`, the
/// errno of the system call that failed, and the words of the lower layer's error it wraps.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a caller decides what to do about it.
    public enum Kind: String, Sendable {
        /// The files or the flags ask for something invalid (an unknown reference, a bad value).
        case invalid
        /// A service, container, image, network or volume that is not there.
        case notFound
        /// In the way of something else: in use, paused, already there.
        case conflict
        /// Valid for Compose, but not something scompose does (a driver, an option).
        case unsupported
        /// A dependency failed, is unhealthy, or the dependencies form a cycle.
        case dependency
        case timeout
        /// A container's process could not be started or exec'd.
        case runtime
        /// A system call failed: `errno` says why.
        case system
    }

    /// Why it failed, with the names and values involved; no wording.
    public enum Reason: Sendable, Equatable {
        // What is not there, or not in the state asked for.
        case noSuchService(String)
        case noSuchImage(String)
        case noSuchContainer(String)
        case serviceNotRunning(String)
        case containerNotRunning(String)
        /// `rm` without `-f` of a running container.
        case containerRunning(String)
        case containerPaused(id: String)
        /// The service named by `network_mode: service:X` has no container.
        case networkModeServiceMissing(String)
        /// A service's dependency has no container to wait for.
        case dependencyMissing(service: String, dependency: String)
        case fileNotInContainer(path: String, container: String)
        case copyDestinationMissing(String)
        case hostPathMissing(String)
        /// A `devices:` entry whose host side is not a device node (`why`: errno's text or
        /// "not a device node"), or whose path in the container is not below `/dev`.
        case unusableDevice(path: String, why: String)
        case nameInUse(String)
        /// A container's name taken by another container (`id`).
        case nameTaken(name: String, id: String)
        /// A container name Docker's rule refuses (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
        case invalidContainerName(String)
        /// A volume name Docker's rule refuses (a relative path given as a bind source).
        case invalidVolumeName(String)
        /// An ID prefix that more than one container starts with.
        case ambiguousContainer(String)
        case noSuchNetwork(String)
        case networkExists(String)
        /// `bridge`, `host` and `none` are there for every container and are not removed.
        case predefinedNetwork(String)
        /// `--network-alias` on the default network, which has no names.
        case aliasOnDefaultNetwork
        /// `-w` with a relative path.
        case relativeWorkingDirectory(String)
        /// Flags that cannot go together (`--restart and --rm`).
        case conflictingOptions(String)
        case volumeInUse(String)
        case networkInUse(network: String, by: String)
        // What the project's files say.
        /// A service's reference to a network, volume, secret or config the project does not
        /// declare (`kind` is "network", "build secret", …).
        case undefined(service: String?, kind: String, name: String)
        case externalNotFound(kind: String, name: String)
        /// A rule of the compose model broken: Compose adds "invalid compose project".
        case invalidProject(String)
        /// A value that cannot be used: `what` names the option (and service, when known).
        case invalidValue(what: String, value: String)
        case environmentNotSet(variable: String, neededBy: String)
        /// Neither the service nor its image says what to run.
        case noCommand(service: String)
        /// Something valid for Compose that scompose does not do, and what to do instead.
        case unsupported(String)
        /// A rootless user's published port below the host's lowest unprivileged one.
        case privilegedPort(UInt16, lowest: UInt16)
        // Dependencies and waits.
        case dependencyUnhealthy(container: String)
        case dependencyFailed(service: String, exitCode: Int32)
        case noHealthcheck(container: String)
        case unhealthy(container: String)
        case exited(container: String, exitCode: Int32)
        case timedOut(waitingFor: String)
        // Processes.
        case createTask(String)
        /// `exec`'s process could not be started; `exitCode` is 127 when the command was not
        /// found, else 126.
        case execFailed(String, exitCode: Int32)
        case hookFailed(kind: String, container: String, status: Int32, output: String)
        /// An operation on the host failed: `operation` says what was being done ("copy /a");
        /// `errno` or `cause` says why.
        case failed(operation: String)
        /// Something failed while working on `subject` (a secret, a watch): `errno` or `cause`
        /// says what.
        case during(String)
        /// A lower layer's error passed on unchanged (a dependency cycle, a build step, a
        /// network's address plan): its own words are the message.
        case passed(String)
    }

    public var reason: Reason
    /// The errno of the system call that failed, when one did.
    public var errno: Int32?
    /// The lower layer's error it wraps, as that error describes itself.
    public var cause: String?
    var explicitKind: Kind?

    public init(_ reason: Reason, errno: Int32? = nil, cause: (any Error)? = nil, kind: Kind? = nil) {
        self.reason = reason
        self.cause = cause.map { "\($0)" }
        self.errno = errno ?? cause.flatMap(Self.errno(of:))
        self.explicitKind = kind
    }

    /// A lower layer's error passed on in its own words, with its errno, and the kind of the
    /// failures of that layer.
    public init(passing error: any Error, kind: Kind? = nil) {
        if let engine = error as? EngineError {
            self = engine
            return
        }
        self.init(.passed("\(error)"), cause: error, kind: kind ?? Self.kind(of: error))
    }

    public var kind: Kind {
        if let explicitKind { return explicitKind }
        switch reason {
        case .noSuchService, .noSuchImage, .noSuchContainer, .serviceNotRunning, .containerNotRunning,
            .networkModeServiceMissing, .dependencyMissing, .fileNotInContainer, .copyDestinationMissing, .hostPathMissing, .unusableDevice, .externalNotFound,
            .noSuchNetwork:
            return .notFound
        case .containerPaused, .containerRunning, .nameInUse, .nameTaken, .networkExists, .volumeInUse, .networkInUse, .predefinedNetwork:
            return .conflict
        case .undefined, .invalidProject, .invalidValue, .environmentNotSet, .noCommand, .invalidContainerName, .invalidVolumeName,
            .ambiguousContainer, .aliasOnDefaultNetwork, .relativeWorkingDirectory, .conflictingOptions:
            return .invalid
        case .unsupported, .privilegedPort:
            return .unsupported
        case .dependencyUnhealthy, .dependencyFailed, .noHealthcheck, .unhealthy, .exited:
            return .dependency
        case .timedOut:
            return .timeout
        case .createTask, .execFailed, .hookFailed:
            return .runtime
        case .failed, .during, .passed:
            return errno != nil ? .system : .runtime
        }
    }

    /// The exit status the CLI returns for it: `exec`'s 126 and 127, else 1.
    public var exitCode: Int32 {
        if case .execFailed(_, let code) = reason { return code }
        return 1
    }

    /// The reason and its cause as values, for logs and test failures; the CLI words it.
    public var description: String {
        var text = "\(kind.rawValue): \(reason)"
        if let errno { text += " (errno \(errno))" }
        if let cause, !isPassed { text += " caused by: \(cause)" }
        return text
    }

    var isPassed: Bool {
        if case .passed = reason { return true }
        return false
    }

    /// The errno that lower layers' errors keep.
    static func errno(of error: any Error) -> Int32? {
        switch error {
        case let e as FileError: e.errno
        case let e as SpawnError: e.errno
        case let e as Cgroup.Failure: e.errno
        case let e as NetworkError: e.errno
        case let e as ShimError:
            switch e {
            case .pipe(let n), .spawn(_, let n), .signal(let n): n
            case .startFailed(_, let n): n
            case .freeze: nil
            }
        default: nil
        }
    }

    /// The kind of a lower layer's failures, for those passed on unchanged.
    static func kind(of error: any Error) -> Kind? {
        switch error {
        case is DependencyGraphError: .dependency
        case is BuildError, is DockerfileError: .invalid
        case let e as NetworkError: e.errno != nil ? .system : .invalid
        default: nil
        }
    }
}
