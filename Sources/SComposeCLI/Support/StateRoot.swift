// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOCI
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Where scompose keeps its state: `SCOMPOSE_ROOT`, else `/var/lib/scompose` for root and
/// `$XDG_DATA_HOME/scompose` (`~/.local/share/scompose`) for a rootless user.
enum StateRoot {
    static var path: String {
        let env = Console.environment()
        if let root = env["SCOMPOSE_ROOT"], !root.isEmpty { return root }
        if Rootless.current(environment: env) != nil { return Rootless.stateRoot(environment: env) }
        return "/var/lib/scompose"
    }

    static func images() throws -> ImageStore {
        do {
            return try ImageStore(root: path)
        } catch {
            throw CLIError("cannot open the image store at \(path): \(ErrorWording.message(error))")
        }
    }
}
