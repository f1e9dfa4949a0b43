import Foundation
import Testing
@testable import IdentityLedger

/// `import --source NAME`: the source recorded for rows without their own, as `log --json`
/// shows it; and an import resumed with other options than it was started with is refused.
@Suite struct ImportSourceOptionTests {
    /// The CLI's log as JSON objects, one per event.
    private func log(_ db: String) throws -> [[String: Any]] {
        let run = try CLIProcess.run(["log", "--json", "--db", db])
        #expect(run.status == 0, "\(run.stderr)")
        return try run.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    private func sources(_ events: [[String: Any]]) -> [String?] {
        events.filter { $0["kind"] as? String == "identified" }.map { $0["source"] as? String }
    }

    @Test func theSourceIsRecordedForEveryRowOfACSVImport() throws {
        let db = temporaryPath()
        let file = try importFixture("crm.csv", "email,source\nann@example.com,web\nbob@example.com,\n")
        let run = try CLIProcess.run(["import", file, "--match-by", "email", "--source", "crm-2026", "--json", "--db", db])
        #expect(run.status == 0, "\(run.stderr)")
        let events = try log(db)
        // A CSV `source` column is a property, not the row's source: CSV rows carry none.
        #expect(sources(events) == ["crm-2026", "crm-2026"])
        let start = try #require(events.first { $0["kind"] as? String == "importStarted" })
        #expect(start["defaultSource"] as? String == "crm-2026")
        #expect(start["csvCells"] as? String == "typed")
        #expect(try Ledger.open(path: db).customer(.id(1)).properties["source"] == "web")
    }

    @Test func aJSONLinesRowsOwnSourceWins() throws {
        let db = temporaryPath()
        let file = try importFixture("in.jsonl", """
            {"ids":{"email":"ann@example.com"},"source":"pos"}
            {"ids":{"email":"bob@example.com"}}

            """)
        let run = try CLIProcess.run(["import", file, "--match-by", "email", "--source", "crm", "--db", db])
        #expect(run.status == 0, "\(run.stderr)")
        let events = try log(db)
        #expect(sources(events) == ["pos", "crm"])
        let start = try #require(events.first { $0["kind"] as? String == "importStarted" })
        #expect(start["csvCells"] is NSNull)
    }

    @Test func withoutTheOptionRowsAreFromImport() throws {
        let db = temporaryPath()
        let file = try importFixture("in.csv", "email\nann@example.com\n")
        #expect(try CLIProcess.run(["import", file, "--match-by", "email", "--db", db]).status == 0)
        let events = try log(db)
        #expect(sources(events) == ["import"])
        #expect(try #require(events.first { $0["kind"] as? String == "importStarted" })["defaultSource"] is NSNull)
    }

    /// Running the import again (same file, so the same import ID) with another --source: refused,
    /// exit 1, naming the option; nothing is written.
    @Test func theCLIRefusesARunWithAnotherSource() throws {
        let db = temporaryPath()
        let file = try importFixture("in.csv", "email\nann@example.com\n")
        #expect(try CLIProcess.run(["import", file, "--match-by", "email", "--source", "crm", "--db", db]).status == 0)
        let events = try log(db).count
        let run = try CLIProcess.run(["import", file, "--match-by", "email", "--source", "web", "--json", "--db", db])
        #expect(run.status == 1)
        #expect(run.stderr.contains(#""code":"importOptionChanged""#) && run.stderr.contains("--source"), "\(run.stderr)")
        #expect(try log(db).count == events)
        // With the same option it is the finished import: nothing to do.
        let again = try CLIProcess.run(["import", file, "--match-by", "email", "--source", "crm", "--json", "--db", db])
        #expect(again.status == 0 && again.stdout.contains(#""alreadyFinished":true"#), "\(again.stdout)\(again.stderr)")
    }

    @Test(arguments: ["", "a\nb", String(repeating: "s", count: 201)])
    func aBadSourceIsRefusedBeforeAnythingIsWritten(_ source: String) async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "email\nann@example.com\n")
        let before = try ledger.fingerprint()
        try await expectRefused(ledger, code: "invalidInput") {
            _ = try await ledger.importFile(at: file, matchBy: "email", source: source)
        }
        #expect(try ledger.fingerprint() == before)
    }

    /// An interrupted import resumed with any other option is refused with that option and
    /// both values; with the same ones it resumes, every row with the source it started with.
    @Test func anInterruptedImportResumedWithAnotherOptionIsRefused() async throws {
        let ledger = try await makeLedger()
        var lines = ["external_id,email,age"]
        for i in 1...6 { lines.append("X\(i),u\(i)@example.com,\(i)") }
        let file = try importFixture("in.csv", lines.joined(separator: "\n") + "\n")
        let tuning = ImportTuning(batchSize: 2)
        var crash = tuning
        crash.stopAfterBatches = 1
        _ = await ledgerError {
            _ = try await ledger.importFile(
                at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, source: "crm", progress: nil, tuning: crash)
        }
        let before = try ledger.fingerprint()
        func resume(format: ImportFormat? = nil, matchBy: String = "external_id", source: String? = "crm", cells: CSVCells = .typed) async -> LedgerError? {
            await ledgerError {
                _ = try await ledger.importFile(
                    at: file, format: format, matchBy: matchBy, importId: "i", errors: nil, source: source, csvCells: cells, progress: nil, tuning: tuning)
            }
        }
        #expect(await resume(source: "web") == .importOptionChanged(importId: "i", option: "source", startedWith: "crm", found: "web"))
        #expect(await resume(source: nil) == .importOptionChanged(importId: "i", option: "source", startedWith: "crm", found: "import"))
        #expect(await resume(matchBy: "email") == .importOptionChanged(importId: "i", option: "matchBy", startedWith: "external_id", found: "email"))
        #expect(await resume(cells: .text) == .importOptionChanged(importId: "i", option: "csvCells", startedWith: "typed", found: "text"))
        #expect(await resume(format: .jsonl) == .importOptionChanged(importId: "i", option: "format", startedWith: "csv", found: "jsonl"))
        #expect(try ledger.fingerprint() == before)

        let summary = try await ledger.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, source: "crm", progress: nil, tuning: tuning)
        #expect(summary.resumedAfterRow == 2 && summary.created == 6)
        let rows = try ledger.events(from: 1, limit: .max).filter { $0.kind == "identified" }
        #expect(rows.map(\.source) == Array(repeating: "crm", count: 6))
        #expect(try ledger.customer(.id(6)).properties["age"] == 6)
    }

    /// An `importStarted` written before the options were recorded (event format 2: the same
    /// layout without them) reads with none, so its typing is not checked on a resume.
    @Test func aFormat2ImportStartedReadsWithoutOptions() throws {
        let start = ImportStart(importId: "old", sourceName: "a.csv", contentDigest: [1, 2], matchBy: "email", format: "csv")
        let event = Event(seq: 2, commandSeq: 2, recordedAt: 1_793_000_000_000, occurredAt: 1_793_000_000_000, source: nil, eventId: nil,
                          payloadDigest: nil, actor: nil, note: nil, importId: "old", row: nil, body: .importStarted(start))
        var bytes = event.encoded()
        #expect(bytes.first == Event.formatVersion && bytes.suffix(2) == [0, 0])
        bytes[0] = 2
        bytes.removeLast(2)
        #expect(try Event(seq: 2, bytes: bytes) == event)
        bytes[0] = 3 // from format 3 on the options are there: without them the event is corrupt
        #expect(throws: LedgerError.self) { try Event(seq: 2, bytes: bytes) }
    }

    /// The recorded options survive a rebuild: the projection is derived from the log.
    @Test func theOptionsAreKeptByARebuild() async throws {
        let path = temporaryPath()
        let file = try importFixture("in.csv", "email\nann@example.com\n")
        do {
            let ledger = try Ledger.open(path: path)
            _ = try await ledger.importFile(at: file, matchBy: "email", importId: "k", source: "crm", csvCells: .text)
        }
        #expect(try CLIProcess.run(["rebuild", "--db", path]).status == 0)
        let ledger = try Ledger.open(path: path)
        let state = try #require(try ledger.snapshot { try $0.importState("k") })
        #expect(state.start.source == "crm" && state.start.csvCells == .text)
        #expect(await ledgerError { _ = try await ledger.importFile(at: file, matchBy: "email", importId: "k", source: "crm") }
            == .importOptionChanged(importId: "k", option: "csvCells", startedWith: "text", found: "typed"))
    }
}
