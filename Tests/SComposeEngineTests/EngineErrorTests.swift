// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

@testable import SComposeEngine

#if canImport(Glibc)
import Glibc
#endif

/// Engine errors keep what callers switch on: their reason, their kind, and the errno of a
/// failed call.
struct EngineErrorTests {
    @Test func kindsFollowTheReason() {
        #expect(EngineError(.noSuchService("web")).kind == .notFound)
        #expect(EngineError(.undefined(service: nil, kind: "volume", name: "data")).kind == .invalid)
        #expect(EngineError(.unsupported("volume x: driver \"nfs\" is not supported")).kind == .unsupported)
        #expect(EngineError(.dependencyFailed(service: "db", exitCode: 3)).kind == .dependency)
        #expect(EngineError(.timedOut(waitingFor: "db")).kind == .timeout)
        #expect(EngineError(.createTask("x")).kind == .runtime)
        #expect(EngineError(.networkInUse(network: "n", by: "c")).kind == .conflict)
        #expect(EngineError(.createTask("x"), kind: .system).kind == .system)
    }

    @Test func lowerLayersPassThroughWithTheirKind() {
        let cycle = EngineError(passing: DependencyGraphError.cycle(["a", "b", "a"]))
        #expect(cycle.kind == .dependency)
        if case .passed(let text) = cycle.reason { #expect(text.contains("a")) } else { Issue.record("\(cycle)") }
        // An engine error passed again is itself.
        let inner = EngineError(.noSuchImage("x"))
        #expect(EngineError(passing: inner) == inner)
    }

    @Test func systemCallsKeepTheirErrno() {
        let e = EngineError(.failed(operation: "copy /a"), errno: ENOENT)
        #expect(e.kind == .system)
        #expect(e.errno == ENOENT)
        let wrapped = EngineError(.failed(operation: "lock"), cause: FileError("open /x", errno: EACCES))
        #expect(wrapped.errno == EACCES)
        #expect(wrapped.kind == .system)
        #expect(wrapped.cause == "open /x: Permission denied")
        #expect(EngineError(.noSuchService("x")).errno == nil)
        #expect(EngineError(.execFailed("no such file", exitCode: 127)).exitCode == 127)
        #expect(EngineError(.noSuchService("x")).exitCode == 1)
    }
}
