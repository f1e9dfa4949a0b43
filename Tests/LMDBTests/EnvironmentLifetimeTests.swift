import Foundation
import Synchronization
import Testing
@testable import LMDB

/// LMDB forbids two handles on one environment in a process: closing either drops the
/// other's POSIX locks and clears its reader slots. These tests drop an environment's last
/// reference on one thread while another opens or checks the same directory.
@Suite(.serialized)
struct EnvironmentLifetimeTests {
    /// Holds the last reference so that another thread can drop it.
    final class Holder: @unchecked Sendable {
        var environment: Environment?
        init(_ environment: Environment) { self.environment = environment }
    }

    static func install(_ hooks: Environment.TestingHooks) {
        Environment.testingHooks.withLock { $0 = hooks }
    }

    static func removeHooks() {
        Environment.testingHooks.withLock { $0 = .init() }
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
            var hooks = Environment.TestingHooks()
            hooks.beforeClose = { closed in
                guard closed == resolvedPath else { return }
                closing.signal()
                Thread.sleep(forTimeInterval: 0.3)
                hookDone.store(true, ordering: .sequentiallyConsistent)
            }
            Self.install(hooks)
            defer { Self.removeHooks() }
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

    /// `open` and `isOpen` look at the environment under the registry's lock; when that
    /// look is what keeps the last reference, the environment must close after the lock is
    /// released (closing takes the lock: this used to trap on a recursive lock).
    @Test func checkingWhileAnotherThreadOpensAndDropsTheSameDirectory() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            let config = Environment.Configuration(databases: [.init("main")], durability: .noSync)
            let done = Atomic(false)
            let checks = Atomic(0)
            let finished = DispatchSemaphore(value: 0)
            let checker = Thread {
                while !done.load(ordering: .relaxed) {
                    _ = Environment.isOpen(path: path)
                    if let env = try? Environment.open(path: path, configuration: config) { _ = env.path }
                    checks.add(1, ordering: .relaxed)
                }
                finished.signal()
            }
            checker.start()
            for _ in 0..<8_000 {
                let env = try Environment.open(path: path, configuration: config)
                _ = env.path
            }
            done.store(true, ordering: .relaxed)
            finished.wait()
            #expect(!Environment.isOpen(path: path))
            #expect(checks.load(ordering: .relaxed) > 100)
        }
    }

    @Test func aGroupedCommandsEnvironmentClosesOnTheThreadThatDropsItLast() async throws {
        try await withTempDir { dir in
            let path = dir.sub("env")
            let closedOn = Mutex<String?>(nil)
            var env: Environment? = try Environment.open(path: path, configuration: .init(databases: [.init("main")], durability: .noSync))
            let resolvedPath = env!.path
            let callerDropped = DispatchSemaphore(value: 0)
            var hooks = Environment.TestingHooks()
            hooks.beforeClose = { closed in
                guard closed == resolvedPath else { return }
                closedOn.withLock { $0 = Thread.current.name ?? "" }
            }
            // The writer thread lingers after resuming the callers until the caller has
            // dropped its reference: if the writer still held the environment, the caller's
            // drop would not be the last and the close would happen later, on the writer.
            hooks.afterCallerResumed = { closed in
                guard closed == resolvedPath else { return }
                _ = callerDropped.wait(timeout: .now() + 2)
            }
            Self.install(hooks)
            defer { Self.removeHooks() }
            // The command captures the environment, as a ledger's commands capture the ledger.
            let captured = env!
            try await captured.groupedWrite { txn in try txn.put(try captured.database("main"), key: [1], value: [1]) }
            _ = consume captured
            env = nil
            let thread = closedOn.withLock { $0 }
            callerDropped.signal()
            #expect(thread != nil, "the caller dropped the last reference, so the caller closed it")
            #expect(thread != "lmdb-writer")
        }
    }
}
