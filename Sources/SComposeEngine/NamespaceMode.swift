// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// Whose namespace a service's container uses, as `network_mode`, `ipc` and `pid` say: read
/// once here instead of by prefix where each is used.
public enum NamespaceMode: Sendable, Equatable {
    /// A namespace of its own (unset; `bridge` for the network, `private`/`shareable` for ipc).
    case own
    /// The host's.
    case host
    /// A network namespace with loopback only (`network_mode: none`).
    case none
    /// That of the project's service's container (`service:NAME`).
    case service(String)
    /// That of a container by name or id (`container:NAME`).
    case container(String)
    /// Anything else, as written (an unsupported network mode).
    case other(String)

    public init(_ text: String?) {
        switch text {
        case nil, "bridge"?, "private"?, "shareable"?, ""?: self = .own
        case "host"?: self = .host
        case "none"?: self = .none
        case let text? where text.hasPrefix("service:"): self = .service(String(text.dropFirst("service:".count)))
        case let text? where text.hasPrefix("container:"): self = .container(String(text.dropFirst("container:".count)))
        case let text?: self = .other(text)
        }
    }

    /// The service whose container this one joins, if any.
    public var service: String? {
        if case .service(let name) = self { return name }
        return nil
    }
}

extension ServiceConfig {
    /// `network_mode`, read.
    var network: NamespaceMode { NamespaceMode(networkMode) }
}
