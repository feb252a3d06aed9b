// SPDX-License-Identifier: Apache-2.0
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

/// Compose's sentences for the engine's errors, in one place: what scripts and users match on
/// (`no such service: web`, `Error response from daemon: …`) is worded here and nowhere else.
enum ErrorWording {
    /// Docker's prefix for what its daemon answers.
    static let daemon = "Error response from daemon: "

    /// An error from any layer: the engine's worded here, the others in their own words.
    static func message(_ error: any Error) -> String {
        (error as? EngineError).map(message) ?? "\(error)"
    }

    static func message(_ error: EngineError) -> String {
        let why = error.cause ?? error.errno.map { String(cString: strerror($0)) }
        switch error.reason {
        case .noSuchService(let name): return "no such service: \(name)"
        case .noSuchImage(let name): return daemon + "No such image: \(name)"
        case .noSuchContainer(let name): return daemon + "No such container: \(name)"
        case .serviceNotRunning(let name): return "service \"\(name)\" is not running"
        case .containerNotRunning(let name): return daemon + "container \(name) is not running"
        case .containerRunning(let name):
            return daemon + "cannot remove container \"/\(name)\": container is running: stop the container before removing or force remove"
        case .containerPaused(let id): return daemon + "Container \(id) is paused, unpause the container before exec"
        case .networkModeServiceMissing(let name): return "service \(name) which is used as network_mode has no container"
        case .dependencyMissing(let service, let dependency):
            return "service \"\(service)\" depends on \"\(dependency)\", which has no container"
        case .fileNotInContainer(let path, let container): return daemon + "Could not find the file \(path) in container \(container)"
        case .copyDestinationMissing(let path): return daemon + "destination directory \(path) does not exist"
        case .hostPathMissing(let path): return "could not find \(path): no such file or directory"
        case .unusableDevice(let path, let why):
            return daemon + "error gathering device information while adding custom device \"\(path)\": \(why)"
        case .nameInUse(let name): return daemon + "Conflict. The container name \"/\(name)\" is already in use"
        case .nameTaken(let name, let id):
            return daemon + "Conflict. The container name \"/\(name)\" is already in use by container \"\(id)\". "
                + "You have to remove (or rename) that container to be able to reuse that name."
        case .invalidContainerName(let name): return daemon + "Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        case .invalidVolumeName(let name):
            return daemon + "create \(name): \"\(name)\" includes invalid characters for a local volume name, only "
                + "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        case .ambiguousContainer(let prefix): return daemon + "multiple IDs found with provided prefix: \(prefix)"
        case .noSuchNetwork(let name): return daemon + "network \(name) not found"
        case .networkExists(let name): return daemon + "network with name \(name) already exists"
        case .predefinedNetwork(let name): return daemon + "\(name) is a pre-defined network and cannot be removed"
        case .aliasOnDefaultNetwork: return daemon + "network-scoped alias is supported only for containers in user defined networks"
        case .relativeWorkingDirectory(let path):
            return daemon + "the working directory '\(path)' is invalid, it needs to be an absolute path"
        case .conflictingOptions(let what): return "Conflicting options: \(what)"
        case .volumeInUse(let name): return daemon + "remove \(name): volume is in use"
        case .networkInUse(let network, let by): return "network \(network) has changed but is in use by \(by)"
        case .undefined(let service, let kind, let name):
            let who = service.map { "service \"\($0)\"" } ?? "service"
            return "\(who) refers to undefined \(kind) \(name): invalid compose project"
        case .externalNotFound(let kind, let name):
            // Compose's two sentences: its volume and network code say it differently.
            return kind == "volume"
                ? "external volume \"\(name)\" not found" : "\(kind) \(name) declared as external, but could not be found"
        case .invalidProject(let text): return "\(text): invalid compose project"
        case .invalidValue(let what, let value): return "invalid \(what): \(value)"
        case .environmentNotSet(let variable, let neededBy): return "environment variable \"\(variable)\" required by \(neededBy) is not set"
        case .noCommand(let service): return "no command specified for service \"\(service)\""
        case .unsupported(let text): return text
        case .privilegedPort(let port, let lowest):
            return "rootless: port \(port) is below \(lowest), the lowest port an ordinary user may bind; publish a higher one, "
                + "or allow it on the host with `sudo sysctl net.ipv4.ip_unprivileged_port_start=\(port)`"
        case .dependencyUnhealthy(let container): return "dependency failed to start: container \(container) is unhealthy"
        case .dependencyFailed(let service, let code): return "service \"\(service)\" didn't complete successfully: exit \(code)"
        case .noHealthcheck(let container): return "container \(container) has no healthcheck configured"
        case .unhealthy(let container): return "container \(container) is unhealthy"
        case .exited(let container, let code): return "container \(container) exited (\(code))"
        case .timedOut(let what): return "timed out waiting for \(what)"
        case .createTask(let text): return daemon + "failed to create task for container: \(text)"
        case .execFailed(let text, _): return "OCI runtime exec failed: \(text)"
        case .hookFailed(let kind, let container, let status, let output):
            return "\(kind) hook of \(container) exited with status \(status)" + (output.isEmpty ? "" : ": \(output)")
        case .failed(let operation): return "cannot \(operation)" + (why.map { ": \($0)" } ?? "")
        case .during(let subject): return subject + (why.map { ": \($0)" } ?? "")
        case .passed(let text): return text
        }
    }
}
