// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Credentials for a registry host.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var secret: String

    public init(username: String, secret: String) {
        self.username = username
        self.secret = secret
    }
}

/// The client side of the OCI distribution API: where a reference's registry is, how to
/// authenticate to it (anonymous, basic, or the bearer-token challenge of Docker Hub, GHCR and
/// the rest), and requests with retries for what is worth retrying.
public final class RegistryClient: Sendable {
    let transport: any HTTPTransport
    let credentials: @Sendable (String) -> RegistryCredentials?
    /// Bearer tokens by host and scope.
    let tokens = Mutex<[String: String]>([:])
    /// Retries after a network failure, 429 or 5xx, with this many seconds of back-off each.
    /// Seconds to wait before each retry.
    public let backoff: [UInt32]
    /// Pull-through mirrors of Docker Hub (`https://mirror.example.com`), tried in order before it.
    let mirrors: [String]

    public init(
        transport: any HTTPTransport, credentials: @escaping @Sendable (String) -> RegistryCredentials? = { _ in nil },
        backoff: [UInt32] = [1, 2, 4], mirrors: [String] = []
    ) {
        self.transport = transport
        self.credentials = credentials
        self.backoff = backoff
        self.mirrors = mirrors.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// `registry-mirrors` as Docker's daemon.json sets them, and `SCOMPOSE_REGISTRY_MIRRORS`
    /// (comma-separated URLs), which comes first.
    public static func configuredMirrors(environment: [String: String], daemonConfig: String = "/etc/docker/daemon.json") -> [String] {
        var out = (environment["SCOMPOSE_REGISTRY_MIRRORS"] ?? "").split(separator: ",").map {
            String($0.drop { $0 == " " })
        }.filter { !$0.isEmpty }
        if let bytes = try? Files.read(daemonConfig), let tree = try? JSONValue.parse(bytes),
            let list = tree.value("registry-mirrors")?.arrayValue
        {
            out += list.compactMap(\.stringValue)
        }
        return out.filter { $0.hasPrefix("https://") || $0.hasPrefix("http://") }
    }

    /// The host to talk to for a reference's domain (Docker Hub's API lives elsewhere).
    public static func apiHost(_ domain: String) -> String {
        domain == "docker.io" || domain == "index.docker.io" ? "registry-1.docker.io" : domain
    }

    /// Plain HTTP for registries on this machine, as Docker allows; HTTPS elsewhere.
    public static func scheme(_ host: String) -> String {
        let name = host.split(separator: ":").first.map(String.init) ?? host
        return name == "localhost" || name.hasPrefix("127.") || host.hasPrefix("[::1]") ? "http" : "https"
    }

    /// A request to `/v2/<repository>/<path>` of `domain`, authenticated as the registry asks.
    /// Reads from Docker Hub go to its mirrors first; a mirror that fails or lacks the content
    /// (any answer but 2xx) passes the request on to the next, and the last to Docker Hub.
    public func send(
        domain: String, repository: String, method: String = "GET", path: String, headers: [(String, String)] = [],
        body: [UInt8]? = nil, bodyFile: String? = nil, push: Bool = false,
        sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)? = nil
    ) throws(OCIError) -> HTTPResponse {
        let host = Self.apiHost(domain)
        if host == "registry-1.docker.io", !push, method == "GET" || method == "HEAD", !path.hasPrefix("/"), !path.contains("://") {
            for mirror in mirrors {
                let mirrorHost = String(mirror.split(separator: "/").dropFirst().first ?? "")
                guard let response = try? exchange(
                    host: mirrorHost, url: "\(mirror)/v2/\(repository)/\(path)", repository: repository, method: method, headers: headers,
                    body: nil, bodyFile: nil, push: false, sink: sink, retries: false),
                    (200..<300).contains(response.status)
                else { continue }
                return response
            }
        }
        // `path` may be a whole URL (an upload's Location) or relative to the repository.
        let url: String
        if path.hasPrefix("http://") || path.hasPrefix("https://") {
            url = path
        } else if path.hasPrefix("/") {
            url = "\(Self.scheme(host))://\(host)\(path)"
        } else {
            url = "\(Self.scheme(host))://\(host)/v2/\(repository)/\(path)"
        }
        return try exchange(
            host: host, url: url, repository: repository, method: method, headers: headers, body: body, bodyFile: bodyFile,
            push: push, sink: sink, retries: true)
    }

    /// One request to one registry: its challenge answered, its 429/5xx and broken transfers retried.
    func exchange(
        host: String, url: String, repository: String, method: String, headers: [(String, String)], body: [UInt8]?,
        bodyFile: String?, push: Bool, sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)?, retries: Bool
    ) throws(OCIError) -> HTTPResponse {
        let backoff = retries ? self.backoff : []
        let scope = "repository:\(repository):\(push ? "pull,push" : "pull")"
        var attempt = 0
        var authenticated = false
        while true {
            var request = HTTPRequest(method: method, url: url, headers: headers, body: body, bodyFile: bodyFile)
            if let token = tokens.withLock({ $0[host + " " + scope] }) { request.headers.append(("Authorization", token)) }
            var response: HTTPResponse
            do {
                response = try transport.send(request, sink: sink)
            } catch {
                // A broken body is the caller's to resume: what its sink took is not sent again.
                guard case .network = error, sink == nil, attempt < backoff.count else { throw error }
                sleep(backoff[attempt])
                attempt += 1
                continue
            }
            if response.status == 401 && !authenticated, let challenge = response.header("www-authenticate") {
                try authenticate(host: host, scope: scope, challenge: challenge)
                authenticated = true
                continue
            }
            if (response.status == 429 || response.status >= 500) && attempt < backoff.count {
                // Retry-After in seconds when the registry says, else our back-off.
                let wait = response.header("retry-after").flatMap { UInt32($0) }.map { min($0, 60) } ?? backoff[attempt]
                sleep(wait)
                attempt += 1
                continue
            }
            return response
        }
    }

    /// Answers a `WWW-Authenticate` challenge: basic credentials, or a bearer token from the
    /// realm (with the credentials, when there are any, for private repositories).
    func authenticate(host: String, scope: String, challenge: String) throws(OCIError) {
        let (kind, parameters) = Self.parseChallenge(challenge)
        let creds = credentials(host == "registry-1.docker.io" ? "https://index.docker.io/v1/" : host)
        if kind == "basic" {
            guard let creds else { return }
            tokens.withLock { $0[host + " " + scope] = "Basic " + Base64.encode(Array("\(creds.username):\(creds.secret)".utf8)) }
            return
        }
        guard kind == "bearer", let realm = parameters["realm"] else {
            throw .registry(status: 401, "unsupported authentication challenge from \(host): \(challenge)")
        }
        var query: [String] = []
        if let service = parameters["service"] { query.append("service=" + Self.percentEncode(service)) }
        query.append("scope=" + Self.percentEncode(parameters["scope"] ?? scope))
        var headers: [(String, String)] = []
        if let creds {
            headers.append(("Authorization", "Basic " + Base64.encode(Array("\(creds.username):\(creds.secret)".utf8))))
        }
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        var response = try transport.send(HTTPRequest(url: url, headers: headers), sink: nil)
        var attempt = 0
        while (response.status == 429 || response.status >= 500) && attempt < backoff.count {
            sleep(backoff[attempt])
            attempt += 1
            response = try transport.send(HTTPRequest(url: url, headers: headers), sink: nil)
        }
        guard response.status == 200, let tree = try? JSONValue.parse(response.body),
            let token = tree.value("token")?.stringValue ?? tree.value("access_token")?.stringValue
        else {
            throw .registry(
                status: response.status,
                "cannot get a token from \(realm) (\(response.status)): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        tokens.withLock { $0[host + " " + scope] = "Bearer " + token }
    }

    /// `Bearer realm="…",service="…",scope="…"` → ("bearer", parameters).
    static func parseChallenge(_ text: String) -> (String, [String: String]) {
        let trimmed = text.drop { $0 == " " }
        let kind = trimmed.prefix { $0 != " " }.lowercased()
        var parameters: [String: String] = [:]
        var rest = trimmed.dropFirst(kind.count)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            let key = rest.prefix { $0 != "=" }
            rest = rest.dropFirst(key.count)
            guard rest.first == "=" else { break }
            rest = rest.dropFirst()
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let c = rest.first, c != "\"" {
                    if c == "\\", let next = rest.dropFirst().first {
                        value.append(next)
                        rest = rest.dropFirst(2)
                        continue
                    }
                    value.append(c)
                    rest = rest.dropFirst()
                }
                rest = rest.dropFirst()
            } else {
                value = String(rest.prefix { $0 != "," })
                rest = rest.dropFirst(value.count)
            }
            parameters[key.trimmingSpaces.lowercased()] = value
        }
        return (kind, parameters)
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}
