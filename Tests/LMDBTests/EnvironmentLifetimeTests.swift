import Foundation
import Synchronization
import Testing
@testable import LMDB

/// LMDB forbids two handles on one environment in a process: closing either drops the
/// other's POSIX locks and clears its reader slots. These tests hold an environment in
/// the middle of closing, on another thread, and check nothing overlaps it.
@Suite(.serialized)
struct EnvironmentLifetimeTests {
    /// Holds the last reference so that another thread can drop it.
    final class Holder: @unchecked Sendable {
        var environment: Environment?
        init(_ environment: Environment) { self.environment = environment }
    }

    @Test func reopeningWaitsForTheSameDirectoryToFinishClosing() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            let config = Environment.Configuration(databases: [.init("main")], durability: .noSync)
            let holder = Holder(try Environment.open(path: path, configuration: config))
            try holder.environment!.write { txn in try txn.put(try holder.environment!.database("main"), key: [1], value: [7]) }
            let resolvedPath = holder.environment!.path

            let closing = DispatchSemaphore(value: 0)
            let hookDone = Atomic(false)
            Environment.beforeCloseForTesting.withLock { hook in
                hook = { closed in
                    guard closed == resolvedPath else { return }
                    closing.signal()
                    Thread.sleep(forTimeInterval: 0.3)
                    hookDone.store(true, ordering: .sequentiallyConsistent)
                }
            }
            defer { Environment.beforeCloseForTesting.withLock { $0 = nil } }

            DispatchQueue.global().async { holder.environment = nil }
            closing.wait()
            // The old handle is closing on the other thread right now.
            #expect(!Environment.isOpen(path: path))
            let closedBeforeAnswer = hookDone.load(ordering: .sequentiallyConsistent)
            #expect(closedBeforeAnswer, "isOpen answered before the close finished")
            let reopened = try Environment.open(path: path, configuration: config)
            let value = try reopened.read { txn in try txn.get(try reopened.database("main"), key: [1]) }
            #expect(value == [7])
        }
    }

    @Test func aGroupedCommandDoesNotKeepItsEnvironmentOnTheWriterThread() async throws {
        try await withTempDir { dir in
            let path = dir.sub("env")
            let closedOn = Mutex<String?>(nil)
            var env: Environment? = try Environment.open(path: path, configuration: .init(databases: [.init("main")], durability: .noSync))
            let resolvedPath = env!.path
            Environment.beforeCloseForTesting.withLock { hook in
                hook = { closed in
                    guard closed == resolvedPath else { return }
                    closedOn.withLock { $0 = Thread.current.name ?? "" }
                }
            }
            defer { Environment.beforeCloseForTesting.withLock { $0 = nil } }

            // The command captures the environment, as a ledger's commands capture the ledger.
            let captured = env!
            try await captured.groupedWrite { txn in try txn.put(try captured.database("main"), key: [1], value: [1]) }
            _ = consume captured
            env = nil
            // The caller dropped the last reference, so the caller's thread closed it.
            let thread = closedOn.withLock { $0 }
            #expect(thread != nil)
            #expect(thread != "lmdb-writer")
        }
    }
}
