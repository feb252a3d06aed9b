// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

@testable import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

/// Engine errors keep what callers switch on: their kind, and the errno of a failed call.
struct EngineErrorTests {
    @Test func kindsFromComposesWording() {
        #expect(EngineError("no such service: web").kind == .notFound)
        #expect(EngineError("service refers to undefined volume data: invalid compose project").kind == .invalid)
        #expect(EngineError("volume x: driver \"nfs\" is not supported (local only)").kind == .unsupported)
        #expect(EngineError("dependency cycle detected: a -> b -> a").kind == .dependency)
        #expect(EngineError("timed out waiting for db").kind == .timeout)
        #expect(EngineError("Error response from daemon: failed to create task for container: x").kind == .runtime)
        #expect(EngineError("network n has changed but is in use by c of project p").kind == .conflict)
        #expect(EngineError("whatever", kind: .runtime).kind == .runtime)
    }

    @Test func systemCallsKeepTheirErrno() {
        let e = EngineError("cannot copy /a", errno: ENOENT)
        #expect(e.kind == .system)
        #expect(e.errno == ENOENT)
        #expect(e.description == "cannot copy /a: No such file or directory")
        let wrapped = EngineError("cannot lock", cause: FileError("open /x", errno: EACCES))
        #expect(wrapped.errno == EACCES)
        #expect(wrapped.kind == .system)
        #expect(wrapped.cause == "open /x: Permission denied")
        #expect(EngineError("no such service: x").errno == nil)
    }
}
