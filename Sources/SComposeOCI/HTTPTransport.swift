// SPDX-License-Identifier: Apache-2.0
import CDynamic
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One request of the registry client.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// A file sent as the body, read as it goes (layers are large).
    public var bodyFile: String?

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, bodyFile: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.bodyFile = bodyFile
    }
}

/// A response: its status, its headers (names in lower case) and, unless it was streamed to a
/// sink, its body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: [String]]
    public var body: [UInt8]

    public init(status: Int, headers: [String: [String]] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? { headers[name.lowercased()]?.first }
}

/// How the registry client talks HTTP: libcurl in scompose, a fake in tests.
public protocol HTTPTransport: Sendable {
    /// Sends `request` (following redirects, never sending its credentials to another host).
    /// With `sink`, the body of a 2xx response goes to it in pieces instead of into the response.
    func send(_ request: HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)?) throws(OCIError) -> HTTPResponse
}

/// HTTP over libcurl (loaded on first use): TLS with the system's CA certificates, HTTP/2 where
/// the server offers it, proxies from the usual environment variables, kept-alive connections
/// (each thread takes a handle from a small pool and puts it back).
public final class CurlTransport: HTTPTransport {
    /// Idle handles, as addresses (pointers are not `Sendable`).
    private let pool = Mutex<[UInt]>([])

    public init() {}

    deinit {
        for handle in pool.withLock({ $0 }) { sc_curl_easy_cleanup(UnsafeMutableRawPointer(bitPattern: handle)) }
    }

    /// What a transfer's callbacks fill in.
    final class Transfer {
        var status = 0
        var headers: [String: [String]] = [:]
        var body: [UInt8] = []
        var sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)?
        var failure: OCIError?
        var upload: [UInt8] = []
        var uploaded = 0
        /// The body file, when the body is one.
        var uploadFD: Int32 = -1
    }

    public func send(_ request: HTTPRequest, sink: ((UnsafeRawBufferPointer) throws(OCIError) -> Void)?) throws(OCIError) -> HTTPResponse {
        guard let raw = pool.withLock({ $0.popLast() }).flatMap({ UnsafeMutableRawPointer(bitPattern: $0) }) ?? sc_curl_easy_init() else {
            throw .network("cannot start an HTTP transfer")
        }
        defer { pool.withLock { $0.append(UInt(bitPattern: raw)) } }
        let curl = raw
        let transfer = Transfer()
        transfer.sink = sink
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { sc_curl_slist_free_all(list) }
        for (name, value) in request.headers { list = sc_curl_slist_append(list, "\(name): \(value)") }
        // Reset what an earlier request on this handle set.
        _ = sc_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
        _ = sc_curl_setopt_long(curl, CURLOPT_NOBODY, request.method == "HEAD" ? 1 : 0)
        _ = sc_curl_setopt_pointer(curl, CURLOPT_CUSTOMREQUEST, nil)
        let url = strdup(request.url)
        defer { free(url) }
        _ = sc_curl_setopt_pointer(curl, CURLOPT_URL, url)
        _ = sc_curl_setopt_pointer(curl, CURLOPT_HTTPHEADER, list)
        _ = sc_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 1)
        _ = sc_curl_setopt_long(curl, CURLOPT_MAXREDIRS, 10)
        _ = sc_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, 30)
        // A transfer that stalls for a minute fails (and is retried), however long it is.
        _ = sc_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = sc_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, 60)
        _ = sc_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        let agent = strdup("scompose/\(ImageStore.userAgentVersion)")
        defer { free(agent) }
        _ = sc_curl_setopt_pointer(curl, CURLOPT_USERAGENT, agent)
        let method = strdup(request.method)
        defer { free(method) }
        if request.method != "GET" && request.method != "HEAD" {
            _ = sc_curl_setopt_pointer(curl, CURLOPT_CUSTOMREQUEST, method)
        }
        if request.body != nil || request.bodyFile != nil {
            var length = Int64(request.body?.count ?? 0)
            if let path = request.bodyFile {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw .io("open \(path)", errno) }
                var st = stat()
                fstat(fd, &st)
                length = Int64(st.st_size)
                transfer.uploadFD = fd
            } else if let body = request.body {
                transfer.upload = body
            }
            _ = sc_curl_setopt_long(curl, CURLOPT_UPLOAD, 1)
            _ = sc_curl_setopt_offset(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
            _ = sc_curl_setopt_pointer(curl, CURLOPT_READDATA, context.toOpaque())
            let read: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { buffer, size, count, data in
                guard let buffer, let data else { return 0 }
                let t = Unmanaged<Transfer>.fromOpaque(data).takeUnretainedValue()
                if t.uploadFD >= 0 {
                    while true {
                        let n = Glibc.read(t.uploadFD, buffer, size * count)
                        if n < 0 && errno == EINTR { continue }
                        return n < 0 ? 0x1000_0000 /* CURL_READFUNC_ABORT */ : n
                    }
                }
                let n = min(size * count, t.upload.count - t.uploaded)
                t.upload.withUnsafeBytes { src in
                    if let base = src.baseAddress { memcpy(buffer, base + t.uploaded, n) }
                }
                t.uploaded += n
                return n
            }
            _ = sc_curl_setopt_pointer(curl, CURLOPT_READFUNCTION, unsafeBitCast(read, to: UnsafeRawPointer.self))
        } else {
            _ = sc_curl_setopt_long(curl, CURLOPT_UPLOAD, 0)
        }
        defer { if transfer.uploadFD >= 0 { close(transfer.uploadFD) } }
        let header: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { buffer, size, count, data in
            guard let buffer, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(data).takeUnretainedValue()
            let n = size * count
            let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self)
            if line.hasPrefix("HTTP/") {
                // A new response (after a redirect or a 100): its headers replace the last ones.
                t.headers = [:]
                t.status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                var value = line[line.index(after: colon)...]
                while value.first == " " { value = value.dropFirst() }
                // "\r\n" is one Character: isNewline covers it.
                while let last = value.last, last.isNewline || last == " " { value = value.dropLast() }
                t.headers[name, default: []].append(String(value))
            }
            return n
        }
        let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { buffer, size, count, data in
            guard let buffer, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(data).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
            if let sink = t.sink, (200..<300).contains(t.status) {
                do throws(OCIError) {
                    try sink(bytes)
                } catch {
                    t.failure = error
                    return 0
                }
            } else if t.body.count < 1 << 22 {
                t.body += bytes
            }
            return size * count
        }
        _ = sc_curl_setopt_pointer(curl, CURLOPT_HEADERFUNCTION, unsafeBitCast(header, to: UnsafeRawPointer.self))
        _ = sc_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, context.toOpaque())
        _ = sc_curl_setopt_pointer(curl, CURLOPT_WRITEFUNCTION, unsafeBitCast(write, to: UnsafeRawPointer.self))
        _ = sc_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, context.toOpaque())
        let code = sc_curl_easy_perform(curl)
        if let failure = transfer.failure { throw failure }
        guard code == CURLE_OK else {
            let message = sc_curl_easy_strerror(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            if code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_COULDNT_CONNECT {
                throw .unreachable("\(request.method) \(request.url): \(message)")
            }
            throw .network("\(request.method) \(request.url): \(message)")
        }
        return HTTPResponse(status: transfer.status, headers: transfer.headers, body: transfer.body)
    }
}
