import Foundation
import Testing
@testable import LMDB

struct MapGrowthTests {
    private static func key(_ i: Int) -> [UInt8] { var b = KeyBuilder(); b.append(UInt32(i)); return b.bytes }

    /// A 50 KB value whose content depends on `i`, so a mixed-up value would be noticed.
    private static func value(_ i: Int, size: Int = 50 * 1024) -> [UInt8] {
        var v = [UInt8](repeating: UInt8(truncatingIfNeeded: i &* 31 &+ 7), count: size)
        withUnsafeBytes(of: UInt32(i).bigEndian) { v.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt32(i).bigEndian) { v.replaceSubrange(size - 4..<size, with: $0) }
        return v
    }

    @Test func fiftyMegabytesInOneWriteGrowTheMap() throws {
        try withTempDir("growth") { dir in
            let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024, durability: .noSync)
            let db = try env.database("blobs")
            let before = env.mapSize
            #expect(before < 1 << 20)
            let count = 1_000
            var attempts = 0
            let written = try env.write { txn -> Int in
                attempts += 1
                for i in 0..<count { try txn.put(db, key: Self.key(i), value: Self.value(i)) }
                return count
            }
            #expect(written == count)
            // The closure had to be re-run after the map filled at least once.
            #expect(attempts > 1)
            let after = env.mapSize
            #expect(after > 50 * 1024 * 1024)
            #expect(after > before)
            try env.read { txn throws in
                #expect(try txn.count(db) == count)
                for i in 0..<count {
                    let ok = try txn.withValue(db, key: Self.key(i)) { buffer in
                        buffer.count == 50 * 1024 && buffer.elementsEqual(Self.value(i))
                    }
                    #expect(ok == true, "value \(i)")
                }
            }
        }
    }

    @Test func growthWhenTheClosureSwallowsMapFull() throws {
        try withTempDir("swallow") { dir in
            let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024)
            let db = try env.database("blobs")
            var sawMapFull = false
            try env.write { txn throws in
                for i in 0..<40 {
                    do {
                        try txn.put(db, key: Self.key(i), value: Self.value(i, size: 20 * 1024))
                    } catch LMDBError.mapFull {
                        sawMapFull = true   // swallowed: the environment must still retry
                    } catch {
                        // After MAP_FULL the transaction is in an error state (MDB_BAD_TXN): also swallowed.
                    }
                }
            }
            #expect(sawMapFull)
            try env.read { txn throws in
                #expect(try txn.count(db) == 40)
                for i in 0..<40 { #expect(try txn.get(db, key: Self.key(i)) == Self.value(i, size: 20 * 1024)) }
            }
        }
    }

    @Test func manySmallWritesAndAsyncWritesGrowTheMap() async throws {
        try await withTempDir("small") { dir in
            let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024)
            let db = try env.database("blobs")
            for i in 0..<20 {
                try syncWrite(env) { txn in try txn.put(db, key: Self.key(i), value: Self.value(i, size: 16 * 1024)) }
            }
            for i in 20..<40 {
                try await env.write { txn throws in try txn.put(db, key: Self.key(i), value: Self.value(i, size: 16 * 1024)) }
            }
            #expect(env.mapSize >= 40 * 16 * 1024)
            let n = try env.read { try $0.count(db) }
            #expect(n == 40)
            try env.read { txn throws in
                for i in 0..<40 { #expect(try txn.get(db, key: Self.key(i)) == Self.value(i, size: 16 * 1024)) }
            }
        }
    }

    @Test func grownMapPersistsAcrossReopen() throws {
        let dir = try TempDir("reopen")
        defer { dir.cleanup() }
        var grown = 0
        do {
            let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024)
            let db = try env.database("blobs")
            try env.write { txn throws in
                for i in 0..<30 { try txn.put(db, key: Self.key(i), value: Self.value(i, size: 32 * 1024)) }
            }
            grown = env.mapSize
        }
        #expect(grown > 64 * 1024)
        // Reopening with the small initial size adopts the file's larger size.
        let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024)
        let db = try env.database("blobs")
        #expect(env.mapSize >= 30 * 32 * 1024)
        #expect(try env.read { try $0.count(db) } == 30)
        try env.write { txn throws in try txn.put(db, key: Self.key(99), value: Self.value(99, size: 64 * 1024)) }
        #expect(try env.read { try $0.get(db, key: Self.key(99)) } == Self.value(99, size: 64 * 1024))
    }

    /// Each doubling is reported with the write that caused it, in order, and ends at the map's size.
    @Test func aReportingWriteListsEachGrowthOfTheMap() throws {
        try withTempDir("report") { dir in
            let env = try openEnv(dir, [.init("blobs")], initialMapSize: 64 * 1024, durability: .noSync)
            let db = try env.database("blobs")
            let before = env.mapSize
            let (count, report) = try env.reportingWrite { txn -> Int in
                for i in 0..<40 { try txn.put(db, key: Self.key(i), value: Self.value(i, size: 32 * 1024)) }
                return 40
            }
            #expect(count == 40)
            #expect(report.callers == 1 && report.isFirstCaller)
            #expect(report.duration > .zero)
            #expect(report.mapGrowths.first?.from == before)
            #expect(report.mapGrowths.allSatisfy { $0.to == $0.from * 2 })
            #expect(zip(report.mapGrowths, report.mapGrowths.dropFirst()).allSatisfy { $0.to == $1.from })
            #expect(report.mapGrowths.last?.to == env.mapSize)
            // A write that fits reports none.
            let (_, small) = try env.reportingWrite { txn in try txn.put(db, key: Self.key(99), value: [1]) }
            #expect(small.mapGrowths.isEmpty)
        }
    }
}
