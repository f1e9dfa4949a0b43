import Foundation
import Testing
@testable import IdentityLedger

/// The size of a store's data file.
private func dataFileSize(_ store: String) throws -> UInt64 {
    try #require(try FileManager.default.attributesOfItem(atPath: store + "/data.mdb")[.size] as? UInt64)
}

private func contents(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// A writer that identifies a new customer after another until it is stopped.
private final class LoopingWriter: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var task: Task<Int, any Error>?

    init(_ ledger: Ledger) {
        task = Task.detached { [self] in
            var count = 0
            while !lock.withLock({ stopped }) {
                count += 1
                try await ledger.identify("email=writer-\(count)@example.com", "cookie=w\(count)", properties: ["n": .int(Int64(count))])
            }
            return count
        }
    }

    /// Stops the writer; returns how many commands it committed.
    func stop() async throws -> Int {
        lock.withLock { stopped = true }
        return try await task!.value
    }
}

@Suite struct BackupCompactTests {
    // MARK: backup

    @Test func backupWhileAWriterCommitsHoldsAPrefixOfTheLiveLogAndVerifies() async throws {
        let ledger = try await makeLedger()
        let writer = LoopingWriter(ledger)
        while try ledger.position < 100 { try await Task.sleep(for: .milliseconds(1)) }
        let destination = temporaryPath("backup")
        let summary = try ledger.backup(to: destination)
        // Let the writer go on past the copy's moment, so that the copy is not the whole log.
        while try ledger.position < summary.position + 20 { try await Task.sleep(for: .milliseconds(1)) }
        let committed = try await writer.stop()

        #expect(summary.position >= 100)
        #expect(summary.path == destination)
        #expect(try contents(destination) == ["data.mdb"], "the copy is its data file alone")
        #expect(summary.bytes == (try dataFileSize(destination)))
        let live = try ledger.events(limit: .max)
        #expect(live.count > Int(summary.position) && committed > 0)
        let copy = try Ledger.open(path: destination)
        let copied = try copy.events(limit: .max)
        #expect(copied.count == Int(summary.position))
        #expect(Array(live.prefix(copied.count)) == copied, "the same events at the same positions")
        #expect(try copy.verify().isValid)
        try checkInvariants(copy)
    }

    @Test func backupGoesIntoAnExistingEmptyDirectoryAndTheCopyIsAStoreOfItsOwn() async throws {
        let path = try await populatedStorePath()
        let destination = temporaryPath("empty")
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let (summary, digests) = try withStore(path) { ledger in (try ledger.backup(to: destination), try ledger.projectionDigests()) }
        #expect(summary.position == 12)
        let copy = try Ledger.open(path: destination)
        #expect(try copy.projectionDigests() == digests)
        // Written to, the copy leaves the original as it was.
        try await copy.identify("email=only-in-the-copy@example.com")
        #expect(try copy.position == 13)
        #expect(try withStore(path) { try $0.position } == 12)
    }

    @Test func backupRefusesADirectoryThatHoldsAnythingAndWritesNothingThere() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=ann@example.com")
        let destination = temporaryPath("full")
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: destination + "/notes.txt"))
        let error = await ledgerError { _ = try ledger.backup(to: destination) }
        #expect(error == .destinationNotEmpty(path: destination))
        #expect(error?.description.contains(destination) == true)
        #expect(try contents(destination) == ["notes.txt"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: destination + "/notes.txt")) == Data("keep me".utf8))

        // A store of its own is no place for a copy either.
        let intoItself = await ledgerError { _ = try ledger.backup(to: ledger.env.path) }
        #expect(intoItself == .destinationNotEmpty(path: ledger.env.path))

        let file = temporaryPath("a-file")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(await ledgerError { _ = try ledger.backup(to: file) } == .notADirectory(path: file))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == Data("x".utf8))
    }

    // MARK: compact

    @Test func compactAfterChurnGetsNoBiggerAndKeepsTheLogAndEveryProjection() async throws {
        let path: String
        do {
            let ledger = try await makeLedger()
            try await ledger.identify("email=ann@example.com", access: ["email"])
            // One property of one customer updated again and again: each version's pages are
            // copied on write and the old ones freed.
            for round in 0..<300 {
                try await ledger.update("email=ann@example.com", properties: ["note": .string("round \(round) " + String(repeating: "x", count: 2_000))])
            }
            path = ledger.env.path
        }
        let (events, digests) = try withStore(path) { ledger in (try ledger.events(limit: .max), try ledger.projectionDigests()) }
        let before = try dataFileSize(path)

        let summary = try Ledger.compact(path: path)
        #expect(summary.bytesBefore == before)
        #expect(summary.bytesAfter == (try dataFileSize(path)))
        #expect(summary.bytesAfter <= summary.bytesBefore)
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))

        try await withStoreAsync(path) { ledger in
            #expect(try ledger.events(limit: .max) == events)
            #expect(try ledger.projectionDigests() == digests)
            #expect(try ledger.verify().isValid)
            // Still a store to write to.
            try await ledger.identify("email=bob@example.com")
            #expect(try ledger.position == UInt64(events.count) + 1)
        }
    }

    /// A rebuild writes a new data file; compacting it then changes nothing it holds.
    @Test func compactAfterARebuildKeepsTheLogAndEveryProjection() async throws {
        let path = try await populatedStorePath()
        try Ledger.rebuild(path: path)
        let (events, digests) = try withStore(path) { ledger in (try ledger.events(limit: .max), try ledger.projectionDigests()) }
        let summary = try Ledger.compact(path: path)
        #expect(summary.bytesAfter <= summary.bytesBefore)
        try withStore(path) { ledger throws in
            #expect(try ledger.events(limit: .max) == events)
            #expect(try ledger.projectionDigests() == digests)
        }
    }

    @Test func compactRefusesAStoreThisProcessHasOpen() async throws {
        let path = try await populatedStorePath()
        let before = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
        let open = try Ledger.open(path: path)
        let error = await ledgerError { try Ledger.compact(path: path) }
        #expect(error == .storeInUse(path: open.env.path))
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")) == before)
    }

    @Test func compactRefusesAStoreAnotherProcessHasOpen() async throws {
        let path = try await populatedStorePath()
        try await withStoreOpenInAnotherProcess(path) {
            let error = await ledgerError { try Ledger.compact(path: path) }
            #expect(error?.code == "storeInUse")
            #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
        }
    }

    @Test func compactClearsWhatAnInterruptedSwapLeftBehind() async throws {
        let path = try await populatedStorePath()
        try FileManager.default.createDirectory(atPath: path + "/rebuild-tmp", withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: path + "/rebuild-tmp/data.mdb"))
        let digests = try withStore(path) { try $0.projectionDigests() }
        try Ledger.compact(path: path)
        #expect(!FileManager.default.fileExists(atPath: path + "/rebuild-tmp"))
        #expect(try withStore(path) { try $0.projectionDigests() } == digests)
    }

    // MARK: CLI

    @Test func cliBackupPrintsWhereAndWhatItCopied() async throws {
        let path = try await populatedStorePath()
        let destination = temporaryPath("cli-backup")
        let run = try CLIProcess.run(["backup", destination, "--db", path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(summary["position"] as? Int == 12)
        #expect(summary["path"] as? String == destination)
        #expect(summary["bytes"] as? Int == Int(try dataFileSize(destination)))
        #expect(run.stderr.isEmpty)
        #expect(try withStore(destination) { try $0.events(limit: .max) } == (try withStore(path) { try $0.events(limit: .max) }))

        let again = try CLIProcess.run(["backup", destination, "--db", path, "--json"])
        #expect(again.status == 1)
        let error = try JSONSerialization.jsonObject(with: Data(again.stderr.utf8)) as? [String: [String: String]]
        #expect(error?["error"]?["code"] == "destinationNotEmpty")

        let plain = try CLIProcess.run(["backup", temporaryPath("cli-plain"), "--db", path])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("log position 12"))
    }

    @Test func cliCompactPrintsTheSizesAndRefusesAStoreInUse() async throws {
        let path = try await populatedStorePath()
        let digests = try withStore(path) { try $0.projectionDigests() }
        let run = try CLIProcess.run(["compact", "--db", path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let after = try #require(summary["bytesAfter"] as? Int)
        #expect(after == Int(try dataFileSize(path)))
        #expect(after <= (try #require(summary["bytesBefore"] as? Int)))
        #expect(try withStore(path) { try $0.projectionDigests() } == digests)

        let open = try Ledger.open(path: path)
        let refused = try CLIProcess.run(["compact", "--db", path])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("error storeInUse:"), "\(refused.stderr)")
        withExtendedLifetime(open) {}

        let missing = try CLIProcess.run(["compact", "--db", temporaryPath("nothing-here")])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("error storeNotFound:"))
    }
}
