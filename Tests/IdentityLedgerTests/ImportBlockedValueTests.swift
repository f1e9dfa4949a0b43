import Foundation
import Testing
@testable import IdentityLedger

/// Import rows carrying values the schema blocks (behaviour §5.6, §2.7): the row is applied
/// without them and counted in the summary's `withBlockedValues` (and in `importFinished`),
/// in a dry run and across a resume too; a row with only blocked values is `noIdentifiers`.
@Suite struct ImportBlockedValueTests {
    /// Rows 1 and 3 carry a blocked value beside good ones, row 4 nothing but blocked values.
    static let csv = """
        external_id,email,phone,name
        A1,test@test.com,,Ann
        A2,b@example.com,,Bob
        A1,,+1 000 000 0000,Ann B.
        ,Test@Test.com,,Nobody
        A3,c@example.com,+44 7700 900003,Cat

        """
    static let jsonl = """
        {"ids":{"external_id":"A1","email":"test@test.com"},"properties":{"name":"Ann"}}
        {"ids":{"external_id":"A2","email":"b@example.com"},"properties":{"name":"Bob"}}
        {"ids":{"external_id":"A1","email":["noreply@shop.example","a1@example.com"]},"properties":{"name":"Ann B."}}
        {"ids":{"email":["Test@Test.com","noreply@x.example"]},"properties":{"name":"Nobody"}}
        {"ids":{"external_id":"A3","email":"c@example.com"},"properties":{"name":"Cat"}}

        """

    static func summaryCounts(_ s: ImportSummary) -> [UInt64] { [s.rows, s.created, s.updated, s.rejected, s.withBlockedValues] }

    @Test(arguments: [("rows.csv", csv), ("rows.jsonl", jsonl)])
    func rowsWithBlockedValuesAreAppliedWithoutThemAndCounted(_ name: String, _ contents: String) async throws {
        let file = try importFixture(name, contents)
        let errors = file + ".errors"
        let ledger = try await makeLedger(schema: JunkIdentifierTests.junkSchema())

        let dry = try await ledger.importFile(at: file, matchBy: "external_id", errors: errors, dryRun: true)
        #expect(Self.summaryCounts(dry) == [5, 3, 1, 1, 2])
        #expect(try ledger.events(from: 1, limit: .max).allSatisfy { $0.importId == nil }, "a dry run wrote")

        let summary = try await ledger.importFile(at: file, matchBy: "external_id", errors: errors)
        #expect(Self.summaryCounts(summary) == [5, 3, 1, 1, 2])
        // Ann holds her ID (and in JSON Lines her good email) but no blocked value.
        let ann = try #require(try ledger.lookup(Identifier(type: "external_id", value: "A1")).first?.customer)
        let held = try ledger.customer(.id(ann)).identifiers.map(\.identifier)
        #expect(!held.contains { $0.value == "test@test.com" || $0.value == "+10000000000" || $0.value.hasPrefix("noreply@") }, "\(held)")
        #expect(try ledger.lookup(Identifier(type: "email", value: "test@test.com")).isEmpty)
        // The row with only blocked values: noIdentifiers, naming them, at the first one's column.
        let rejected = try rejections(errors)
        #expect(rejected.map(\.row) == [4])
        #expect(rejected.first?.code == "noIdentifiers")
        #expect(rejected.first?.message.contains("test@test.com") == true, "\(rejected)")
        #expect(rejected.first?.column == (name.hasSuffix(".csv") ? "email" : "ids.email"))

        // The log flags the rows (read back from the stored bytes) and records the count;
        // running it again reports the finished run's.
        #expect(try ledger.events(from: 1, limit: .max).filter(\.droppedBlocked).compactMap(\.row) == [1, 3])
        let finished = try ledger.events(from: 1, limit: .max).compactMap { event -> ImportCounts? in
            if case .importFinished(_, let counts) = event.body { counts } else { nil }
        }
        #expect(finished.map(\.withBlockedValues) == [2])
        let again = try await ledger.importFile(at: file, matchBy: "external_id", errors: errors)
        #expect(again.alreadyFinished && Self.summaryCounts(again) == [5, 3, 1, 1, 2])
        #expect(try ledger.verify().isValid)
    }

    /// An import stopped after its first batch resumes with the count of the rows committed
    /// before (the flag is in the log), as an uninterrupted run counts; a dry run of the
    /// interrupted import counts them too.
    @Test func aResumedImportCountsTheRowsBeforeTheResumePoint() async throws {
        let file = try importFixture("rows.csv", Self.csv)
        let straight = try await makeLedger(schema: JunkIdentifierTests.junkSchema())
        let expected = try await straight.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, progress: nil, tuning: ImportTuning(batchSize: 2))

        let ledger = try await makeLedger(schema: JunkIdentifierTests.junkSchema())
        let error = await ledgerError {
            _ = try await ledger.importFile(
                at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, progress: nil,
                tuning: ImportTuning(batchSize: 2, stopAfterBatches: 1))
        }
        #expect(error != nil)
        // Rows 1 and 2 committed: row 1 dropped a blocked value.
        #expect(try ledger.snapshot { try $0.importState("i") }?.withBlockedValues == 1)
        let dry = try await ledger.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, dryRun: true, progress: nil, tuning: ImportTuning(batchSize: 2))
        #expect(dry.resumedAfterRow == 2 && Self.summaryCounts(dry) == [5, 3, 1, 1, 2])
        let resumed = try await ledger.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "i", errors: nil, progress: nil, tuning: ImportTuning(batchSize: 2))
        #expect(resumed.resumedAfterRow == 2)
        #expect(Self.summaryCounts(resumed) == Self.summaryCounts(expected) && expected.withBlockedValues == 2)
        // Rebuilding the projections from the log keeps the count.
        #expect(try ledger.verify().isValid)
    }

    /// The CLI prints the count in its summary line (only when there is one) and in `--json`.
    @Test func theCLISummaryShowsTheCount() throws {
        let root = temporaryPath("cli")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let schema = root + "/schema.json"
        try Data(#"""
            {"types":[{"name":"external_id","kind":"unique"},
                      {"name":"email","kind":"contact","normalize":"email","canGrantAccess":true,"blockedValues":["test@test.com"]},
                      {"name":"phone","kind":"contact","normalize":"phone","blockedValues":["+10000000000"]}]}
            """#.utf8).write(to: URL(fileURLWithPath: schema))
        let db = root + "/db"
        let set = try CLIProcess.run(["schema", "set", schema, "--db", db])
        #expect(set.status == 0, "\(set.stderr)")
        let file = root + "/rows.csv"
        try Data(Self.csv.utf8).write(to: URL(fileURLWithPath: file))

        let dry = try CLIProcess.run(["import", file, "--match-by", "external_id", "--dry-run", "--json", "--db", db])
        #expect(dry.status == 2, "\(dry.stderr)")
        #expect(dry.stdout.contains(#""rejected":1,"#) && dry.stdout.contains(#""withBlockedValues":2"#), "\(dry.stdout)")
        let run = try CLIProcess.run(["import", file, "--match-by", "external_id", "--db", db])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stdout.contains("3 created, 1 updated, 1 rejected, 2 with blocked values dropped"), "\(run.stdout)")
        let log = try CLIProcess.run(["log", "--kind", "importFinished", "--json", "--db", db])
        #expect(log.stdout.contains(#""withBlockedValues":2"#), "\(log.stdout) \(log.stderr)")

        // No blocked value: the text line says nothing of them.
        let clean = root + "/clean.csv"
        try Data("external_id,email\nB1,b1@example.com\n".utf8).write(to: URL(fileURLWithPath: clean))
        let plain = try CLIProcess.run(["import", clean, "--match-by", "external_id", "--db", db])
        #expect(plain.status == 0 && !plain.stdout.contains("blocked"), "\(plain.stdout) \(plain.stderr)")
    }
}
