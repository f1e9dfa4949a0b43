import Foundation
import Testing
@testable import LMDB

struct CopyTests {
    /// LMDB frees a page without clearing it: a deleted value's bytes stay in the data file
    /// until the page is reused. A compacting copy writes only the pages in use.
    @Test func compactingCopyLeavesOutTheBytesOfFreedPages() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            let marker = bytes("erase-me-" + UUID().uuidString)
            var expected: [[UInt8]: [UInt8]] = [:]
            try env.write { txn in
                // Several leaf pages, the marker on one of them.
                for i in 0..<500 {
                    let key = bytes(String(format: "key-%04d", i)), value = [UInt8](repeating: UInt8(i % 251), count: 100)
                    try txn.put(db, key: key, value: value)
                    expected[key] = value
                }
                try txn.put(db, key: bytes("key-0250-marker"), value: marker)
            }
            // A reader from before the delete keeps LMDB from reusing the pages freed after it
            // (as any long reader of a live store does), so the churn cannot overwrite them.
            try env.read { _ in
                try env.write { txn throws in #expect(try txn.delete(db, key: bytes("key-0250-marker"))) }
                for round in 0..<20 {
                    let key = bytes(String(format: "key-%04d", round * 25)), value = [UInt8](repeating: UInt8(round), count: 100)
                    try env.write { txn in try txn.put(db, key: key, value: value) }
                    expected[key] = value
                }
            }
            let original = try Data(contentsOf: URL(fileURLWithPath: dir.sub("env") + "/data.mdb"))
            try #require(original.range(of: Data(marker)) != nil, "the deleted value's bytes are still in the live data file")

            let copyPath = dir.sub("copy")
            try FileManager.default.createDirectory(atPath: copyPath, withIntermediateDirectories: false)
            try env.copy(to: copyPath)
            let copied = try Data(contentsOf: URL(fileURLWithPath: copyPath + "/data.mdb"))
            #expect(copied.range(of: Data(marker)) == nil, "no byte of the deleted value in the compacted copy")
            #expect(copied.count < original.count)

            let copy = try Environment.open(path: copyPath, configuration: .init(databases: [.init("main")], initialMapSize: 8 << 20))
            let copyDB = try copy.database("main")
            var found: [[UInt8]: [UInt8]] = [:]
            try copy.read { txn in
                try txn.forEach(copyDB, prefix: []) { entry in
                    found[entry.key] = entry.value
                    return true
                }
            }
            #expect(found == expected)
        }
    }

    /// The copy is taken in one read transaction: it holds every commit before it whole, and
    /// none of those after it.
    @Test func copyTakenWhileAnotherThreadCommitsHoldsAPrefixOfTheCommits() async throws {
        try await withTempDir { dir in
            let env = try openEnv(dir)
            let db = try env.database("main")
            let stop = StopFlag()
            let writer = Task.detached { () throws -> UInt32 in
                // Commit n writes key n and sets the counter to n: both or neither.
                var n: UInt32 = 0
                while !stop.isSet {
                    n += 1
                    let seq = withUnsafeBytes(of: n.bigEndian, Array.init)
                    try env.write { txn in
                        try txn.put(db, key: bytes("n") + seq, value: [UInt8](repeating: 7, count: 200))
                        try txn.put(db, key: bytes("counter"), value: seq)
                    }
                }
                return n
            }
            while try env.read({ try $0.count(db) }) < 200 { try await Task.sleep(for: .milliseconds(1)) }
            let copyPath = dir.sub("copy")
            try FileManager.default.createDirectory(atPath: copyPath, withIntermediateDirectories: false)
            try env.copy(to: copyPath)
            let copied = try Environment.open(path: copyPath, configuration: .init(databases: [.init("main")], initialMapSize: 8 << 20))
            let copiedDB = try copied.database("main")
            let (counter, count) = try copied.read { txn in
                (try txn.get(copiedDB, key: bytes("counter")), try txn.count(copiedDB))
            }
            // Let the writer go on past the copy's moment before stopping it.
            while try env.read({ try $0.count(db) }) < count + 50 { try await Task.sleep(for: .milliseconds(1)) }
            stop.set()
            let last = try await writer.value

            let inCopy = try #require(counter).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(inCopy >= 199 && inCopy < last, "a moment during the writes: \(inCopy) of \(last)")
            #expect(count == Int(inCopy) + 1, "every key up to the counter, none after")
        }
    }

    @Test func copyRefusesADirectoryThatHoldsADataFileAndLeavesItAlone() throws {
        try withTempDir { dir in
            let env = try openEnv(dir)
            let copyPath = dir.sub("copy")
            try FileManager.default.createDirectory(atPath: copyPath, withIntermediateDirectories: false)
            let existing = Data("not mine".utf8)
            try existing.write(to: URL(fileURLWithPath: copyPath + "/data.mdb"))
            #expect(throws: LMDBError.errno(EEXIST)) { try env.copy(to: copyPath) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: copyPath + "/data.mdb")) == existing)
            #expect(throws: LMDBError.noSuchFile) { try env.copy(to: dir.sub("missing")) }
            #expect(!FileManager.default.fileExists(atPath: dir.sub("missing")))
        }
    }
}

/// Tells a writer thread to stop.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
