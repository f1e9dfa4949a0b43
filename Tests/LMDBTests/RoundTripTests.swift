import Foundation
import Testing
@testable import LMDB

struct RoundTripTests {
    @Test func putGetDeleteRoundTrip() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            try env.write { txn throws in
                try txn.put(db, key: bytes("alpha"), value: bytes("one"))
                try txn.put(db, key: bytes("beta"), value: bytes("two"))
                try txn.put(db, key: bytes("gamma"), value: [0, 1, 2, 0xFF])
            }
            try env.read { txn throws in
                #expect(string(try txn.get(db, key: bytes("alpha"))) == "one")
                #expect(string(try txn.get(db, key: bytes("beta"))) == "two")
                #expect(try txn.get(db, key: bytes("gamma")) == [0, 1, 2, 0xFF])
                #expect(try txn.get(db, key: bytes("delta")) == nil)
                #expect(try txn.count(db) == 3)
                let size = try txn.withValue(db, key: bytes("gamma")) { $0.count }
                #expect(size == 4)
                #expect(try txn.withValue(db, key: bytes("nope")) { $0.count } == nil)
            }
            // Overwrite, then delete.
            try env.write { txn throws in
                try txn.put(db, key: bytes("alpha"), value: bytes("uno"))
                #expect(try txn.delete(db, key: bytes("beta")) == true)
                #expect(try txn.delete(db, key: bytes("beta")) == false)
                #expect(try txn.delete(db, key: bytes("never")) == false)
                // A write transaction sees its own uncommitted changes.
                #expect(string(try txn.get(db, key: bytes("alpha"))) == "uno")
                #expect(try txn.get(db, key: bytes("beta")) == nil)
            }
            try env.read { txn throws in
                #expect(string(try txn.get(db, key: bytes("alpha"))) == "uno")
                #expect(try txn.get(db, key: bytes("beta")) == nil)
                #expect(try txn.count(db) == 2)
            }
            // clear keeps the database but removes everything.
            try env.write { txn throws in try txn.clear(db) }
            try env.read { txn throws in
                #expect(try txn.count(db) == 0)
                #expect(try txn.get(db, key: bytes("alpha")) == nil)
            }
        }
    }

    @Test func writeReturnsClosureResult() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            let n = try env.write { txn -> Int in
                try txn.put(db, key: [1], value: [1])
                return 42
            }
            #expect(n == 42)
            let v = try env.read { txn throws in try txn.get(db, key: [1]) }
            #expect(v == [1])
        }
    }

    @Test func asyncWriteRoundTrip() async throws {
        try await withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            let result = try await env.write { txn -> String in
                try txn.put(db, key: bytes("k"), value: bytes("async"))
                return "done"
            }
            #expect(result == "done")
            #expect(string(try env.read { try $0.get(db, key: bytes("k")) }) == "async")
        }
    }

    @Test func unknownDatabaseIsNotFound() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            #expect(throws: LMDBError.notFound) { try env.database("missing") }
        }
    }

    @Test func emptyKeyIsBadValueSize() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            #expect(throws: LMDBError.badValueSize) {
                try env.write { txn throws in try txn.put(db, key: [], value: [1]) }
            }
            #expect(throws: LMDBError.badValueSize) {
                try env.write { txn throws in try txn.put(db, key: [UInt8](repeating: 7, count: 600), value: [1]) }
            }
        }
    }

    @Test func noOverwriteReportsKeyExistsAndKeepsValue() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            try env.write { txn throws in try txn.put(db, key: bytes("k"), value: bytes("first"), flags: .noOverwrite) }
            #expect(throws: LMDBError.keyExists) {
                try env.write { txn throws in try txn.put(db, key: bytes("k"), value: bytes("second"), flags: .noOverwrite) }
            }
            // Inside one transaction the error can be caught and the transaction still commits.
            try env.write { txn throws in
                do {
                    try txn.put(db, key: bytes("k"), value: bytes("third"), flags: .noOverwrite)
                    Issue.record("expected keyExists")
                } catch let error as LMDBError {
                    #expect(error == .keyExists)
                }
                try txn.put(db, key: bytes("other"), value: bytes("x"), flags: .noOverwrite)
            }
            try env.read { txn throws in
                #expect(string(try txn.get(db, key: bytes("k"))) == "first")
                #expect(string(try txn.get(db, key: bytes("other"))) == "x")
            }
        }
    }

    @Test func appendOfIncreasingKeysWorksAndSmallerKeyFails() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            func key(_ n: UInt64) -> [UInt8] { var b = KeyBuilder(); b.append(n); return b.bytes }
            try env.write { txn throws in
                for n in UInt64(1)...500 { try txn.put(db, key: key(n * 2), value: key(n), flags: .append) }
            }
            try env.read { txn throws in
                #expect(try txn.count(db) == 500)
                #expect(try txn.get(db, key: key(1000)) == key(500))
                var previous: [UInt8]? = nil
                var n = 0
                try txn.forEach(db, from: nil, upTo: nil) { entry in
                    if let previous { #expect(previous.lexicographicallyPrecedes(entry.key)) }
                    previous = entry.key
                    n += 1
                    return true
                }
                #expect(n == 500)
            }
            // A key smaller than the last one (and the last one itself) cannot be appended.
            #expect(throws: LMDBError.keyExists) {
                try env.write { txn throws in try txn.put(db, key: key(3), value: [0], flags: .append) }
            }
            #expect(throws: LMDBError.keyExists) {
                try env.write { txn throws in try txn.put(db, key: key(1000), value: [0], flags: .append) }
            }
            // A larger one still can.
            try env.write { txn throws in try txn.put(db, key: key(1001), value: [9], flags: .append) }
            try env.read { txn throws in
                #expect(try txn.count(db) == 501)
                #expect(try txn.get(db, key: key(3)) == nil)
                #expect(try txn.get(db, key: key(1000)) == key(500))
                #expect(try txn.get(db, key: key(1001)) == [9])
            }
        }
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        do {
            let env = try openEnv(dir, [.init("a"), .init("b")], durability: .full)
            let a = try env.database("a")
            let b = try env.database("b")
            try env.write { txn throws in
                try txn.put(a, key: [1], value: [10])
                try txn.put(b, key: [1], value: [20])
                try txn.put(b, key: [2], value: [21])
            }
        }
        let env = try openEnv(dir, [.init("a"), .init("b")])
        let a = try env.database("a")
        let b = try env.database("b")
        try env.read { txn throws in
            #expect(try txn.get(a, key: [1]) == [10])
            #expect(try txn.count(b) == 2)
        }
    }
}
