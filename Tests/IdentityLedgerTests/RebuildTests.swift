import Foundation
import Crypto
import Testing
@testable import IdentityLedger
import LMDB

/// A store with merges, declines, detaches, updates and an eventId, closed again
/// (rebuild needs it offline). Returns its path.
func populatedStorePath() async throws -> String {
    let ledger = try await makeLedger()
    let ann = try await ledger.identify("email=ann@example.com", "cookie=c1", access: ["email"], properties: ["name": "Ann"], eventId: "e-1")
    let guest = try await ledger.identify("phone=+447700900001", "cookie=c2", properties: ["cart": 3])
    try await ledger.identify("email=ann@example.com", "phone=+447700900001")
    try await ledger.update("cookie=c1", properties: ["plan": "gold", "cart": nil])
    try await ledger.identify("email=bob@example.com", "phone=+447700900001", access: ["email"])
    _ = try await ledger.detach(DetachCommand(customer: .id(ann.customer), identifier: Identifier(type: "cookie", value: "c2"), actor: "ops"))
    let bob = try await ledger.identify("external_id=X-1", "email=bob@example.com")
    let carl = try await ledger.identify("external_id=X-2", "email=carl@example.com")
    _ = try await ledger.merge(MergeCommand(into: .id(bob.customer), from: .id(carl.customer), actor: "ops"))
    #expect(guest.customer != ann.customer)
    return ledger.env.path
}

/// Runs `body` while an `idledger` process has the store at `path` open: `ingest -` opens it
/// with its first line, then waits for more on stdin.
func withStoreOpenInAnotherProcess(_ path: String, _ body: () async throws -> Void) async throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: try CLIProcess.require())
    child.arguments = ["ingest", "-", "--db", path]
    let stdin = Pipe()
    child.standardInput = stdin
    child.standardOutput = FileHandle.nullDevice
    try child.run()
    stdin.fileHandleForWriting.write(Data(#"{"op":"identify","ids":{"email":"held@example.com"}}"#.utf8 + [10]))
    defer {
        try? stdin.fileHandleForWriting.close()
        child.waitUntilExit()
    }
    let deadline = Date().addingTimeInterval(10)
    while !StoreFiles.lockedByAnotherProcess(path + "/lock.mdb"), Date() < deadline { usleep(10_000) }
    try #require(StoreFiles.lockedByAnotherProcess(path + "/lock.mdb"), "the child has the store open")
    try await body()
}

/// Runs `body` on the store at `path` and closes it again.
func withStore<T>(_ path: String, _ body: (Ledger) throws -> T) throws -> T {
    try body(try Ledger.open(path: path))
}

func withStoreAsync<T>(_ path: String, _ body: (Ledger) async throws -> T) async throws -> T {
    try await body(try Ledger.open(path: path))
}

@Suite struct RebuildTests {
    @Test func rebuildReproducesEveryProjectionAndSwapsItIn() async throws {
        let path = try await populatedStorePath()
        let (before, events) = try withStore(path) { (try $0.projectionDigests(), try $0.events(limit: .max)) }
        let summary = try Ledger.rebuild(path: path)
        #expect(summary.events == UInt64(events.count))
        #expect(summary.changedProjections == [])
        #expect(summary.digests == before)
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
        try withStore(path) { ledger throws in
            #expect(try ledger.projectionDigests() == before)
            #expect(try ledger.events(limit: .max) == events)
            #expect(try ledger.verify().isValid)
        }
    }

    @Test func verifyNamesTheFirstDamagedProjectionAndKeyAndRebuildRepairsIt() async throws {
        let path = try await populatedStorePath()
        // An entry no event explains, sorting after every real key of the projection.
        let damagedKey: [UInt8] = [0xFF, 0xFF, 0x01]
        try withStore(path) { ledger throws in
            try ledger.env.write { txn in try txn.put(ledger.db.customers, key: damagedKey, value: [1]) }
            let report = try ledger.verify()
            #expect(report.mismatch == Ledger.ProjectionMismatch(projection: "customers", key: "ffff01"))
        }
        let summary = try Ledger.rebuild(path: path)
        #expect(summary.changedProjections == ["customers"])
        try withStore(path) { ledger throws in
            #expect(try ledger.verify().isValid)
            try checkInvariants(ledger)
        }
    }

    /// The digests frame each key and value with its length: a byte moved from a value to
    /// the end of its key (same bytes in the same order) is a different projection.
    @Test func verifyCatchesAByteMovedFromAValueIntoItsKey() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("external_id=A", "email=a@x.com")
        #expect(try await !ledger.identify("external_id=B", "email=a@x.com").declined.isEmpty)
        #expect(try ledger.verify().isValid)
        let before = try ledger.projectionDigests()
        let db = ledger.db
        try await ledger.env.write { txn in
            var entries: [Entry] = []
            try txn.forEach(db.declines, prefix: []) { entries.append($0); return true }
            let entry = try #require(entries.count == 1 ? entries[0] : nil)
            try txn.delete(db.declines, key: entry.key)
            try txn.put(db.declines, key: entry.key + [entry.value[0]], value: Array(entry.value.dropFirst()))
        }
        #expect(try ledger.projectionDigests()["declines"] != before["declines"])
        #expect(try ledger.verify().mismatch?.projection == "declines")
    }

    /// A projection's digest is SHA-256 over every key and value, each preceded by its length
    /// as `BinaryWriter` frames it (a header past 127 bytes takes a two-byte length).
    @Test func digestsHashEachKeyAndValueAfterItsLength() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("external_id=A", "email=a@x.com", properties: ["note": .string(String(repeating: "n", count: 300))])
        try await ledger.identify("external_id=B", "email=a@x.com")
        let digests = try ledger.projectionDigests()
        try ledger.env.read { txn in
            for database in ledger.db.projections {
                var framed = BinaryWriter()
                try txn.forEach(database, prefix: []) { entry in
                    framed.write(raw: entry.key)
                    framed.write(raw: entry.value)
                    return true
                }
                #expect(digests[database.name] == SHA256.hash(framed.bytes).hexString, "\(database.name)")
            }
        }
    }

    @Test func rebuildClearsWhatAnInterruptedRebuildLeftBehind() async throws {
        let path = try await populatedStorePath()
        // A crash before the rename leaves a partial new store here; after it, its lock file.
        try FileManager.default.createDirectory(atPath: path + "/rebuild-tmp", withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: path + "/rebuild-tmp/data.mdb"))
        let before = try withStore(path) { try $0.projectionDigests() }
        #expect(try Ledger.rebuild(path: path).digests == before)
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
    }

    @Test func rebuildRefusesAStoreThisProcessHasOpen() async throws {
        let path = try await populatedStorePath()
        let open = try Ledger.open(path: path)
        let error = await ledgerError { try Ledger.rebuild(path: path) }
        #expect(error == .storeInUse(path: open.env.path))
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
    }

    @Test func rebuildRefusesAStoreAnotherProcessHasOpen() async throws {
        let path = try await populatedStorePath()
        try await withStoreOpenInAnotherProcess(path) {
            let error = await ledgerError { try Ledger.rebuild(path: path) }
            #expect(error?.code == "storeInUse")
        }
    }

    @Test func cliRebuildAndVerifyPrintOneSummaryWhenNotOnATerminal() async throws {
        let path = try await populatedStorePath()
        let rebuild = try CLIProcess.run(["rebuild", "--db", path, "--json"])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(rebuild.stdout.utf8)) as? [String: Any]
        #expect(summary?["events"] as? Int == 12)
        #expect(summary?["changedProjections"] as? [String] == [])
        #expect(rebuild.stderr.isEmpty)

        let plain = try CLIProcess.run(["rebuild", "--db", path])
        #expect(plain.status == 0)
        #expect(plain.stdout.split(separator: "\n").count == 1)
        #expect(plain.stdout.hasPrefix("rebuilt 12 events"))
        #expect(plain.stderr.isEmpty, "no progress when stderr is not a terminal")

        let verify = try CLIProcess.run(["verify", "--db", path, "--json"])
        #expect(verify.status == 0, "\(verify.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == true)
        #expect(report?["mismatch"] is NSNull)
    }

    @Test func cliVerifyExitsOneOnAMismatch() async throws {
        let path = try await populatedStorePath()
        try withStore(path) { ledger throws in
            try ledger.env.write { txn in try txn.put(ledger.db.values, key: [0xFE], value: [0]) }
        }
        let verify = try CLIProcess.run(["verify", "--db", path, "--json"])
        #expect(verify.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == false)
        #expect((report?["mismatch"] as? [String: String]) == ["projection": "values", "key": "fe"])
        let error = try JSONSerialization.jsonObject(with: Data(verify.stderr.utf8)) as? [String: [String: String]]
        #expect(error?["error"]?["code"] == "projectionMismatch")
    }

    /// The offline rebuild (behaviour §7.3), from other processes: while `idledger rebuild` runs, each
    /// writer either fails with `storeInUse` (exit 1) or is acknowledged and then found in
    /// the rebuilt store. Writers used to be let in between rebuild's two checks, and their
    /// acknowledged commands vanished with the swap.
    @Test func writersDuringARebuildFailWithStoreInUseOrAreKept() async throws {
        let executable = try CLIProcess.require()
        let path = temporaryPath("rebuild-writers")
        try await fillStore(path, identifies: 8_000)
        var writersDuringRebuilds = 0
        for round in 0..<2 {
            let rebuildStarted = Date()
            let rebuild = try Child(executable, ["rebuild", "--db", path, "--json"])
            usleep(300_000)
            var writers: [(email: String, result: Child.Result)] = []
            while rebuild.isRunning, writers.count < 30 {
                let email = "during-\(round)-\(writers.count)@x.com"
                let writer = try Child(executable, ["identify", "--id", "email=\(email)", "--access", "email", "--json", "--db", path])
                writers.append((email, writer.wait()))
            }
            let rebuilt = rebuild.wait()
            #expect(rebuilt.exitedNormally && rebuilt.status == 0, "round \(round): \(rebuilt)")
            print("round \(round): rebuild took \(Date().timeIntervalSince(rebuildStarted))s, \(writers.count) writers, \(writers.filter { $0.result.status == 0 }.count) acknowledged")
            try withStore(path) { ledger throws in
                for (email, result) in writers {
                    if result.exitedNormally && result.status == 0 {
                        #expect(try ledger.owner("email=\(email)") != nil, "round \(round): acknowledged \(email) is not in the rebuilt store")
                    } else {
                        #expect(result.exitedNormally && result.status == 1 && result.stderr.contains(#""code":"storeInUse""#), "round \(round): \(result)")
                    }
                }
            }
            if rebuilt.status == 0 { writersDuringRebuilds += writers.count }
        }
        #expect(writersDuringRebuilds > 0, "no writer ran while a rebuild did")
    }
}

/// Fills a new store at `path` with `identifies` new customers (no sync: only a large log is
/// wanted), in batches, and closes it.
func fillStore(_ path: String, identifies: Int) async throws {
    let ledger = try Ledger.open(path: path, options: .init(durability: .noSync))
    for start in stride(from: 0, to: identifies, by: 1000) {
        let batch = (start..<min(start + 1000, identifies)).map { i in
            Command.identify(IdentifyCommand(identifiers: ids("email=u\(i)@example.com", "cookie=k\(i)"), access: ["email"]))
        }
        _ = try await ledger.execute(batch: batch)
    }
    try ledger.sync()
}
