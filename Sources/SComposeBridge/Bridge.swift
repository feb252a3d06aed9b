// SPDX-License-Identifier: Apache-2.0
import SComposeLoader
import SComposeOS
import SComposeSpec
import SComposeYAML

/// What `bridge convert` converts: the typed project, the model as `config` prints it (for the
/// keys a service sets and the `x-k8s` extensions, which the typed model leaves out), and the
/// two things a secret or config may be read from.
public struct BridgeInput: Sendable {
    /// The loaded project.
    public var project: ComposeProject
    /// The canonical model with its `x-` keys (`Render.project(_:extensions: true)`).
    public var model: JSONValue
    /// The interpolation variables (secrets and configs with `environment:`).
    public var environment: [String: String]
    /// Reads a secret's or config's `file:`; nil when it cannot be read. The only I/O of a
    /// conversion, given by the caller so the conversion stays a function of its input.
    public var readFile: @Sendable (String) -> [UInt8]?

    /// Creates an input.
    public init(
        project: ComposeProject, model: JSONValue, environment: [String: String] = [:],
        readFile: @escaping @Sendable (String) -> [UInt8]? = { _ in nil }
    ) {
        self.project = project
        self.model = model
        self.environment = environment
        self.readFile = readFile
    }

    /// The input of a loaded project: its rendered model with the `x-` keys, rendered again
    /// unless it was loaded with `ProjectOptions.renderExtensions`.
    public init(_ loaded: LoadedProject, readFile: @escaping @Sendable (String) -> [UInt8]?) throws(LoaderError) {
        let model = loaded.renderedExtensions ? loaded.rendered : try Render.project(loaded.model, extensions: true)
        self.init(project: loaded.project, model: model, environment: loaded.environment, readFile: readFile)
    }
}

/// The choices of `bridge convert`.
public struct BridgeOptions: Sendable, Equatable {
    /// The shape of the output.
    public enum Format: String, Sendable, CaseIterable {
        /// One manifest per object and a `kustomization.yaml` listing them.
        case kustomize
        /// A Helm chart: the same objects as templates, the tuned values in `values.yaml`.
        case helm
    }

    /// The output shape.
    public var format: Format = .kustomize
    /// The namespace; the project's name when nil.
    public var namespace: String?
    /// Published ports as NodePort Services instead of LoadBalancers.
    public var nodePorts = false
    /// Bind mounts as hostPath volumes (otherwise left out, with a warning).
    public var allowHostPaths = false
    /// The storage class of claims that name none in `x-k8s`.
    public var storageClass: String?
    /// The image of the init containers that wait for a dependency's Service.
    public var waitImage = "busybox:1.36"
    /// The image of the init containers that wait for a dependency's Job (it runs `kubectl wait`).
    public var kubectlImage = "registry.k8s.io/kubectl:v1.31.0"
    /// The cluster's DNS domain (the wait for a Service without ports looks its name up).
    public var clusterDomain = "cluster.local"

    /// Default options.
    public init() {}
}

/// One file of the output, its path relative to the output directory.
public struct BridgeFile: Sendable, Equatable {
    /// A relative path (`deployment-web.yaml`, `templates/service-db.yaml`).
    public var path: String
    /// The file's text.
    public var text: String

    /// Creates a file.
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// The result of a conversion.
public struct BridgeResult: Sendable {
    /// The files, sorted by path.
    public var files: [BridgeFile]
    /// What did not convert, or converted with a difference, one line each (also in `CONVERSION.md`).
    public var warnings: [String]
}

/// A project that cannot be converted, with the reason.
public struct BridgeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message for the user.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// `bridge convert`: a compose project → Kubernetes objects, as manifests for Kustomize or as a
/// Helm chart. Pure: no file is read except through `BridgeInput.readFile`, none is written.
public enum Bridge {
    /// Converts a project.
    public static func convert(_ input: BridgeInput, options: BridgeOptions = BridgeOptions()) throws(BridgeError) -> BridgeResult {
        var converter = try Converter(input: input, options: options)
        let objects = try converter.objects()
        var files: [BridgeFile]
        switch options.format {
        case .kustomize: files = Layout.kustomize(objects)
        case .helm: files = Layout.helm(objects, chart: converter.namespace)
        }
        files.append(BridgeFile(path: "CONVERSION.md", text: converter.notes.markdown(project: input.project.name)))
        files.sort { $0.path < $1.path }
        return BridgeResult(files: files, warnings: converter.notes.lines)
    }
}

/// One Kubernetes object: its kind and name (for the file name) and its whole tree.
struct KubeObject: Sendable {
    var kind: String
    var name: String
    var node: KubeNode

    /// An object with the usual header: `apiVersion`, `kind`, `metadata` (name, namespace, labels).
    init(_ apiVersion: String, _ kind: String, name: String, namespace: String?, labels: [String: String] = [:],
         annotations: [String: String] = [:], fields: [String: KubeNode])
    {
        self.kind = kind
        self.name = name
        var metadata: [String: KubeNode] = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        if !labels.isEmpty { metadata["labels"] = .strings(labels) }
        if !annotations.isEmpty { metadata["annotations"] = .strings(annotations) }
        var all = fields
        all["apiVersion"] = .string(apiVersion)
        all["kind"] = .string(kind)
        all["metadata"] = .map(metadata)
        node = .map(all)
    }

    /// `deployment-web.yaml`.
    var fileName: String { kind.lowercased() + "-" + name + ".yaml" }
}

/// Where the objects are written in each format.
enum Layout {
    static func kustomize(_ objects: [KubeObject]) -> [BridgeFile] {
        var files = Parallel.map(objects) { BridgeFile(path: $0.fileName, text: $0.node.yamlText(.manifest)) }
        let resources = files.map(\.path).sorted()
        let kustomization: KubeNode = [
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": .list(resources.map { .string($0) }),
        ]
        files.append(BridgeFile(path: "kustomization.yaml", text: kustomization.yamlText(.manifest)))
        return files
    }

    static func helm(_ objects: [KubeObject], chart: String) -> [BridgeFile] {
        var files = Parallel.map(objects) { BridgeFile(path: "templates/" + $0.fileName, text: $0.node.yamlText(.helm)) }
        var values: [[String]: KubeNode] = [:]
        for object in objects { object.node.tunables(into: &values) }
        let chartFile: KubeNode = [
            "apiVersion": "v2",
            "name": .string(chart),
            "description": .string("The compose project \(chart), converted by scompose bridge convert"),
            "type": "application",
            "version": "0.1.0",
        ]
        files.append(BridgeFile(path: "Chart.yaml", text: chartFile.yamlText(.manifest)))
        files.append(BridgeFile(path: "values.yaml", text: tree(values).yamlText(.manifest)))
        return files
    }

    /// `values.yaml` as a tree from the paths of the tunable values.
    static func tree(_ values: [[String]: KubeNode]) -> KubeNode {
        var root: [String: KubeNode] = [:]
        for (path, value) in values { insert(value, at: path[...], into: &root) }
        return .map(root)
    }

    private static func insert(_ value: KubeNode, at path: ArraySlice<String>, into map: inout [String: KubeNode]) {
        guard let first = path.first else { return }
        if path.count == 1 {
            map[first] = value
            return
        }
        var child: [String: KubeNode] = [:]
        if case .map(let existing)? = map[first] { child = existing }
        insert(value, at: path.dropFirst(), into: &child)
        map[first] = .map(child)
    }
}
