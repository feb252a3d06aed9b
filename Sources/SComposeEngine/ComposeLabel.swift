// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// The `com.docker.compose.*` labels Compose puts on containers, networks and volumes, which
/// scripts and IDEs read: the keys are Compose's, written in one place.
public enum ComposeLabel {
    public static let project = "com.docker.compose.project"
    public static let service = "com.docker.compose.service"
    public static let containerNumber = "com.docker.compose.container-number"
    public static let oneoff = "com.docker.compose.oneoff"
    public static let slug = "com.docker.compose.slug"
    public static let configHash = "com.docker.compose.config-hash"
    public static let workingDir = "com.docker.compose.project.working_dir"
    public static let configFiles = "com.docker.compose.project.config_files"
    public static let image = "com.docker.compose.image"
    public static let version = "com.docker.compose.version"
    public static let dependsOn = "com.docker.compose.depends_on"
    public static let network = "com.docker.compose.network"
    public static let volume = "com.docker.compose.volume"
    /// Docker's own mark on a volume made for an anonymous mount.
    public static let anonymousVolume = "com.docker.volume.anonymous"

    /// `depends_on`'s label value: `service:condition:restart` entries, sorted, comma-separated.
    static func dependsOnValue(_ dependsOn: [String: Dependency]) -> String {
        dependsOn.keys.sorted().map {
            "\($0):\(dependsOn[$0]?.condition.rawValue ?? "service_started"):\(dependsOn[$0]?.restart ?? false)"
        }.joined(separator: ",")
    }

    /// The entries of a `depends_on` label value: each service with its condition (nil when
    /// the label does not name a known one).
    public static func dependsOnEntries(_ value: String?) -> [(service: String, condition: Dependency.Condition?)] {
        (value ?? "").split(separator: ",").compactMap { entry in
            let fields = entry.split(separator: ":")
            guard let service = fields.first else { return nil }
            return (String(service), fields.count > 1 ? Dependency.Condition(rawValue: String(fields[1])) : nil)
        }
    }
}
