import Foundation
import Testing
@testable import LMDB

/// Child transactions and steps: a child's or a step's writes join the transaction iff its
/// closure returns.
struct NestedTransactionTests {
    struct Refused: Error {}

    @Test func aStepThatThrowsBeforeWritingCostsNoSecondRun() throws {
        try withTempDir("step") { dir in
            let env = try openEnv(dir, [.init("kv")])
            let kv = try env.database("kv")
            var runs = 0
            try syncWrite(env) { txn in
                runs += 1
                try txn.step { step in try step.put(kv, key: [1], value: [1]) }
                #expect(throws: Refused.self) {
                    try txn.step { step in
                        #expect(try step.get(kv, key: [1]) == [1])
                        throw Refused()
                    }
                }
                try txn.step { step in try step.put(kv, key: [2], value: [2]) }
            }
            #expect(runs == 1)
            try env.read { (txn: ReadTransaction) throws -> Void in
                #expect(try txn.count(kv) == 2)
            }
        }
    }

    @Test func aStepThatThrowsAfterWritingRunsTheTransactionAgainWithChildTransactions() throws {
        try withTempDir("step") { dir in
            let env = try openEnv(dir, [.init("kv")])
            let kv = try env.database("kv")
            var isolatedRuns: [Bool] = []
            var laterStepErrors: [LMDBError?] = []
            try syncWrite(env) { txn in
                isolatedRuns.append(txn.isolatesSteps)
                try txn.step { step in try step.put(kv, key: [1], value: [1]) }
                #expect(throws: Refused.self) {
                    try txn.step { step in
                        try step.put(kv, key: [3], value: [3])
                        throw Refused()
                    }
                }
                do {
                    try txn.step { step in try step.put(kv, key: [2], value: [2]) }
                    laterStepErrors.append(nil)
                } catch let error as LMDBError {
                    laterStepErrors.append(error)
                }
            }
            // The first run held the failed step's write: it was aborted, and the second
            // run put every step in a child transaction.
            #expect(isolatedRuns == [false, true])
            #expect(laterStepErrors == [.badTransaction, nil])
            try env.read { (txn: ReadTransaction) throws -> Void in
                #expect(try txn.get(kv, key: [1]) == [1])
                #expect(try txn.get(kv, key: [2]) == [2])
                #expect(try txn.get(kv, key: [3]) == nil)
            }
        }
    }

    @Test func childCommitsIntoParentOrVanishes() throws {
        try withTempDir("nested") { dir in
            let env = try openEnv(dir, [.init("kv")])
            let kv = try env.database("kv")
            struct Refused: Error {}
            try syncWrite(env) { txn in
                try txn.put(kv, key: [1], value: [1])
                try txn.nested { child in try child.put(kv, key: [2], value: [2]) }
                #expect(throws: Refused.self) {
                    try txn.nested { child in
                        try child.put(kv, key: [3], value: [3])
                        throw Refused()
                    }
                }
                // The parent cannot be used while a child is open.
                _ = try txn.nested { _ in #expect(throws: LMDBError.badTransaction) { try txn.put(kv, key: [4], value: [4]) } }
                #expect(try txn.get(kv, key: [2]) == [2])
                #expect(try txn.get(kv, key: [3]) == nil)
            }
            try env.read { (txn: ReadTransaction) throws -> Void in
                #expect(try txn.get(kv, key: [1]) == [1])
                #expect(try txn.get(kv, key: [2]) == [2])
                #expect(try txn.get(kv, key: [3]) == nil)
                #expect(try txn.get(kv, key: [4]) == nil)
            }
        }
    }

    @Test func groupedWritesStayAtomicEach() async throws {
        try await withTempDir("grouped") { dir in
            let env = try openEnv(dir, [.init("kv")], initialMapSize: 64 * 1024)
            let kv = try env.database("kv")
            struct Refused: Error {}
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        do {
                            try await env.groupedWrite { txn in
                                // 4 KB values: the tiny map must grow while groups are in flight.
                                try txn.put(kv, key: [UInt8(n)], value: [UInt8](repeating: UInt8(n), count: 4096))
                                if n % 10 == 0 { throw Refused() }
                            }
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 90)
            try env.read { (txn: ReadTransaction) throws -> Void in
                #expect(try txn.count(kv) == 90)
                #expect(try txn.get(kv, key: [10]) == nil)
                #expect(try txn.get(kv, key: [11])?.count == 4096)
            }
        }
    }

    /// Every caller of a group, refused or not, gets the group's report; exactly one per commit
    /// is its first caller, so the first callers' sizes add up to every write.
    @Test func groupedWritesReportOneFirstCallerPerCommit() async throws {
        try await withTempDir("grouped-report") { dir in
            let env = try openEnv(dir, [.init("kv")], initialMapSize: 64 * 1024)
            let kv = try env.database("kv")
            struct Refused: Error {}
            let before = env.lastTransactionID
            let reports = try await withThrowingTaskGroup(of: (refused: Bool, report: WriteReport).self) { group in
                for n in 0..<60 {
                    group.addTask {
                        let (outcome, report) = try await env.reportingGroupedWrite { txn in
                            try txn.put(kv, key: [UInt8(n)], value: [UInt8](repeating: UInt8(n), count: 4096))
                            if n % 10 == 0 { throw Refused() }
                        }
                        return ((try? outcome.get()) == nil, report)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let commits = env.lastTransactionID - before
            let first = reports.filter(\.report.isFirstCaller)
            let refused = reports.filter(\.refused).count
            #expect(refused == 6)
            // One first caller per group: their group sizes add up to every caller. A group whose
            // every caller was refused writes nothing, and LMDB does not count a commit without
            // changes, so there may be up to `refused` more groups than counted commits.
            #expect(first.map(\.report.callers).reduce(0, +) == 60)
            #expect(first.count >= commits && first.count <= commits + refused, "\(first.count) first callers, \(commits) commits")
            #expect(reports.allSatisfy { $0.report.callers >= 1 && $0.report.duration > .zero })
        }
    }
}
