// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A flag that stops a walk from starting more jobs (set from a signal handler's thread, for
/// example, so that Ctrl-C ends `up` between services rather than in the middle of one).
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks walks using this flag to start no further job. Jobs already running are left to end.
    public func cancel() { flag.store(true, ordering: .releasing) }

    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

extension DependencyGraph {
    /// Runs `body` for every node on threads, at most `limit` at once: going `.up` a node starts
    /// once its dependencies are done, going `.down` once its dependants are. Among the nodes
    /// that may start, the earlier in the graph's order goes first.
    ///
    /// A graph that could never be walked to the end (an unknown dependency, a cycle) throws
    /// before any job starts, rather than hanging or leaving nodes out. After a job fails, or
    /// once `cancellation` is set, no new job starts; the running ones are waited for, then the
    /// first job's error (or `DependencyGraphError.cancelled`) is thrown.
    public func walk(
        _ direction: Direction = .up, limit: Int, cancellation: Cancellation? = nil,
        _ body: @escaping @Sendable (Node) throws -> Void
    ) throws {
        try validate()
        guard !nodes.isEmpty else { return }
        let before = predecessors(direction)
        var after = [[Int]](repeating: [], count: nodes.count)
        for (i, list) in before.enumerated() {
            for j in list { after[j].append(i) }
        }
        var waitingFor = before.map(\.count)
        // Kept sorted so that ties go in the graph's order.
        var ready = nodes.indices.filter { waitingFor[$0] == 0 }
        let finished = Mutex<[(Int, (any Error)?)]>([])
        let signal = DispatchSemaphore(value: 0)
        var running = 0
        var done = 0
        var firstError: (any Error)?
        while done < nodes.count {
            while firstError == nil && running < max(1, limit) && !ready.isEmpty {
                if cancellation?.isCancelled == true { break }
                let i = ready.removeFirst()
                let node = nodes[i]
                running += 1
                // A queue of its own, not the global one: that one has about a thread per CPU,
                // and jobs that block (on a shim, on the network) would run that many at a
                // time, not `limit`. A serial queue of its own gets a thread when it needs one.
                DispatchQueue(label: "scompose.walk").async {
                    var failure: (any Error)?
                    do { try body(node) } catch { failure = error }
                    finished.withLock { $0.append((i, failure)) }
                    signal.signal()
                }
            }
            // Nothing running and nothing started: stopped by an error or by cancellation
            // (validation leaves no other way for work to remain).
            if running == 0 { break }
            signal.wait()
            let batch = finished.withLock { list in
                defer { list = [] }
                return list
            }
            for (i, failure) in batch {
                running -= 1
                done += 1
                if let failure, firstError == nil { firstError = failure }
                for j in after[i] {
                    waitingFor[j] -= 1
                    if waitingFor[j] == 0 {
                        let at = ready.firstIndex { $0 > j } ?? ready.endIndex
                        ready.insert(j, at: at)
                    }
                }
            }
        }
        if let firstError { throw firstError }
        if done < nodes.count { throw DependencyGraphError.cancelled }
    }
}

/// Threads for independent jobs and the parallelism limit of the command line.
public enum Parallel {
    /// Runs `body` for every item, at most `limit` at once, as a walk of a graph without
    /// edges: after a failure (or cancellation) no new job starts and the first error is thrown.
    public static func forEach<Item: Sendable>(
        _ items: [Item], limit: Int, cancellation: Cancellation? = nil, _ body: @escaping @Sendable (Item) throws -> Void
    ) throws {
        try DependencyGraph(independent: Array(items.indices)).walk(limit: limit, cancellation: cancellation) { i in
            try body(items[i])
        }
    }

    /// `items.map(transform)` on one thread per core, the order kept: for pure, CPU-bound
    /// work on independent items (each file of a conversion). Small inputs stay on this thread.
    public static func map<Item: Sendable, Result: Sendable>(_ items: [Item], _ transform: @Sendable (Item) -> Result) -> [Result] {
        let workers = min(items.count / 8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        guard workers > 1 else { return items.map(transform) }
        let slots = UnsafeMutableBufferPointer<Result?>.allocate(capacity: items.count)
        slots.initialize(repeating: nil)
        defer {
            _ = slots.deinitialize()
            slots.deallocate()
        }
        // Each worker writes only its own indices (every `workers`-th from its number), and
        // concurrentPerform returns after all have: the buffer is never shared under a write.
        nonisolated(unsafe) let out = slots
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var i = worker
            while i < items.count {
                out[i] = transform(items[i])
                i += workers
            }
        }
        return slots.compactMap { $0 }
    }

    /// `--parallel` or `COMPOSE_PARALLEL_LIMIT`; unlimited (-1, 0 or unset) is a generous bound.
    public static func limit(_ value: Int?) -> Int {
        guard let value, value > 0 else { return 64 }
        return value
    }
}
