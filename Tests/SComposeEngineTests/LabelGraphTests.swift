// SPDX-License-Identifier: Apache-2.0
@testable import SComposeEngine
import Testing

/// The order `stop`, `start`, `down` and `boot` take, from the `com.docker.compose.depends_on`
/// labels of existing containers.
@Suite struct LabelGraphTests {
    func container(_ service: String, _ number: Int = 1, dependsOn: String = "") -> ContainerStatus {
        let record = ContainerRecord(
            id: "\(service)\(number)", name: "demo-\(service)-\(number)", project: "demo", service: service, number: number,
            image: "busybox", imageID: "", command: [], created: "", configHash: "",
            labels: ["com.docker.compose.depends_on": dependsOn])
        return ContainerStatus(record: record, running: true)
    }

    func levels(_ containers: [ContainerStatus]) throws -> String {
        try Engine.downLevels(containers).map { $0.map(\.record.name).joined(separator: " ") }.joined(separator: " | ")
    }

    /// Dependants first; a level keeps the containers' order; dependencies on services with
    /// no container here (`stop web` alone) are no edges.
    @Test func dependantsStopFirst() throws {
        let containers = [
            container("db"), container("web", dependsOn: "db:service_healthy:true,cache:service_started:false"),
            container("proxy", dependsOn: "web:service_started:false"), container("web", 2, dependsOn: "db:service_healthy:true"),
            container("cache"), container("gone", dependsOn: "nothing:service_started:false"),
        ]
        #expect(try levels(containers) == "demo-proxy-1 demo-gone-1 | demo-web-1 demo-web-2 | demo-db-1 demo-cache-1")
        #expect(try levels(Array(containers[1...2])) == "demo-proxy-1 | demo-web-1")
        #expect(try levels([]) == "")
        let graph = Engine.labelGraph(containers.map(\.record))
        #expect(graph.nodes == ["cache", "db", "gone", "proxy", "web"])
        #expect(graph.dependencies(of: "web") == ["cache", "db"])
    }

    /// Labels written by different versions of the files can form a cycle: an error naming
    /// it, as Docker Compose's, rather than an order that ignores it.
    @Test func cycleAmongLabelsIsAnError() {
        let containers = [
            container("b", dependsOn: "a:service_started:false"), container("a", dependsOn: "b:service_started:false"),
            container("c", dependsOn: "a:service_started:false"),
        ]
        #expect(throws: EngineError.self) { try Engine.downLevels(containers) }
        do {
            _ = try Engine.downLevels(containers)
        } catch {
            #expect(error.reason == .passed("dependency cycle detected: a -> b -> a"))
        }
    }
}
