// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeRuntime

struct ContainerAttach: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach local standard input, output, and error streams to a running container")

    @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN")
    var noStdin = false

    @Flag(name: .customLong("sig-proxy"), inversion: .prefixedNo, help: "Proxy all received signals to the process")
    var sigProxy = true

    @Argument var container: String

    func run() throws {
        try ProjectContext.guardRoot()
        let engine = ContainerContext.engine()
        let c = try engine.container(reference: container)
        guard c.running else { throw CLIError("You cannot attach to a stopped container, start it first") }
        let shim = engine.shim(c.record.id)
        guard let spec = StateFile.read(ShimSpec.self, from: shim.files.spec), let socket = shim.attach(stdin: !noStdin && spec.stdinOpen) else {
            throw CLIError("cannot attach to \(c.record.name): its shim does not answer")
        }
        let code = AttachRelay(socket: socket, shim: shim, input: !noStdin && spec.stdinOpen, tty: spec.container.tty, proxySignals: sigProxy).run()
        if code != 0 { throw CLIError("", code: code) }
    }
}
