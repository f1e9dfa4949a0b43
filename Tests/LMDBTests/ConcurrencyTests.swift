import Foundation
import Testing
@testable import LMDB

/// A small lock-protected box for results gathered on other threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var snapshot: Value { withLock { $0 } }
}

private func u64(_ n: UInt64) -> [UInt8] { var b = KeyBuilder(); b.append(n); return b.bytes }
private func decode(_ bytes: [UInt8]?) -> UInt64? {
    guard let bytes else { return nil }
    var r = KeyReader(bytes)
    return r.readUInt64()
}

struct ConcurrencyTests {
    struct ReaderReport: Sendable {
        var reads = 0
        var distinctCounters = Set<UInt64>()
        var inconsistencies: [String] = []
        var wentBackwards = false
        var errors: [String] = []
    }

    @Test func readersSeeConsistentSnapshotsWhileWriterCommits() async throws {
        try await withTempDir("concurrency") { dir in
            // A small initial map, so the map also grows while readers are active.
            let env = try openEnv(dir, [.init("meta"), .init("entries")], initialMapSize: 64 * 1024)
            let meta = try env.database("meta")
            let entries = try env.database("entries")
            try await env.write { txn in
                try txn.put(meta, key: bytes("x"), value: u64(0))
                try txn.put(meta, key: bytes("y"), value: u64(0))
                try txn.put(meta, key: bytes("sum"), value: u64(0))
            }

            let readerCount = 4
            let commits: UInt64 = 200
            let writerDone = Locked(false)
            let started = DispatchGroup()
            let finished = DispatchGroup()
            let reports = Locked([ReaderReport](repeating: ReaderReport(), count: readerCount))

            for r in 0..<readerCount {
                started.enter()
                finished.enter()
                let thread = Thread {
                    var report = ReaderReport()
                    var last: UInt64 = 0
                    var signalled = false
                    while true {
                        let done = writerDone.snapshot   // read the flag before the snapshot
                        do {
                            try env.read { txn throws in
                                let x = decode(try txn.get(meta, key: bytes("x")))
                                let y = decode(try txn.get(meta, key: bytes("y")))
                                let sum = decode(try txn.get(meta, key: bytes("sum")))
                                let count = try txn.count(entries)
                                var counted = 0
                                try txn.forEach(entries, from: nil, upTo: nil) { _ in counted += 1; return true }
                                if x != y { report.inconsistencies.append("x=\(String(describing: x)) y=\(String(describing: y))") }
                                if sum.map(Int.init) != count || counted != count {
                                    report.inconsistencies.append("sum=\(String(describing: sum)) count=\(count) counted=\(counted)")
                                }
                                if let x {
                                    if x < last { report.wentBackwards = true }
                                    last = x
                                    report.distinctCounters.insert(x)
                                }
                            }
                        } catch {
                            report.errors.append("\(error)")
                        }
                        report.reads += 1
                        if !signalled { signalled = true; started.leave() }
                        if done { break }
                    }
                    reports.withLock { $0[r] = report }
                    finished.leave()
                }
                thread.start()
            }

            // Every reader has seen the initial state before the writer starts.
            started.wait()
            for n in 1...commits {
                let body: @Sendable (WriteTransaction) throws -> Void = { txn throws in
                    // x and y always change together; sum always equals the number of entries.
                    try txn.put(meta, key: bytes("x"), value: u64(n))
                    try txn.put(entries, key: u64(n), value: [UInt8](repeating: UInt8(n & 0xFF), count: 512))
                    try txn.put(meta, key: bytes("sum"), value: u64(n))
                    try txn.put(meta, key: bytes("y"), value: u64(n))
                }
                if n % 2 == 0 { try await env.write(body) } else { try syncWrite(env, body) }
            }
            writerDone.withLock { $0 = true }
            // Wait for the reader threads without blocking the cooperative pool.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                finished.notify(queue: .global()) { continuation.resume() }
            }

            for (i, report) in reports.snapshot.enumerated() {
                #expect(report.errors.isEmpty, "reader \(i): \(report.errors.prefix(3))")
                #expect(report.inconsistencies.isEmpty, "reader \(i): \(report.inconsistencies.prefix(3))")
                #expect(!report.wentBackwards, "reader \(i) saw the counter go backwards")
                // Saw the initial state and (after the writer finished) the final one.
                #expect(report.distinctCounters.contains(0), "reader \(i)")
                #expect(report.distinctCounters.contains(commits), "reader \(i)")
                #expect(report.reads >= 2)
            }
            #expect(env.mapSize > 64 * 1024)
            let final = try env.read { txn throws in (decode(try txn.get(meta, key: bytes("x"))), try txn.count(entries)) }
            #expect(final.0 == commits)
            #expect(final.1 == Int(commits))
        }
    }

    @Test func concurrentAsyncWritesAreSerialized() async throws {
        try await withTempDir("serial") { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            let tasks = 8
            let perTask = 25
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<perTask {
                            // Read-modify-write: lost updates would show if writes overlapped.
                            try await env.write { txn throws in
                                let current = decode(try txn.get(db, key: bytes("counter"))) ?? 0
                                try txn.put(db, key: bytes("counter"), value: u64(current + 1))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let counter = try env.read { txn throws in decode(try txn.get(db, key: bytes("counter"))) }
            #expect(counter == UInt64(tasks * perTask))
        }
    }

    @Test func syncWritesFromManyThreadsAreSerialized() throws {
        try withTempDir("threads") { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                for _ in 0..<25 {
                    try? env.write { txn throws in
                        let current = decode(try txn.get(db, key: bytes("counter"))) ?? 0
                        try txn.put(db, key: bytes("counter"), value: u64(current + 1))
                    }
                }
            }
            let counter = try env.read { txn throws in decode(try txn.get(db, key: bytes("counter"))) }
            #expect(counter == 100)
        }
    }
}
