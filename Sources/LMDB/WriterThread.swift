import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one thread that runs write transactions. LMDB ties a write transaction to
/// the thread that began it, and Swift tasks can hop threads, so writes never run
/// on the cooperative pool.
final class WriterThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var writerID: pthread_t?

    init() {
        let thread = Thread { [self] in run() }
        thread.name = "lmdb-writer"
        thread.start()
    }

    var isCurrentThread: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let writerID else { return false }
        return pthread_equal(writerID, pthread_self()) != 0
    }

    func submit(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        writerID = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job() }
        }
    }
}
