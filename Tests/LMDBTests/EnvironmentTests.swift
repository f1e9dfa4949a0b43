import Foundation
import Testing
@testable import LMDB

struct EnvironmentTests {
    struct Boom: Error, Equatable {}

    @Test func throwInsideWriteLeavesNothingWritten() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            try env.write { txn in try txn.put(db, key: bytes("kept"), value: [1]) }
            #expect(throws: Boom()) {
                try env.write { txn in
                    try txn.put(db, key: bytes("ghost"), value: [2])
                    try txn.put(db, key: bytes("kept"), value: [3])
                    try txn.delete(db, key: bytes("kept"))
                    throw Boom()
                }
            }
            try env.read { txn throws in
                #expect(try txn.get(db, key: bytes("ghost")) == nil)
                #expect(try txn.get(db, key: bytes("kept")) == [1])
                #expect(try txn.count(db) == 1)
            }
        }
    }

    @Test func throwInsideAsyncWriteLeavesNothingWritten() async throws {
        try await withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            await #expect(throws: Boom()) {
                try await env.write { txn in
                    try txn.put(db, key: bytes("ghost"), value: [2])
                    throw Boom()
                }
            }
            #expect(try env.read { try $0.get(db, key: bytes("ghost")) } == nil)
        }
    }

    @Test func smuggledReadTransactionThrowsTransactionEnded() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            var smuggled: ReadTransaction?
            var smuggledCursor: Cursor?
            try env.read { txn throws in
                #expect(try txn.get(db, key: [1]) == [1])   // valid inside
                smuggled = txn
                smuggledCursor = try txn.cursor(db)
            }
            let txn = try #require(smuggled)
            #expect(throws: LMDBError.transactionEnded) { try txn.get(db, key: [1]) }
            #expect(throws: LMDBError.transactionEnded) { try txn.count(db) }
            #expect(throws: LMDBError.transactionEnded) { try txn.cursor(db) }
            #expect(throws: LMDBError.transactionEnded) {
                try txn.forEach(db, prefix: [1]) { _ in true }
            }
            #expect(throws: LMDBError.transactionEnded) { try smuggledCursor?.first() }
        }
    }

    @Test func smuggledWriteTransactionThrowsTransactionEnded() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            var smuggled: WriteTransaction?
            try env.write { txn in
                try txn.put(db, key: [1], value: [1])
                smuggled = txn
            }
            let txn = try #require(smuggled)
            #expect(throws: LMDBError.transactionEnded) { try txn.put(db, key: [2], value: [2]) }
            #expect(throws: LMDBError.transactionEnded) { try txn.delete(db, key: [1]) }
            #expect(throws: LMDBError.transactionEnded) { try txn.clear(db) }
            #expect(throws: LMDBError.transactionEnded) { try txn.get(db, key: [1]) }
            // Nothing leaked through the dead transaction.
            try env.read { txn throws in
                #expect(try txn.count(db) == 1)
                #expect(try txn.get(db, key: [1]) == [1])
            }
        }
    }

    @Test func nestedWriteThrowsNestedWrite() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            #expect(throws: LMDBError.nestedWrite) {
                try env.write { txn in
                    try txn.put(db, key: [1], value: [1])
                    try env.write { inner in try inner.put(db, key: [2], value: [2]) }
                }
            }
            // The outer write was aborted by the error; the environment still works.
            #expect(try env.read { try $0.count(db) } == 0)
            // Catching the nested-write error inside lets the outer write commit.
            var caught: LMDBError?
            try env.write { txn in
                try txn.put(db, key: [3], value: [3])
                do { try env.write { inner in try inner.put(db, key: [4], value: [4]) } } catch let e as LMDBError { caught = e }
            }
            #expect(caught == .nestedWrite)
            try env.read { txn throws in
                #expect(try txn.get(db, key: [3]) == [3])
                #expect(try txn.get(db, key: [4]) == nil)
            }
        }
    }

    @Test func onePerPathSamePathReturnsIdenticalInstance() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            let config = Environment.Configuration(databases: [.init("a")], durability: .noSync)
            let first = try Environment.open(path: path, configuration: config)
            let again = try Environment.open(path: path, configuration: config)
            #expect(first === again)
            let dotted = try Environment.open(path: dir.path + "/./env", configuration: config)
            #expect(first === dotted)
            let dotdot = try Environment.open(path: dir.path + "/env/../env", configuration: config)
            #expect(first === dotdot)
            let link = dir.sub("link")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
            let viaLink = try Environment.open(path: link, configuration: config)
            #expect(first === viaLink)
            #expect(viaLink.path == first.path)
            #expect(!first.path.contains("/./"))
            // A different directory is a different environment.
            let other = try Environment.open(path: dir.sub("other"), configuration: config)
            #expect(first !== other)
        }
    }

    @Test func reopeningWithMoreDatabasesAddsThemToTheSameInstance() throws {
        try withTempDir { dir in
            let path = dir.sub("env")
            let env = try Environment.open(path: path, configuration: .init(databases: [.init("a")], durability: .noSync))
            #expect(throws: LMDBError.notFound) { try env.database("b") }
            let same = try Environment.open(path: path, configuration: .init(databases: [.init("b")]))
            #expect(env === same)
            let b = try env.database("b")
            #expect(try env.database("a") != b)
        }
    }

    @Test func droppingTheLastReferenceClosesTheEnvironment() throws {
        try withTempDir { dir in
            weak var weakEnv: Environment?
            do {
                let env = try openEnv(dir)
                let db = try env.database("main")
                try env.write { txn in try txn.put(db, key: [1], value: [1]) }
                try env.read { txn throws in #expect(try txn.get(db, key: [1]) == [1]) }
                weakEnv = env
            }
            // No hidden reference (e.g. from the writer thread) keeps it alive.
            #expect(weakEnv == nil)
            let reopened = try openEnv(dir)
            let db = try reopened.database("main")
            #expect(try reopened.read { try $0.get(db, key: [1]) } == [1])
        }
    }

    @Test func asyncWriteDoesNotKeepTheEnvironmentAlive() async throws {
        try await withTempDir { dir in
            weak var weakEnv: Environment?
            do {
                let env = try openEnv(dir)
                let db = try env.database("main")
                try await env.write { txn in
                    _ = env.mapSize   // the closure itself captures the environment
                    try txn.put(db, key: [1], value: [1])
                }
                weakEnv = env
            }
            #expect(weakEnv == nil)
        }
    }

    @Test func syncFlushesNoSyncEnvironment() throws {
        try withTempDir { dir in
            let env = try openEnv(dir, durability: .noSync)
            let db = try env.database("main")
            try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            try env.sync()
            #expect(FileManager.default.fileExists(atPath: dir.sub("env") + "/data.mdb"))
            #expect(FileManager.default.fileExists(atPath: dir.sub("env") + "/lock.mdb"))
        }
    }

    @Test func openFailsOnAFileInsteadOfADirectory() throws {
        try withTempDir { dir in
            let file = dir.sub("plain-file")
            _ = FileManager.default.createFile(atPath: file, contents: Data("not lmdb".utf8))
            #expect(throws: (any Error).self) {
                _ = try Environment.open(path: file, configuration: .init(databases: [.init("a")]))
            }
        }
    }
}
