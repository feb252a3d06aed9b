// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Shared by the `container` verbs: an engine that speaks as Docker's CLI does (no Compose
/// progress lines), references resolved to containers, and Docker's exit codes.
enum ContainerContext {
    /// The engine, telling only what `docker` prints: pull and build lines, warnings.
    static func engine() -> Engine {
        var engine = Engine(root: StateRoot.path, shimPath: ProjectContext.shimPath) { event in
            switch event {
            case .output(let text): Console.error(text)
            case .warning(let text): Console.error("WARNING: " + text)
            default: break
            }
        }
        engine.buildOutput = { Console.error($0) }
        engine.cliPath = ProjectContext.executablePath
        engine.pullImage = { image, platform in
            try Pulling.pull(try ImageReference(parsing: image), platform: platform, lines: false)
        }
        return engine
    }

    /// What `docker run` and `docker create` exit with when they fail: 126 when the command
    /// cannot be run, 127 when it is not found, 125 for everything before it (the flags, the
    /// image, the name, the mounts, the network), each with one line on standard error.
    static func runFailure(_ error: any Error) -> CLIError {
        var code: Int32 = 125
        if let e = error as? EngineError {
            switch e.reason {
            case .execFailed(_, let exitCode): code = exitCode
            case .createTask: code = e.errno == ENOENT ? 127 : (e.errno == EACCES || e.errno == ENOEXEC || e.errno == EPERM ? 126 : 125)
            default: break
            }
        } else if let e = error as? CLIError {
            return e
        }
        return CLIError("scompose: " + ErrorWording.message(error), code: code)
    }

    /// Runs `body` on each reference in turn, as `docker stop a b c` does: each name printed
    /// once done, the failures said at the end (exit 1).
    static func each(_ references: [String], _ engine: Engine, _ body: (ContainerStatus) throws -> Void) throws {
        var failures: [String] = []
        for reference in references {
            do {
                try body(try engine.container(reference: reference))
                Console.out(reference + "\n")
            } catch {
                failures.append(ErrorWording.message(error))
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }

    /// A usage error of a `container` verb (an unknown flag, a missing argument), worded on one
    /// line with Docker's status for it, 125.
    static func usageFailure(_ message: String, verb: [String]) -> CLIError {
        var line = message.split(separator: "\n").first.map(String.init) ?? message
        if line.hasPrefix("Error: ") { line = String(line.dropFirst("Error: ".count)) }
        if line.hasPrefix("Unknown option '") {
            let flag = line.dropFirst("Unknown option '".count).prefix { $0 != "'" }
            line = "unknown flag: " + flag
        }
        return CLIError("scompose: \(line). See 'scompose \(verb.joined(separator: " ")) --help'.", code: 125)
    }
}
