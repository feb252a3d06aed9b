// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Orders, levels and subgraphs of the dependency graph, as text.
@Suite struct DependencyGraphTests {
    /// db ← web ← proxy; worker depends on web and db; cache on nothing.
    let graph = DependencyGraph([
        ("db", []), ("web", ["db"]), ("proxy", ["web"]), ("worker", ["web", "db"]), ("cache", []),
    ])

    func text(_ levels: [[String]]) -> String {
        levels.map { $0.joined(separator: " ") }.joined(separator: " | ")
    }

    /// What `body` throws, as text.
    func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func orders() throws {
        #expect(try graph.order(.up).joined(separator: " ") == "db web proxy worker cache")
        #expect(try graph.order(.down).joined(separator: " ") == "cache worker proxy web db")
    }

    @Test func levels() throws {
        #expect(try text(graph.levels(.up)) == "db cache | web | proxy worker")
        #expect(try text(graph.levels(.down)) == "proxy worker cache | web | db")
        #expect(try DependencyGraph<String>([]).levels(.up).isEmpty)
    }

    @Test func dependantsAndRepeatedEntries() {
        #expect(graph.dependants(of: "web") == ["proxy", "worker"])
        #expect(graph.dependants(of: "db") == ["web", "worker"])
        let merged = DependencyGraph([("a", ["b"]), ("b", []), ("a", ["c", "b"]), ("c", [])])
        #expect(merged.nodes == ["a", "b", "c"])
        #expect(merged.dependencies(of: "a") == ["b", "c"])
    }

    @Test func subgraphs() throws {
        let proxy = graph.subgraph(["proxy"], withDependencies: true)
        #expect(proxy.nodes == ["proxy", "db", "web"])
        #expect(try proxy.order(.up) == ["db", "web", "proxy"])
        #expect(try text(proxy.levels(.down)) == "proxy | web | db")
        // Without dependencies the targets keep only the edges among themselves.
        let alone = graph.subgraph(["proxy", "db"], withDependencies: false)
        #expect(try alone.order(.up) == ["proxy", "db"])
        #expect(try graph.subgraph(["worker", "db"], withDependencies: false).order(.up) == ["db", "worker"])
        // Names not in the graph are left out.
        #expect(graph.subgraph(["nope", "cache"], withDependencies: true).nodes == ["cache"])
    }

    /// Cycles are named as Docker Compose names them, from where the search met them.
    @Test func cycles() {
        let twoNodes = DependencyGraph([("a", ["b"]), ("b", ["a"])])
        #expect(error { _ = try twoNodes.order(.up) } == "dependency cycle detected: a -> b -> a")
        #expect(error { _ = try twoNodes.levels(.down) } == "dependency cycle detected: a -> b -> a")
        #expect(error { try DependencyGraph([("a", ["a"])]).validate() } == "dependency cycle detected: a -> a")
        let entered = DependencyGraph([("x", ["a"]), ("a", ["b"]), ("b", ["c"]), ("c", ["a"])])
        #expect(error { try entered.validate() } == "dependency cycle detected: a -> b -> c -> a")
        #expect(throws: DependencyGraphError.cycle(["a", "b", "c", "a"])) { try entered.validate() }
        // A subgraph that leaves the cycle out orders fine.
        #expect(error { try entered.subgraph(["x"], withDependencies: false).validate() } == "no error")
    }

    @Test func unknownDependencies() {
        let graph = DependencyGraph([("a", ["b"]), ("b", ["zz"])])
        #expect(error { _ = try graph.order(.up) } == "b depends on zz, which is not known")
        #expect(throws: DependencyGraphError.unknownDependency(node: "b", dependency: "zz")) { try graph.validate() }
        // Kept by a subgraph with dependencies, dropped by one without.
        #expect(throws: DependencyGraphError.self) { try graph.subgraph(["a"], withDependencies: true).validate() }
        #expect(error { try graph.subgraph(["b"], withDependencies: false).validate() } == "no error")
    }
}

/// The parallel walker, for real on threads.
@Suite struct WalkTests {
    struct Failure: Error, Equatable { var node: String }

    /// What the jobs did, in order: "+x" when x starts, "-x" when it ends.
    final class Log: Sendable {
        let events = Mutex<[String]>([])
        let running = Mutex<(now: Int, most: Int)>((0, 0))

        func begin(_ node: String) {
            events.withLock { $0.append("+" + node) }
            running.withLock { $0 = ($0.now + 1, max($0.most, $0.now + 1)) }
        }

        func end(_ node: String) {
            running.withLock { $0.now -= 1 }
            events.withLock { $0.append("-" + node) }
        }

        var list: [String] { events.withLock { $0 } }
        var started: [String] { list.filter { $0.hasPrefix("+") }.map { String($0.dropFirst()) } }
        var most: Int { running.withLock { $0.most } }
    }

    let graph = DependencyGraph([
        ("db", []), ("web", ["db"]), ("proxy", ["web"]), ("worker", ["web", "db"]), ("cache", []),
    ])

    /// Every node runs once, after all its dependencies ended (going up) or all its dependants
    /// ended (going down).
    @Test(arguments: [DependencyGraph<String>.Direction.up, .down])
    func nodesStartAfterWhatTheyWaitFor(direction: DependencyGraph<String>.Direction) throws {
        let log = Log()
        try graph.walk(direction, limit: 8) { node in
            log.begin(node)
            usleep(5_000)
            log.end(node)
        }
        let events = log.list
        #expect(log.started.sorted() == graph.nodes.sorted())
        for node in graph.nodes {
            guard let start = events.firstIndex(of: "+" + node) else { continue }
            let first = direction == .up ? graph.dependencies(of: node) : graph.dependants(of: node)
            for other in first {
                let end = events.firstIndex(of: "-" + other)
                #expect(end.map { $0 < start } == true, "\(node) started before \(other) ended: \(events)")
            }
        }
    }

    /// One at a time, the order is fixed: of the nodes that may start, the earliest in the graph.
    @Test func oneAtATimeInTheGraphsOrder() throws {
        let log = Log()
        try graph.walk(limit: 1) { node in
            log.begin(node)
            log.end(node)
        }
        #expect(log.started == ["db", "web", "proxy", "worker", "cache"])
        let down = Log()
        try graph.walk(.down, limit: 1) { node in
            down.begin(node)
            down.end(node)
        }
        #expect(down.started == ["proxy", "worker", "web", "db", "cache"])
    }

    @Test func limitIsRespected() throws {
        let log = Log()
        try Parallel.forEach(Array(0..<12), limit: 3) { i in
            log.begin("\(i)")
            usleep(30_000)
            log.end("\(i)")
        }
        #expect(log.started.count == 12)
        #expect(log.most == 3, "\(log.most) at once")
    }

    /// After a failure nothing new starts (not even what does not depend on the failed job);
    /// the running jobs end, and the failure is what the walk throws.
    @Test func failureStopsTheWalk() {
        let log = Log()
        let graph = DependencyGraph([("slow", []), ("bad", []), ("after", ["bad"]), ("other", []), ("more", [])])
        #expect(throws: Failure(node: "bad")) {
            try graph.walk(limit: 2) { node in
                log.begin(node)
                if node == "slow" { usleep(100_000) }
                defer { log.end(node) }
                if node == "bad" { throw Failure(node: "bad") }
            }
        }
        #expect(log.started.sorted() == ["bad", "slow"])
        #expect(log.list.contains("-slow"), "the running job was waited for")
    }

    /// A walk that could never finish throws before any job runs.
    @Test func unwalkableGraphsThrowFirst() {
        let log = Log()
        #expect(throws: DependencyGraphError.unknownDependency(node: "web", dependency: "db")) {
            try DependencyGraph([("cache", []), ("web", ["db"])]).walk(limit: 4) { log.begin($0) }
        }
        #expect(throws: DependencyGraphError.cycle(["a", "b", "a"])) {
            try DependencyGraph([("c", []), ("a", ["b"]), ("b", ["a"])]).walk(limit: 4) { log.begin($0) }
        }
        #expect(log.started.isEmpty)
    }

    /// Cancelled, no job starts after the flag is seen; the walk throws `.cancelled`.
    @Test func cancellation() throws {
        let cancellation = Cancellation()
        let log = Log()
        #expect(throws: DependencyGraphError.cancelled) {
            try graph.walk(limit: 1, cancellation: cancellation) { node in
                log.begin(node)
                if node == "web" { cancellation.cancel() }
                log.end(node)
            }
        }
        #expect(log.started == ["db", "web"])
        #expect(cancellation.isCancelled)
        // Cancelled before it starts: nothing runs.
        #expect(throws: DependencyGraphError.cancelled) {
            try Parallel.forEach([1, 2, 3], limit: 2, cancellation: cancellation) { _ in log.begin("late") }
        }
        #expect(!log.started.contains("late"))
        // Nothing to do is no cancellation.
        try Parallel.forEach([Int](), limit: 2, cancellation: cancellation) { _ in }
    }
}

/// `Parallel.map`: the same result as `map`, in order, whether the input is split over threads
/// or (small) kept on the caller's.
@Suite struct ParallelMapTests {
    @Test func keepsTheOrderOfLargeAndSmallInputs() {
        for count in [0, 1, 7, 8, 15, 16, 17, 1000] {
            let items = Array(0..<count)
            #expect(Parallel.map(items) { $0 * 3 + 1 } == items.map { $0 * 3 + 1 })
        }
    }

    @Test func runsEachItemOnce() {
        let calls = Mutex(0)
        let result = Parallel.map(Array(0..<500)) { item -> String in
            calls.withLock { $0 += 1 }
            return String(item)
        }
        #expect(calls.withLock { $0 } == 500)
        #expect(result.last == "499")
    }
}
