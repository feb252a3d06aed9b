// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import SComposeOS
import Testing

@testable import SComposeCLI

#if canImport(Glibc)
import Glibc
#endif

/// Compose's sentences for the engine's errors and progress, worded in one place.
struct ErrorWordingTests {
    func words(_ reason: EngineError.Reason) -> String { ErrorWording.message(EngineError(reason)) }

    @Test func composesSentences() {
        #expect(words(.noSuchService("web")) == "no such service: web")
        #expect(words(.serviceNotRunning("box")) == "service \"box\" is not running")
        #expect(words(.noSuchImage("nothing:1")) == "Error response from daemon: No such image: nothing:1")
        #expect(words(.containerPaused(id: "abc")) == "Error response from daemon: Container abc is paused, unpause the container before exec")
        #expect(words(.nameInUse("p-web-run-1")) == "Error response from daemon: Conflict. The container name \"/p-web-run-1\" is already in use")
        #expect(words(.undefined(service: nil, kind: "volume", name: "data")) == "service refers to undefined volume data: invalid compose project")
        #expect(words(.undefined(service: "web", kind: "secret", name: "nope")) == "service \"web\" refers to undefined secret nope: invalid compose project")
        #expect(words(.externalNotFound(kind: "network", name: "outside")) == "network outside declared as external, but could not be found")
        #expect(words(.externalNotFound(kind: "volume", name: "shared")) == "external volume \"shared\" not found")
        #expect(words(.dependencyUnhealthy(container: "p-db-1")) == "dependency failed to start: container p-db-1 is unhealthy")
        #expect(words(.dependencyFailed(service: "init", exitCode: 3)) == "service \"init\" didn't complete successfully: exit 3")
        #expect(words(.createTask("exec: \"nope\": not found")) == "Error response from daemon: failed to create task for container: exec: \"nope\": not found")
        #expect(words(.invalidValue(what: "capability", value: "FLY")) == "invalid capability: FLY")
        #expect(words(.hookFailed(kind: "pre_stop", container: "p-web-1", status: 2, output: "oops")) == "pre_stop hook of p-web-1 exited with status 2: oops")
    }

    @Test func failuresSayWhyFromTheirErrnoOrCause() {
        #expect(ErrorWording.message(EngineError(.failed(operation: "copy /a"), errno: ENOENT)) == "cannot copy /a: No such file or directory")
        let caused = EngineError(.failed(operation: "lock project p"), cause: FileError("open /x", errno: EACCES))
        #expect(ErrorWording.message(caused) == "cannot lock project p: open /x: Permission denied")
        #expect(ErrorWording.message(EngineError(.during("inotify"), errno: EMFILE)) == "inotify: Too many open files")
        // Lower layers' errors, passed on, keep their own words.
        let cycle = DependencyGraphError.cycle(["a", "b", "a"])
        #expect(ErrorWording.message(EngineError(passing: cycle)) == "\(cycle)")
        #expect(ErrorWording.message(FileError("open /y", errno: ENOENT)) == "open /y: No such file or directory")
    }

    @Test func progressLinesAndJSONFields() {
        let started = ProgressEvent.resource(.container, "web-1", "Started")
        #expect(ProgressOutput.line(started) == "Container web-1  Started")
        #expect(started.id == "Container web-1" && ProgressOutput.text(started) == "Started")
        #expect(ProgressOutput.line(.resource(.network, "p_default", "Created")) == "Network p_default  Created")
        #expect(ProgressOutput.line(.image(service: "db", text: "Pulling")) == "db Pulling")
        #expect(ProgressEvent.image(service: "db", text: "Pulling").id == "db")
        #expect(ProgressOutput.line(.warning("volume x already exists")) == "WARN volume x already exists")
        #expect(ProgressEvent.warning("x").id == nil)
        #expect(ProgressOutput.line(.output("#1 [web 1/2] FROM busybox")) == "#1 [web 1/2] FROM busybox")
        let failed = ProgressEvent.failed(.container, "web-1", EngineError(.containerNotRunning("web-1")))
        #expect(ProgressOutput.line(failed) == "Container web-1  Error: Error response from daemon: container web-1 is not running")
        #expect(failed.id == "Container web-1")
        let warned = ProgressEvent.warned(EngineError(.hookFailed(kind: "pre_stop", container: "w", status: 1, output: "")))
        #expect(ProgressOutput.line(warned) == "WARN pre_stop hook of w exited with status 1")
    }
}
