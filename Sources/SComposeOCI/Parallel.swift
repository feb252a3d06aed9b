// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization

/// Jobs with dependencies run on threads, at most `limit` at once (services of `up`, blobs of
/// a pull).
public enum Parallel {
    /// Runs job `i` once every job in `after[i]` is done. After a failure no new job starts;
    /// the first error is thrown once the running ones have ended.
    public static func run(_ count: Int, after: [[Int]], limit: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
        guard count > 0 else { return }
        let finished = Mutex<[(Int, (any Error)?)]>([])
        let signal = DispatchSemaphore(value: 0)
        var started = Set<Int>()
        var done = Set<Int>()
        var running = 0
        var firstError: (any Error)?
        while done.count < count {
            if firstError == nil {
                for i in 0..<count where running < max(1, limit) && !started.contains(i) && after[i].allSatisfy(done.contains) {
                    started.insert(i)
                    running += 1
                    DispatchQueue.global().async {
                        var failure: (any Error)?
                        do { try body(i) } catch { failure = error }
                        finished.withLock { $0.append((i, failure)) }
                        signal.signal()
                    }
                }
            }
            // Nothing running: all done, stopped by an error, or waiting on jobs that cannot run.
            if running == 0 { break }
            signal.wait()
            let batch = finished.withLock { list in
                defer { list = [] }
                return list
            }
            for (i, failure) in batch {
                running -= 1
                done.insert(i)
                if let failure, firstError == nil { firstError = failure }
            }
        }
        if let firstError { throw firstError }
    }

    /// `--parallel` or `COMPOSE_PARALLEL_LIMIT`; unlimited (-1, 0 or unset) is a generous bound.
    public static func limit(_ value: Int?) -> Int {
        guard let value, value > 0 else { return 64 }
        return value
    }
}
