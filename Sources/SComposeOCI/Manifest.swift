// SPDX-License-Identifier: Apache-2.0

/// Media types of the OCI and Docker image formats.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
}

/// A content descriptor.
public struct Descriptor: Sendable, Codable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: Platform?

    public init(mediaType: String, digest: Digest, size: Int64) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
    }
}

/// A platform of an index entry.
public struct Platform: Sendable, Codable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?

    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }
}

extension Platform {
    /// Whether two platforms name the same machines: `arm64` and `arm64/v8` are one, as
    /// registries and indexes write both.
    public func matches(_ other: Platform) -> Bool {
        os == other.os && architecture == other.architecture && normalizedVariant == other.normalizedVariant
    }

    var normalizedVariant: String? {
        switch (architecture, variant) {
        case ("arm64", "v8"), (_, ""): return nil
        default: return variant
        }
    }
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
public struct ImageIndex: Sendable, Codable, Equatable {
    public var schemaVersion: Int = 2
    public var mediaType: String?
    public var manifests: [Descriptor]

    public init(mediaType: String, manifests: [Descriptor]) {
        self.mediaType = mediaType
        self.manifests = manifests
    }
}

/// An image manifest (OCI or Docker schema 2; same shape).
public struct Manifest: Sendable, Codable, Equatable {
    public var schemaVersion: Int = 2
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(mediaType: String, config: Descriptor, layers: [Descriptor]) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
    }
}

/// An image configuration: what a container of the image runs, and its layers' diff IDs.
public struct ImageConfig: Sendable, Codable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?
    public var created: String?
    public var author: String?
    public var config: ContainerDefaults?
    public var rootfs: RootFS
    public var history: [History]?

    public init(architecture: String, os: String, rootfs: RootFS) {
        self.architecture = architecture
        self.os = os
        self.rootfs = rootfs
    }

    /// The container settings of an image (Docker's capitalized keys).
    public struct ContainerDefaults: Sendable, Codable, Equatable {
        public var User: String?
        public var ExposedPorts: [String: Empty]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: Empty]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?
        public var Healthcheck: HealthConfig?
        public var Shell: [String]?
        public var OnBuild: [String]?

        public init() {}
    }

    /// `{}` in JSON.
    public struct Empty: Sendable, Codable, Equatable {
        public init() {}
    }

    /// An image's HEALTHCHECK; durations in nanoseconds.
    public struct HealthConfig: Sendable, Codable, Equatable {
        public var Test: [String]?
        public var Interval: Int64?
        public var Timeout: Int64?
        public var StartPeriod: Int64?
        public var StartInterval: Int64?
        public var Retries: Int?

        public init() {}
    }

    /// The layer list.
    public struct RootFS: Sendable, Codable, Equatable {
        public var type: String = "layers"
        public var diff_ids: [Digest]

        public init(diffIDs: [Digest]) {
            diff_ids = diffIDs
        }
    }

    /// One step of the image's history.
    public struct History: Sendable, Codable, Equatable {
        public var created: String?
        public var created_by: String?
        public var author: String?
        public var comment: String?
        public var empty_layer: Bool?

        public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            created_by = createdBy
            self.comment = comment
            empty_layer = emptyLayer
        }
    }
}
