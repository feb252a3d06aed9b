// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeEngine
import SComposeLoader
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

struct ImageBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile")

    @Option(name: [.short, .long], help: "Name and optionally a tag (format: \"name:tag\")")
    var tag: [String] = []

    @Option(name: [.short, .long], help: "Name of the Dockerfile (default: \"PATH/Dockerfile\"; \"-\" for standard input)")
    var file: String?

    @Option(name: .customLong("build-arg"), help: "Set build-time variables")
    var buildArg: [String] = []

    @Option(name: .long, help: "Set the target build stage to build")
    var target: String?

    @Flag(name: .customLong("no-cache"), help: "Do not use cache when building the image")
    var noCache = false

    @Flag(name: .long, help: "Always attempt to pull all referenced images")
    var pull = false

    @Option(name: .long, help: "Set metadata for an image")
    var label: [String] = []

    @Flag(name: [.short, .long], help: "Suppress the build output and print image ID on success")
    var quiet = false

    @Option(name: .long, help: "Write the image ID to the file")
    var iidfile: String?

    @Argument(help: "The build context: a directory, or \"-\" for a Dockerfile on standard input")
    var context: String

    func run() throws {
        try ProjectContext.guardRoot()
        var options = ImageBuildOptions()
        let stdinDockerfile = context == "-" || file == "-"
        if stdinDockerfile {
            options.dockerfileText = String(decoding: Self.readStandardInput(), as: UTF8.self)
        }
        if context != "-" {
            let absolute = context.hasPrefix("/") ? context : FileSystem.currentDirectory() + "/" + context
            options.context = SComposeLoader.Path.clean(absolute)
        }
        if let file, file != "-" {
            options.dockerfile = file.hasPrefix("/") ? file : SComposeLoader.Path.clean(FileSystem.currentDirectory() + "/" + file)
        }
        options.tags = tag
        options.target = target
        options.noCache = noCache
        options.pull = pull
        options.quiet = quiet
        for entry in buildArg {
            // `--build-arg KEY` takes KEY from the environment, as Docker does.
            if let eq = entry.firstIndex(of: "=") {
                options.args[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
            } else if let value = Console.environment()[entry] {
                options.args[entry] = value
            }
        }
        for entry in label {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            options.labels[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        let image = try ContainerContext.engine().buildImage(options)
        if let iidfile { try FileOutput.write(image.id.description, to: iidfile) }
        if quiet { Console.out(image.id.description + "\n") }
    }

    static func readStandardInput() -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(0, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }
}
