// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

/// `--pull`'s values for `up` and `run`.
let pullFlagValues = ["always", "missing", "never"]

extension ReconcileOptions {
    /// The options of `up` and `create`: the targets get `--force-recreate` / `--no-recreate`,
    /// their dependencies `--always-recreate-deps` / `--no-recreate`, as Compose does (the
    /// commands' `validate()` rejected `--force-recreate` with `--no-recreate`).
    init(targets: [String], forceRecreate: Bool, noRecreate: Bool, alwaysRecreateDeps: Bool, scale: [String]) throws {
        self.init()
        self.targets = targets
        recreate = forceRecreate ? .always : noRecreate ? .never : .changed
        recreateDependencies = alwaysRecreateDeps ? .always : noRecreate ? .never : .changed
        for item in scale {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let n = Int(parts[1]), n >= 0 else { throw CLIError("invalid --scale \(item): expected SERVICE=NUM") }
            self.scale[parts[0]] = n
        }
    }
}
