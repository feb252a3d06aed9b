// SPDX-License-Identifier: Apache-2.0
import SComposeOS
#if canImport(Glibc)
import Glibc
#endif

/// Registry credentials where Docker keeps them: `$DOCKER_CONFIG/config.json` (else
/// `~/.docker/config.json`): `auths` entries (base64 `auth`, or `username` and `password`),
/// and `credHelpers` / `credsStore` through the `docker-credential-<name> get` protocol.
public struct DockerCredentials: Sendable {
    let config: JSONValue?
    let path: String

    public init(environment: [String: String]) {
        let dir = environment["DOCKER_CONFIG"] ?? ((environment["HOME"] ?? "/root") + "/.docker")
        path = dir + "/config.json"
        config = (try? Files.read(path)).flatMap { try? JSONValue.parse($0) }
    }

    /// `docker.io` as Docker names its entry, other hosts as they are.
    static func key(_ host: String) -> String {
        host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" ? "https://index.docker.io/v1/" : host
    }

    /// The host of an `auths` key (`https://host/v1/` → `host`).
    static func host(ofKey key: String) -> String {
        var s = Substring(key)
        for prefix in ["https://", "http://"] where s.hasPrefix(prefix) { s = s.dropFirst(prefix.count) }
        return String(s.prefix { $0 != "/" })
    }

    /// The credentials for a registry host, if any are configured.
    public func lookup(_ host: String) -> RegistryCredentials? {
        guard let config else { return nil }
        let wanted = Self.key(host)
        let wantedHost = Self.host(ofKey: wanted)
        if let helper = config.value("credHelpers")?.value(wantedHost)?.stringValue ?? config.value("credHelpers")?.value(wanted)?.stringValue {
            return Self.fromHelper(helper, server: wanted)
        }
        if case .object(let entries)? = config.value("auths") {
            for (key, entry) in entries where key == wanted || Self.host(ofKey: key) == wantedHost {
                if let auth = entry.value("auth")?.stringValue, let decoded = Base64.decode(auth) {
                    let text = String(decoding: decoded, as: UTF8.self)
                    if let colon = text.firstIndex(of: ":") {
                        return RegistryCredentials(username: String(text[..<colon]), secret: String(text[text.index(after: colon)...]))
                    }
                }
                if let user = entry.value("username")?.stringValue, let password = entry.value("password")?.stringValue {
                    return RegistryCredentials(username: user, secret: password)
                }
            }
        }
        if let store = config.value("credsStore")?.stringValue { return Self.fromHelper(store, server: wanted) }
        return nil
    }

    /// `docker-credential-<helper> get` with the server on its input; nil when it has none.
    static func fromHelper(_ helper: String, server: String) -> RegistryCredentials? {
        guard helper.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else { return nil }
        guard
            let result = try? Subprocess.run(
                ["docker-credential-" + helper, "get"], input: Array(server.utf8), searchPath: true, inheritEnvironment: true,
                mergeErrors: false),
            result.status == 0
        else { return nil }
        let reply = result.output
        guard let tree = try? JSONValue.parse(reply), let user = tree.value("Username")?.stringValue,
            let secret = tree.value("Secret")?.stringValue
        else { return nil }
        return RegistryCredentials(username: user, secret: secret)
    }
}
