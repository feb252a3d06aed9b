// SPDX-License-Identifier: Apache-2.0
import SComposeBuild
import SComposeOCI
import SComposeOS

/// `image build`'s flags (Docker's `docker build`), with no compose file.
public struct ImageBuildOptions: Sendable {
    /// The context directory; nil for none (a Dockerfile from standard input alone).
    public var context: String?
    /// `-f`: the Dockerfile's path (relative to the context unless absolute).
    public var dockerfile: String?
    /// The Dockerfile's text, when read from standard input (`-` or `-f -`).
    public var dockerfileText: String?
    public var tags: [String] = []
    public var args: [String: String] = [:]
    public var labels: [String: String] = [:]
    public var target: String?
    public var noCache = false
    public var pull = false
    /// No progress lines.
    public var quiet = false

    public init() {}
}

extension Engine {
    /// `image build`: the builder on a context, the image named with its tags. Progress lines
    /// go to `buildOutput` (BuildKit's plain form), unless quiet.
    public func buildImage(_ options: ImageBuildOptions) throws -> ImageRecord {
        let store = try ImageStore(root: root)
        var scratch: String?
        defer { if let scratch { Files.removeTree(scratch) } }
        var context = options.context
        if context == nil {
            // A Dockerfile alone: an empty context, as Docker sends one.
            try mkdirs(root + "/tmp")
            let dir = root + "/tmp/context-" + Digest.random().hex.prefix(12)
            try mkdirs(dir)
            scratch = dir
            context = dir
        }
        var request = BuildRequest(context: context ?? "")
        request.dockerfile = options.dockerfile
        request.dockerfileInline = options.dockerfileText
        request.args = options.args
        request.labels = options.labels
        request.target = options.target
        request.tags = options.tags
        request.noCache = options.noCache
        request.pull = options.pull
        return try runBuilder(request, store: store, quiet: options.quiet)
    }
}
