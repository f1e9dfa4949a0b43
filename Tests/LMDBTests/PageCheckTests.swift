import CLMDB
import Foundation
import Testing
@testable import LMDB

/// The page checker passes every sound store (no false alarm may make a store unopenable) and
/// names a damaged page instead of letting LMDB crash on it.
struct PageCheckTests {
    /// Named databases, overflow values, and a free list from deletes and overwrites.
    private func populate(_ env: Environment) throws {
        let plain = try env.database("plain"), other = try env.database("other")
        for round in 0..<3 {
            try env.write { txn in
                for i in 0..<800 {
                    try txn.put(plain, key: bytes("key-\(i)"), value: Array(repeating: UInt8(round), count: 40 + i % 50))
                }
                for i in stride(from: round, to: 800, by: 3) { try txn.delete(plain, key: bytes("key-\(i)")) }
                for d in 0..<600 { try txn.put(other, key: bytes("many-\(d)"), value: bytes("value-\(round)-\(d)")) }
                // Values larger than a page live in overflow runs.
                try txn.put(plain, key: bytes("big-\(round)"), value: Array(repeating: 7, count: 10_000 + round * 5_000))
            }
        }
        try env.write { txn in
            try txn.delete(plain, key: bytes("big-0"))
            try txn.delete(other, key: bytes("many-3"))
        }
    }

    private let specs: [Environment.DatabaseSpec] = [.init("plain"), .init("other")]

    @Test func aSoundStorePassesEveryCheck() throws {
        try withTempDir { dir in
            let env = try openEnv(dir, specs)
            try populate(env)
            try env.checkPages()
        }
    }

    /// Pages allocated and freed in one transaction are never written: the file may end before
    /// the last page the meta counts, and such a store must still open.
    @Test func aFileEndingInUnwrittenFreePagesOpens() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            do {
                let env = try openEnv(dir, specs)
                let plain = try env.database("plain")
                try env.write { txn in for i in 0..<3000 { try txn.put(plain, key: bytes("a\(i)"), value: Array(repeating: 1, count: 100)) } }
                // Rounds that fill pages and empty them again in one transaction (measured:
                // the file ends 40 pages before the last page the meta counts).
                for round in 0..<4 {
                    try env.write { txn in
                        let count = 1000 * (round + 1)
                        for i in 0..<count { try txn.put(plain, key: bytes("z\(round)-\(i)"), value: Array(repeating: 2, count: 200)) }
                        for i in 0..<count { try txn.delete(plain, key: bytes("z\(round)-\(i)")) }
                    }
                }
                var info = MDB_envinfo()
                mdb_env_info(env.handle, &info)
                let size = try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as! Int
                #expect(size < (info.me_last_pgno + 1) * 4096, "the store does not end in unwritten pages; the test proves nothing")
                try env.checkPages()
            }
            let reopened = try openEnv(dir, specs)
            try reopened.checkPages()
        }
    }

    @Test func aZeroedPageIsNamed() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            do { try populate(try openEnv(dir, specs)) }
            let pages = (try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as! Int) / 4096
            // Every page in use, zeroed on its own, is found (a free one may pass).
            var found = 0
            for page in 2..<pages {
                let copy = dir.sub("copy-\(page)")
                try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
                try FileManager.default.copyItem(atPath: path + "/data.mdb", toPath: copy + "/data.mdb")
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: copy + "/data.mdb"))
                try handle.seek(toOffset: UInt64(page * 4096))
                try handle.write(contentsOf: Data(count: 4096))
                try handle.close()
                do {
                    let env = try Environment.open(path: copy, configuration: .init(databases: specs))
                    try env.checkPages()
                } catch let LMDBError.damaged(at, reason) {
                    #expect(at.hasSuffix("copy-\(page)"))
                    found += 1
                    #expect(reason.contains("page \(page)"), "page \(page) zeroed, reported: \(reason)")
                }
            }
            // Not all: free pages and the inner pages of overflow runs hold no structure.
            #expect(found > pages / 3, "\(found) of \(pages) zeroed pages found")
        }
    }

    @Test func aTruncatedFileIsDamagedAtOpen() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            do { try populate(try openEnv(dir, specs)) }
            let size = try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as! Int
            #expect(truncate(path + "/data.mdb", off_t(size / 2)) == 0)
            #expect {
                _ = try Environment.open(path: path, configuration: .init(databases: specs))
            } throws: { error in
                guard case LMDBError.damaged(_, let reason)? = error as? LMDBError else { return false }
                return reason.contains("truncated")
            }
        }
    }

    /// This layer never creates a database with sorted duplicates (`MDB_DUPSORT`): a store
    /// that has one (here written with liblmdb directly) is reported as damaged at open.
    @Test func aDatabaseWithSortedDuplicatesIsDamage() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            var env: OpaquePointer?
            #expect(mdb_env_create(&env) == 0)
            defer { mdb_env_close(env) }
            #expect(mdb_env_set_maxdbs(env, 4) == 0)
            #expect(mdb_env_open(env, path, 0, 0o644) == 0)
            var txn: OpaquePointer?
            #expect(mdb_txn_begin(env, nil, 0, &txn) == 0)
            var dbi = MDB_dbi()
            #expect(mdb_dbi_open(txn, "dups", UInt32(MDB_CREATE | MDB_DUPSORT), &dbi) == 0)
            for value in ["a", "b"] {
                var k = Array("key".utf8), v = Array(value.utf8)
                let rc = k.withUnsafeMutableBytes { kb in
                    v.withUnsafeMutableBytes { vb in
                        var key = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                        var data = MDB_val(mv_size: vb.count, mv_data: vb.baseAddress)
                        return mdb_put(txn, dbi, &key, &data, 0)
                    }
                }
                #expect(rc == 0)
            }
            #expect(mdb_txn_commit(txn) == 0)

            #expect {
                _ = try Environment.open(path: path, configuration: .init(databases: [.init("plain")]))
            } throws: { error in
                guard case LMDBError.damaged(_, let reason)? = error as? LMDBError else { return false }
                return reason.contains("database \"dups\" has sorted duplicates")
            }
        }
    }
}
