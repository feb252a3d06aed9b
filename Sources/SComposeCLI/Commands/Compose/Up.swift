// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Dispatch
import FoundationEssentials
import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", _superCommandName: "scompose", abstract: "Create and start containers")

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.short, .long], help: "Detached mode: run containers in the background")
    var detach = false

    @Flag(name: .customLong("force-recreate"), help: "Recreate containers even if their configuration and image haven't changed")
    var forceRecreate = false

    @Flag(name: .customLong("no-recreate"), help: "If containers already exist, don't recreate them")
    var noRecreate = false

    @Flag(name: .long, help: "Wait for services to be running|healthy. Implies detached mode.")
    var wait = false

    @Option(name: .long, help: "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
    var scale: [String] = []

    @Flag(name: .customLong("abort-on-container-exit"), help: "Stops all containers if any container was stopped. Incompatible with -d")
    var abortOnContainerExit = false

    @Flag(name: .customLong("abort-on-container-failure"), help: "Stops all containers if any container exited with failure. Incompatible with -d")
    var abortOnContainerFailure = false

    @Option(name: .customLong("exit-code-from"), help: "Return the exit code of the selected service container. Implies --abort-on-container-exit")
    var exitCodeFrom: String?

    @Option(name: .long, help: "Restrict attaching to the specified services")
    var attach: [String] = []

    @Option(name: .customLong("no-attach"), help: "Do not attach (stream logs) to the specified services")
    var noAttach: [String] = []

    @Flag(name: .customLong("no-log-prefix"), help: "Don't print prefix in logs")
    var noLogPrefix = false

    @Flag(name: .customLong("no-color"), help: "Produce monochrome output")
    var noColor = false

    @Flag(name: .long, help: "Show timestamps")
    var timestamps = false

    @Option(name: [.short, .long], help: "Use this timeout in seconds for container shutdown when attached or when containers are already running")
    var timeout: Int?

    @Flag(name: .customLong("remove-orphans"), help: "Remove containers for services not defined in the Compose file")
    var removeOrphans = false

    @Option(name: .customLong("wait-timeout"), help: "Maximum duration in seconds to wait for the project to be running|healthy")
    var waitTimeout: Int?

    @Flag(name: .customLong("no-deps"), help: "Don't start linked services")
    var noDeps = false

    @Flag(name: .customLong("always-recreate-deps"), help: "Recreate dependent containers. Incompatible with --no-recreate.")
    var alwaysRecreateDeps = false

    @Flag(name: .customLong("no-start"), help: "Don't start the services after creating them")
    var noStart = false

    @Flag(name: .customLong("quiet-pull"), help: "Pull without printing progress information")
    var quietPull = false

    @Option(name: .long, help: "Pull image before running (\"always\"|\"missing\"|\"never\")")
    var pull: String?

    @Flag(name: .long, help: "Build images before starting containers")
    var build = false

    @Flag(name: .customLong("no-build"), help: "Don't build an image, even if it's policy")
    var noBuild = false

    @Flag(name: [.customShort("w"), .long], help: "Watch source code and rebuild/refresh containers when files are updated.")
    var watch = false

    @Argument(help: "Services to start (with what they depend on)")
    var services: [String] = []

    func validate() throws {
        if forceRecreate && noRecreate { throw CLIError.rejecting("--force-recreate and --no-recreate are incompatible") }
        if alwaysRecreateDeps && noRecreate { throw CLIError.rejecting("--always-recreate-deps and --no-recreate are incompatible") }
        if detach && (abortOnContainerExit || abortOnContainerFailure || exitCodeFrom != nil) {
            throw CLIError.rejecting(
                "--abort-on-container-exit, --abort-on-container-failure and --exit-code-from are incompatible with --detach")
        }
        if noStart && (wait || abortOnContainerExit || abortOnContainerFailure || exitCodeFrom != nil) {
            throw CLIError.rejecting(
                "--no-start is incompatible with --wait, --abort-on-container-exit, --abort-on-container-failure and --exit-code-from")
        }
        if build && noBuild { throw CLIError.rejecting("--build and --no-build are incompatible") }
        if let pull, !pullFlagValues.contains(pull) { throw CLIError.rejecting("invalid --pull \(pull): always, missing or never") }
    }

    func run() throws {
        let project = try ProjectContext.load(global, services: services)
        let engine = ProjectContext.engine()
        var options = try ReconcileOptions(
            targets: services, forceRecreate: forceRecreate, noRecreate: noRecreate, alwaysRecreateDeps: alwaysRecreateDeps,
            scale: scale)
        options.noDeps = noDeps
        options.removeOrphans = removeOrphans
        options.start = !noStart
        options.build = build ? .always : noBuild ? .never : .missing
        options.pull = pull.map(PullPolicy.init)
        // The rules are checked before anything starts.
        let watcher = watch ? try Watcher(engine: engine, loaded: project, services: services) { WatchOutput.say($0) } : nil
        guard try ProjectContext.reconcile(project, options, global, engine) else { return }
        if noStart { return }
        if wait { try engine.waitUntilReady(project: project.name, services: services, timeout: waitTimeout) }
        if let watcher, detach || wait {
            // Nothing to attach to: watching is all there is left to do.
            try watcher.run()
            return
        }
        guard !detach && !wait else { return }
        if let from = exitCodeFrom, project.project.services[from] == nil { throw CLIError("no such service: \(from)") }
        var session = AttachedSession(
            engine: engine, project: project.name, attach: attach, noAttach: noAttach,
            abortOnExit: abortOnContainerExit, abortOnFailure: abortOnContainerFailure, exitCodeFrom: exitCodeFrom,
            prefix: !noLogPrefix, color: !noColor && isatty(1) == 1, timestamps: timestamps, timeout: timeout)
        if let watcher {
            // Beside the logs; the session lasts until Ctrl-C, not until the containers end
            // (a rebuild replaces them).
            session.watching = true
            DispatchQueue.global().async {
                do { try watcher.run() } catch { Console.error("watch: \(ErrorWording.message(error))") }
            }
        }
        let code = session.run(services: services)
        if code != 0 { throw CLIError("", code: code) }
    }
}
