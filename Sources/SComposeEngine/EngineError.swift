// SPDX-License-Identifier: Apache-2.0
import SComposeNetwork
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// An error of the engine: what kind of failure it is (for callers that switch on it), the
/// system call's errno when one failed, the error it comes from, and the sentence Compose
/// prints for it.
public struct EngineError: Error, Sendable, CustomStringConvertible {
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

    public var kind: Kind
    /// Compose's sentence for it.
    public var description: String
    /// The exit status the CLI returns for it.
    public var exitCode: Int32
    /// The errno of the system call that failed, when one did.
    public var errno: Int32?
    /// The lower layer's error it wraps, as that error describes itself.
    public var cause: String?

    /// An error worded as Compose words it; its kind is read from the wording when not given
    /// (Compose's sentences are the contract: "no such", "invalid compose project", …). A
    /// `cause` gives its errno, and its own words.
    public init(_ description: String, kind: Kind? = nil, exitCode: Int32 = 1, cause: (any Error)? = nil) {
        self.description = description
        self.exitCode = exitCode
        self.cause = cause.map { "\($0)" }
        self.errno = cause.flatMap(Self.errno(of:))
        self.kind = kind ?? (errno != nil ? .system : Self.kind(of: description))
    }

    /// A failed system call: `what`, then the errno's text, as Docker words them.
    public init(_ what: String, errno: Int32, exitCode: Int32 = 1) {
        self.init("\(what): \(String(cString: strerror(errno)))", kind: .system, exitCode: exitCode)
        self.errno = errno
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

    static func kind(of text: String) -> Kind {
        let lower = text.lowercased()
        if lower.contains("invalid compose project") || lower.hasPrefix("invalid") || lower.contains(": invalid") { return .invalid }
        if lower.contains("no such") || lower.contains("not found") || lower.contains("has no container") || lower.contains("is not running") { return .notFound }
        if lower.contains("not supported") || lower.contains("only seccomp=unconfined") { return .unsupported }
        if lower.contains("timed out") { return .timeout }
        if lower.contains("dependency") || lower.contains("depends on") || lower.contains("didn't complete") || lower.contains("unhealthy") { return .dependency }
        if lower.contains("oci runtime") || lower.contains("failed to create task") { return .runtime }
        if lower.contains("in use") || lower.contains("already") || lower.contains("is paused") || lower.contains("has changed") { return .conflict }
        return .invalid
    }
}
