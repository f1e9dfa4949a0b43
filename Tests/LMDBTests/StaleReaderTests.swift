import Foundation
import Testing
@testable import LMDB
#if canImport(Glibc)
import Glibc
#endif

private let python3 = findExecutable("python3", candidates: ["/usr/bin/python3", "/usr/local/bin/python3"])

/// Opens the environment at argv[1] through liblmdb with ctypes; with argv[2] == "read" it also
/// begins a read-only transaction. Prints "ready <pid>" and sleeps until killed.
private let lmdbChildScript = #"""
import ctypes, ctypes.util, os, sys, time
lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")
MDB_NOTLS = 0x200000
MDB_RDONLY = 0x20000
env = ctypes.c_void_p()
txn = ctypes.c_void_p()
lib.mdb_env_create.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
lib.mdb_env_set_maxdbs.argtypes = [ctypes.c_void_p, ctypes.c_uint]
lib.mdb_env_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint]
lib.mdb_txn_begin.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p)]
def ok(rc, what):
    if rc != 0:
        print("error %s %d" % (what, rc), flush=True)
        sys.exit(1)
ok(lib.mdb_env_create(ctypes.byref(env)), "create")
ok(lib.mdb_env_set_maxdbs(env, 64), "maxdbs")
ok(lib.mdb_env_open(env, sys.argv[1].encode(), MDB_NOTLS, 0o644), "open")
if sys.argv[2] == "read":
    ok(lib.mdb_txn_begin(env, None, MDB_RDONLY, ctypes.byref(txn)), "txn_begin")
print("ready %d" % os.getpid(), flush=True)
time.sleep(120)
"""#

/// A python child holding the environment open.
private final class LMDBChild {
    let process = Process()
    let pipe = Pipe()
    private(set) var output = ""

    init(path: String, mode: String) throws {
        process.executableURL = URL(fileURLWithPath: python3!)
        process.arguments = ["-c", lmdbChildScript, path, mode]
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
    }

    /// Reads output until "ready" (true) or end of output (false).
    func waitUntilReady() -> Bool {
        while !output.contains("ready") {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { return false }
            output += String(decoding: data, as: UTF8.self)
        }
        return true
    }

    func killHard() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

@Suite(.enabled(if: python3 != nil, "python3 is not installed"))
struct StaleReaderTests {
    @Test func readerKilledWithSIGKILLIsClearedOnOpen() throws {
        try withTempDir("stale") { dir in
            let path = dir.sub("env")
            // Create the environment, then let this process's instance close.
            weak var weakEnv: Environment?
            do {
                let env = try Environment.open(path: path, configuration: .init(databases: [.init("main")]))
                let db = try env.database("main")
                try env.write { txn in try txn.put(db, key: bytes("k"), value: bytes("v")) }
                weakEnv = env
            }
            try #require(weakEnv == nil, "the first instance must be closed before the children open")

            // A holder keeps the environment open, so that the next opener is not the only user
            // (the only user of an environment re-initialises the reader table and would never see
            // a stale slot); a reader holds a read transaction and is killed.
            let holder = try LMDBChild(path: path, mode: "hold")
            defer { holder.killHard() }
            try #require(holder.waitUntilReady(), "holder: \(holder.output)")
            let reader = try LMDBChild(path: path, mode: "read")
            defer { reader.killHard() }
            try #require(reader.waitUntilReady(), "reader: \(reader.output)")
            let readerPID = reader.process.processIdentifier

            let mdbStat = findExecutable("mdb_stat", candidates: ["/usr/bin/mdb_stat"])
            if let mdbStat {
                let table = try runProcess(mdbStat, ["-r", path])
                // (mdb_stat 0.9 exits 1 after printing the reader table, so check the output.)
                #expect(table.output.contains("Reader Table Status"), "\(table.output)")
                #expect(table.output.contains(" \(readerPID) "), "reader table: \(table.output)")
            }

            kill(readerPID, SIGKILL)
            reader.process.waitUntilExit()
            #expect(reader.process.terminationReason == .uncaughtSignal)
            #expect(reader.process.terminationStatus == SIGKILL)

            let env = try Environment.open(path: path, configuration: .init(databases: [.init("main")]))
            #expect(env.staleReadersCleared == 1)
            let db = try env.database("main")
            #expect(string(try env.read { try $0.get(db, key: bytes("k")) }) == "v")
            try env.write { txn in try txn.put(db, key: bytes("k2"), value: bytes("v2")) }
            #expect(string(try env.read { try $0.get(db, key: bytes("k2")) }) == "v2")

            if let mdbStat {
                let table = try runProcess(mdbStat, ["-r", path])
                // (mdb_stat 0.9 exits 1 after printing the reader table, so check the output.)
                #expect(table.output.contains("Reader Table Status"), "\(table.output)")
                #expect(!table.output.contains(" \(readerPID) "), "reader table: \(table.output)")
            }
        }
    }

    @Test func liveReaderIsNotCleared() throws {
        try withTempDir("live") { dir in
            let path = dir.sub("env")
            do {
                let env = try Environment.open(path: path, configuration: .init(databases: [.init("main")]))
                let db = try env.database("main")
                try env.write { txn in try txn.put(db, key: [1], value: [1]) }
            }
            let reader = try LMDBChild(path: path, mode: "read")
            defer { reader.killHard() }
            try #require(reader.waitUntilReady(), "reader: \(reader.output)")
            let env = try Environment.open(path: path, configuration: .init(databases: [.init("main")]))
            #expect(env.staleReadersCleared == 0)
            // The live reader pins an old snapshot, but writes still work.
            let db = try env.database("main")
            try env.write { txn in try txn.put(db, key: [2], value: [2]) }
            #expect(try env.read { try $0.count(db) } == 2)
        }
    }
}
