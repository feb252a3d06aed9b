// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import Testing

/// Progress events and Compose's words for them.
struct ProgressEventTests {
    @Test func linesAndIDs() {
        let started = ProgressEvent.resource(.container, "web-1", "Started")
        #expect(started.line == "Container web-1  Started")
        #expect(started.id == "Container web-1" && started.text == "Started")
        #expect(ProgressEvent.resource(.network, "p_default", "Created").line == "Network p_default  Created")
        #expect(ProgressEvent.image(service: "db", text: "Pulling").line == "db Pulling")
        #expect(ProgressEvent.image(service: "db", text: "Pulling").id == "db")
        #expect(ProgressEvent.warning("volume x already exists").line == "WARN volume x already exists")
        #expect(ProgressEvent.warning("x").id == nil)
        #expect(ProgressEvent.output("#1 [web 1/2] FROM busybox").line == "#1 [web 1/2] FROM busybox")
    }
}
