// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", _superCommandName: "scompose", abstract: "Attach local standard input, output, and error streams to a service's running container")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Index of the container if service has multiple replicas")
    var index: Int = 1

    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN")
    var noStdin = false

    @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching from a container")
    var detachKeys: String?

    @Flag(name: .customLong("sig-proxy"), inversion: .prefixedNo, help: "Proxy all received signals to the process")
    var sigProxy = true

    @Argument(help: "The service")
    var service: String

    func run() throws {
        try ProjectContext.guardRoot()
        let (_, containers) = try ProjectContext.containers(global, services: [service])
        guard let c = containers.first(where: { $0.record.number == index && !($0.record.labels[ComposeLabel.oneoff] == "True") })
            ?? containers.first, c.running
        else {
            throw CLIError("service \"\(service)\" is not running")
        }
        let shim = ProjectContext.engine().shim(c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: shim.files.spec),
            let socket = shim.attach(stdin: !noStdin && spec.stdinOpen)
        else {
            throw CLIError("cannot attach to \(c.record.name): its shim does not answer")
        }
        let code = AttachRelay(
            socket: socket, shim: shim, input: !noStdin && spec.stdinOpen, tty: spec.container.tty, proxySignals: sigProxy
        ).run()
        if code != 0 { throw CLIError("", code: code) }
    }
}
