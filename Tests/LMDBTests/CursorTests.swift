import Foundation
import Testing
@testable import LMDB

struct CursorTests {
    static let keys = ["a1", "a2", "b1", "b2", "b3", "c1", "e1"]

    /// An environment whose "main" database holds `keys` (value = key uppercased).
    private func populated(_ dir: TempDir, extra: [[UInt8]] = []) throws -> (Environment, Database) {
        let env = try openEnv(dir)
        let db = try env.database("main")
        try env.write { txn throws in
            // Insert in a scrambled order: the order seen must come from LMDB, not insertion.
            for key in Self.keys.reversed() { try txn.put(db, key: bytes(key), value: bytes(key.uppercased())) }
            for key in extra { try txn.put(db, key: key, value: key) }
        }
        return (env, db)
    }

    private func prefixScan(_ env: Environment, _ db: Database, _ prefix: String, reverse: Bool = false) throws -> [String] {
        try env.read { txn throws in
            var seen: [String] = []
            try txn.forEach(db, prefix: bytes(prefix), reverse: reverse) { entry in
                #expect(string(entry.value) == string(entry.key)?.uppercased())
                seen.append(string(entry.key)!)
                return true
            }
            return seen
        }
    }

    private func rangeScan(_ env: Environment, _ db: Database, from: String?, upTo: String?, reverse: Bool = false) throws -> [String] {
        try env.read { txn throws in
            var seen: [String] = []
            try txn.forEach(db, from: from.map(bytes), upTo: upTo.map(bytes), reverse: reverse) { entry in
                seen.append(string(entry.key)!)
                return true
            }
            return seen
        }
    }

    /// A scan that opens and closes a cursor per step (as `export` does per customer) must
    /// not keep every closed cursor until the transaction ends; open ones are still closed then.
    @Test func closedCursorsLeaveTheTransaction() throws {
        let dir = try TempDir()
        let (env, db) = try populated(dir)
        let (closedBefore, stillOpen): (Int, Cursor) = try env.read { txn throws in
            for _ in 0..<10_000 {
                let cursor = try txn.cursor(db)
                _ = try cursor.seek(atLeast: bytes("b"))
                cursor.close()
            }
            let outer = try txn.cursor(db)
            let inner = try txn.cursor(db)
            outer.close()  // out of order
            #expect(txn.cursors.count == 1)
            #expect(txn.cursors.first === inner)
            let found = try inner.seek(atLeast: bytes("c"))
            #expect(found.map { string($0.key) } == "c1")
            return (txn.cursors.count, inner)
        }
        #expect(closedBefore == 1)
        // The transaction ended: the cursor it closed refuses use, and closing again is harmless.
        #expect(throws: LMDBError.transactionEnded) { try stillOpen.seek(atLeast: bytes("a")) }
        stillOpen.close()
    }

    /// `withCursor` keeps one idle cursor per database for the transaction; a nested call
    /// gets its own, the surplus one is closed, and a write transaction's reused cursor
    /// sees the transaction's own puts.
    @Test func withCursorReusesOneCursorPerDatabase() throws {
        let dir = try TempDir()
        let (env, db) = try populated(dir)
        let reused: Cursor = try env.write { txn throws in
            let first = try txn.withCursor(db) { $0 }
            let (again, nested) = try txn.withCursor(db) { outer in (outer, try txn.withCursor(db) { $0 }) }
            #expect(first === again && nested !== first)
            // The nested cursor was returned first and stays idle; the outer one was closed.
            #expect(txn.cursors.count == 1 && txn.cursors.first === nested)
            #expect(throws: LMDBError.transactionEnded) { try first.seek(atLeast: bytes("a")) }
            try txn.put(db, key: bytes("b9"), value: bytes("new"))
            let found = try txn.withCursor(db) { try $0.seek(atMost: bytes("b9")) }
            #expect(found.map { string($0.value) } == "new")
            #expect(try txn.withCursor(db) { $0 } === nested)
            return nested
        }
        #expect(throws: LMDBError.transactionEnded) { try reused.seek(atLeast: bytes("a")) }
    }

    @Test func prefixScansForwardAndReverse() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            #expect(try prefixScan(env, db, "b") == ["b1", "b2", "b3"])
            #expect(try prefixScan(env, db, "b", reverse: true) == ["b3", "b2", "b1"])
            #expect(try prefixScan(env, db, "a") == ["a1", "a2"])
            #expect(try prefixScan(env, db, "a", reverse: true) == ["a2", "a1"])
            // The last key of the database.
            #expect(try prefixScan(env, db, "e", reverse: true) == ["e1"])
            #expect(try prefixScan(env, db, "e") == ["e1"])
            // Exact-key prefix.
            #expect(try prefixScan(env, db, "b2") == ["b2"])
            #expect(try prefixScan(env, db, "b2", reverse: true) == ["b2"])
            // Absent prefixes: between keys, before all, after all.
            for absent in ["d", "0", "z", "b4", "c2"] {
                #expect(try prefixScan(env, db, absent) == [])
                #expect(try prefixScan(env, db, absent, reverse: true) == [])
            }
        }
    }

    @Test func emptyPrefixVisitsEverythingInBothDirections() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            #expect(try prefixScan(env, db, "", reverse: true) == Self.keys.reversed())
            #expect(try prefixScan(env, db, "") == Self.keys)
        }
    }

    @Test func prefixScanStopsWhenBodyReturnsFalse() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            for reverse in [false, true] {
                let seen = try env.read { txn throws in
                    var seen: [String] = []
                    try txn.forEach(db, prefix: bytes("b"), reverse: reverse) { entry in
                        seen.append(string(entry.key)!)
                        return seen.count < 2
                    }
                    return seen
                }
                #expect(seen == (reverse ? ["b3", "b2"] : ["b1", "b2"]))
            }
        }
    }

    @Test func reversePrefixScanWithFFBytes() throws {
        try withTempDir { dir in
            let ff: [[UInt8]] = [[0xFF], [0xFF, 0x00], [0xFF, 0x01], [0xFF, 0xFF], [0xFF, 0xFF, 0x01], [0xFF, 0xFF, 0xFF]]
            let (env, db) = try populated(dir, extra: ff + [[0xFE, 0xFF]])
            func scan(_ prefix: [UInt8], reverse: Bool) throws -> [[UInt8]] {
                try env.read { txn throws in
                    var seen: [[UInt8]] = []
                    try txn.forEach(db, prefix: prefix, reverse: reverse) { seen.append($0.key); return true }
                    return seen
                }
            }
            #expect(try scan([0xFF], reverse: false) == ff)
            #expect(try scan([0xFF], reverse: true) == ff.reversed())
            #expect(try scan([0xFF, 0xFF], reverse: true) == [[0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0x01], [0xFF, 0xFF]])
            #expect(try scan([0xFE], reverse: true) == [[0xFE, 0xFF]])
            #expect(try scan([0xFE, 0xFF], reverse: true) == [[0xFE, 0xFF]])
        }
    }

    @Test func rangeScansRespectBounds() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            // Half-open [from, upTo).
            #expect(try rangeScan(env, db, from: "b1", upTo: "c1") == ["b1", "b2", "b3"])
            #expect(try rangeScan(env, db, from: "b1", upTo: "c1", reverse: true) == ["b3", "b2", "b1"])
            // Bounds between keys.
            #expect(try rangeScan(env, db, from: "a15", upTo: "b25") == ["a2", "b1", "b2"])
            #expect(try rangeScan(env, db, from: "a15", upTo: "b25", reverse: true) == ["b2", "b1", "a2"])
            // Open ends.
            #expect(try rangeScan(env, db, from: nil, upTo: "b1") == ["a1", "a2"])
            #expect(try rangeScan(env, db, from: nil, upTo: "b1", reverse: true) == ["a2", "a1"])
            #expect(try rangeScan(env, db, from: "c", upTo: nil) == ["c1", "e1"])
            #expect(try rangeScan(env, db, from: "c", upTo: nil, reverse: true) == ["e1", "c1"])
            #expect(try rangeScan(env, db, from: nil, upTo: nil) == Self.keys)
            #expect(try rangeScan(env, db, from: nil, upTo: nil, reverse: true) == Self.keys.reversed())
            // Bounds outside the data.
            #expect(try rangeScan(env, db, from: "0", upTo: "zz") == Self.keys)
            #expect(try rangeScan(env, db, from: "0", upTo: "zz", reverse: true) == Self.keys.reversed())
            #expect(try rangeScan(env, db, from: "x", upTo: nil) == [])
            #expect(try rangeScan(env, db, from: "x", upTo: nil, reverse: true) == [])
            #expect(try rangeScan(env, db, from: nil, upTo: "a1") == [])
            #expect(try rangeScan(env, db, from: nil, upTo: "a1", reverse: true) == [])
            // Empty and inverted ranges.
            #expect(try rangeScan(env, db, from: "b2", upTo: "b2") == [])
            #expect(try rangeScan(env, db, from: "b2", upTo: "b2", reverse: true) == [])
            #expect(try rangeScan(env, db, from: "c1", upTo: "b1") == [])
            #expect(try rangeScan(env, db, from: "c1", upTo: "b1", reverse: true) == [])
            // The upper bound is exclusive even when it is the last key.
            #expect(try rangeScan(env, db, from: "c1", upTo: "e1", reverse: true) == ["c1"])
        }
    }

    @Test func seekAtLeast() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(string(try cursor.seek(atLeast: bytes("b2"))?.key) == "b2")   // exact
                #expect(string(try cursor.seek(atLeast: bytes("b25"))?.key) == "b3")  // between
                #expect(string(try cursor.seek(atLeast: bytes("d"))?.key) == "e1")    // gap
                #expect(string(try cursor.seek(atLeast: bytes("0"))?.key) == "a1")    // before first
                #expect(try cursor.seek(atLeast: bytes("z")) == nil)                   // after last
                #expect(string(try cursor.seek(atLeast: bytes("e1"))?.key) == "e1")   // exactly last
            }
        }
    }

    @Test func seekAtMost() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(string(try cursor.seek(atMost: bytes("b2"))?.key) == "b2")    // exact
                #expect(string(try cursor.seek(atMost: bytes("b25"))?.key) == "b2")   // between
                #expect(string(try cursor.seek(atMost: bytes("d"))?.key) == "c1")     // gap
                #expect(try cursor.seek(atMost: bytes("0")) == nil)                    // before first
                #expect(string(try cursor.seek(atMost: bytes("z"))?.key) == "e1")     // after last → last
                #expect(string(try cursor.seek(atMost: bytes("a1"))?.key) == "a1")    // exactly first
                // The cursor is positioned: next/previous continue from the hit.
                _ = try cursor.seek(atMost: bytes("b25"))
                #expect(string(try cursor.next()?.key) == "b3")
                #expect(string(try cursor.previous()?.key) == "b2")
                #expect(string(try cursor.current()?.key) == "b2")
            }
        }
    }

    @Test func seekWithEmptyKey() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                // Every key is ≥ the empty key; none is ≤ it (LMDB keys are never empty).
                #expect(string(try cursor.seek(atLeast: [])?.key) == "a1")
                #expect(try cursor.seek(atMost: []) == nil)
            }
        }
    }

    @Test func firstLastNextPreviousWalkTheWholeDatabase() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                var forward: [String] = []
                var entry = try cursor.first()
                while let e = entry { forward.append(string(e.key)!); entry = try cursor.next() }
                #expect(forward == Self.keys)
                var backward: [String] = []
                entry = try cursor.last()
                while let e = entry { backward.append(string(e.key)!); entry = try cursor.previous() }
                #expect(backward == Self.keys.reversed())
                #expect(txn.cursorOperations >= 2 * Self.keys.count)
            }
        }
    }

    @Test func emptyDatabaseCursor() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(try cursor.first() == nil)
                #expect(try cursor.last() == nil)
                #expect(try cursor.seek(atLeast: [1]) == nil)
                #expect(try cursor.seek(atMost: [1]) == nil)
                var n = 0
                try txn.forEach(db, prefix: [1], reverse: true) { _ in n += 1; return true }
                try txn.forEach(db, from: nil, upTo: nil, reverse: true) { _ in n += 1; return true }
                #expect(n == 0)
            }
        }
    }

    @Test func scansInsideWriteSeeUncommittedData() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            let seen = try env.write { txn -> [String] in
                try txn.put(db, key: bytes("b15"), value: bytes("B15"))
                try txn.delete(db, key: bytes("b2"))
                var seen: [String] = []
                try txn.forEach(db, prefix: bytes("b"), reverse: true) { seen.append(string($0.key)!); return true }
                return seen
            }
            #expect(seen == ["b3", "b15", "b1"])
        }
    }

    @Test func closedCursorThrowsTransactionEnded() throws {
        try withTempDir { dir in
            let (env, db) = try populated(dir)
            try env.read { txn throws in
                let cursor = try txn.cursor(db)
                #expect(try cursor.first() != nil)
                cursor.close()
                #expect(throws: LMDBError.transactionEnded) { try cursor.next() }
            }
        }
    }

    /// Two databases of two environments, changed one way at a time from equal: the first
    /// differing key in key order, wherever the difference is.
    @Test func firstDifferenceFindsTheFirstDifferingKey() throws {
        try withTempDir { dir in
            let a = try Environment.open(path: dir.sub("a"), configuration: .init(databases: [.init("main")], durability: .noSync))
            let b = try Environment.open(path: dir.sub("b"), configuration: .init(databases: [.init("main")], durability: .noSync))
            let (dbA, dbB) = (try a.database("main"), try b.database("main"))
            func difference() throws -> String? {
                try a.read { x in try b.read { y in string(try x.firstDifference(dbA, comparedWith: y, dbB)) } }
            }
            #expect(try difference() == nil) // both empty
            let keys = (0..<500).map { String(format: "k%04d", $0 * 2) }
            for env in [a, b] {
                try env.write { txn in for key in keys { try txn.put(try env.database("main"), key: bytes(key), value: bytes("v" + key)) } }
            }
            #expect(try difference() == nil)

            try b.write { txn in try txn.put(dbB, key: bytes("k0400"), value: bytes("vk0401")) } // same length
            #expect(try difference() == "k0400")
            try b.write { txn in try txn.put(dbB, key: bytes("k0301"), value: bytes("vk0301")) } // only in b
            #expect(try difference() == "k0301")
            try a.write { txn in try txn.put(dbA, key: bytes("k02"), value: bytes("x")) } // only in a, a prefix of others
            #expect(try difference() == "k02")
            try a.write { txn in _ = try txn.delete(dbA, key: bytes("k0000")) } // b has one more at the start
            #expect(try difference() == "k0000")
            try b.write { txn in try txn.put(dbB, key: bytes("k9999"), value: bytes("end")) }
            try a.write { txn in
                try txn.put(dbA, key: bytes("k0000"), value: bytes("vk0000"))
                _ = try txn.delete(dbA, key: bytes("k02"))
                try txn.put(dbA, key: bytes("k0301"), value: bytes("vk0301"))
                try txn.put(dbA, key: bytes("k0400"), value: bytes("vk0401"))
            }
            #expect(try difference() == "k9999") // b is longer at the end
        }
    }
}
