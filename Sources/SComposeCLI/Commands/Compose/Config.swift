// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader

/// `scompose config`: parse, resolve and render the compose files in canonical form.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", _superCommandName: "scompose", 
        abstract: "Parse, resolve and render compose file in canonical format")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Format the output. Values: [yaml | json]")
    var format: String = "yaml"

    @Flag(name: [.short, .long], help: "Only validate the configuration, don't print anything")
    var quiet = false

    @Flag(name: .long, help: "Print the service names, one per line")
    var services = false

    @Flag(name: .long, help: "Print the volume names, one per line")
    var volumes = false

    @Flag(name: .long, help: "Print the network names, one per line")
    var networks = false

    @Flag(name: .long, help: "Print the profile names, one per line")
    var profiles = false

    @Flag(name: .long, help: "Print the image names, one per line")
    var images = false

    @Flag(name: .long, help: "Print model variables and default values")
    var variables = false

    @Flag(name: .long, help: "Print environment used for interpolation")
    var environment = false

    @Flag(name: .customLong("no-interpolate"), help: "Don't interpolate environment variables")
    var noInterpolate = false

    @Flag(name: .customLong("no-normalize"), help: "Don't normalize compose model")
    var noNormalize = false

    @Flag(name: .customLong("no-path-resolution"), help: "Don't resolve file paths")
    var noPathResolution = false

    @Flag(name: .customLong("no-consistency"), help: "Don't check model consistency")
    var noConsistency = false

    @Option(name: [.short, .long], help: "Save to file (default to stdout)")
    var output: String?

    @Argument(help: "Services to show (their profiles are enabled)")
    var serviceNames: [String] = []

    func run() throws {
        let (text, warnings) = try output(options: global.projectOptions())
        for warning in warnings { Console.warn(warning) }
        if quiet { return }
        if let output {
            try FileOutput.write(text, to: output)
        } else {
            Console.out(text)
        }
    }

    /// The text to print and the warnings, for loader options built from the global flags.
    func output(options: ProjectOptions) throws -> (text: String, warnings: [String]) {
        guard let outputFormat = Render.OutputFormat(rawValue: format) else {
            throw CLIError("unsupported format \"\(format)\"")
        }
        var options = options
        options.interpolate = !noInterpolate
        options.normalize = !noNormalize
        options.resolvePaths = !noPathResolution
        options.consistency = !noConsistency
        options.services = serviceNames
        let project = try Loader.load(options)
        var model = project.model
        if !serviceNames.isEmpty, var all = model["services"]?.map {
            for name in serviceNames where all[name] == nil {
                throw CLIError("no such service: \(name)")
            }
            for name in all.keys where !serviceNames.contains(name) { all[name] = nil }
            model["services"] = Node(.map(all))
        }
        if quiet { return ("", project.warnings) }
        var text = ""
        let services = model["services"]?.map ?? OrderedMap()
        if self.services {
            text = services.keys.map { $0 + "\n" }.joined()
        } else if volumes {
            text = (model["volumes"]?.map?.keys ?? []).map { $0 + "\n" }.joined()
        } else if networks {
            text = (model["networks"]?.map?.keys ?? []).map { $0 + "\n" }.joined()
        } else if profiles {
            text = project.profiles.map { $0 + "\n" }.joined()
        } else if images {
            text = services.map { name, s in
                (s["image"]?.string ?? "\(project.name)-\(name)") + "\n"
            }.joined()
        } else if environment {
            text = project.environment.keys.sorted().map { "\($0)=\(project.environment[$0] ?? "")\n" }.joined()
        } else {
            let rendered =
                serviceNames.isEmpty && outputFormat == .json
                ? project.rendered : try Render.project(model, extensions: outputFormat == .yaml)
            text = Render.text(rendered, format: outputFormat, escapeDollars: !noInterpolate)
        }
        return (text, project.warnings)
    }
}
