import Foundation
import Synchronization
import Testing
@testable import IdentityLedger

/// `importFile(onRejection:)` streams each rejected row, with its row, column, code and the
/// row as read (`input`), in the real run and the dry run alike; the errors file's lines carry
/// the same rejections, `input` included.
@Suite struct ImportRejectionTests {
    /// What an `onRejection` was given, in order.
    final class Received: Sendable {
        private let items = Mutex<[ImportRejection]>([])
        var all: [ImportRejection] { items.withLock { $0 } }
        var handler: @Sendable (ImportRejection) -> Void { { rejection in self.items.withLock { $0.append(rejection) } } }
    }

    /// Three rejections of different kinds among good rows: an invalid value, a wrong field
    /// count, an `access:` cell that is not true or false. `007` and `41` are typed cells.
    private let csv = """
        email,access:email,tier,age
        ann@example.com,true,007,41
        not-an-email,,gold,7
        bob@example.com,,silver
        cy@example.com,maybe,,
        dan@example.com,,,

        """

    private func rows(_ received: [ImportRejection]) -> [[String?]] {
        received.map { ["\($0.row)", $0.column, $0.code] }
    }

    @Test func csvRejectionsAreStreamedWithTheRowAsRead() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", csv)
        let received = Received()
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors", onRejection: received.handler)
        #expect((summary.rows, summary.created, summary.rejected) == (5, 2, 3))
        let got = received.all
        #expect(rows(got) == [["2", "email", "invalidIdentifierValue"], ["3", nil, "wrongColumnCount"], ["4", "access:email", "invalidInput"]])
        // The cells as read: text, before typing (`7` is not the number 7), empty cells included.
        #expect(got[0].input == .object(["email": "not-an-email", "access:email": "", "tier": "gold", "age": "7"]))
        // A record whose field count is not the header's: its fields, in order.
        #expect(got[1].input == .array(["bob@example.com", "", "silver"]))
        #expect(got[2].input == .object(["email": "cy@example.com", "access:email": "maybe", "tier": "", "age": ""]))
        #expect(got.map(\.line) == [3, 4, 5])
        // The errors file holds the same rejections, `input` as a JSON value on each line.
        #expect(try rejections(file + ".errors") == got)
        let lines = try String(contentsOfFile: file + ".errors", encoding: .utf8).split(separator: "\n")
        #expect(lines[1].hasSuffix(#","input":["bob@example.com","","silver"]}"#), "\(lines[1])")
    }

    @Test func jsonLinesRejectionsCarryTheObjectOrTheRawLine() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.jsonl", """
            {"ids":{"email":"ann@example.com"},"properties":{"n":1.5}}
            {"ids":{"email":"bad"},"properties":{"tier":"gold","n":2}}
            {"ids":{"email":"x@example.com"},
            [1,2]
            {"ids":{"email":"cy@example.com"},"colour":"red"}

            """)
        let received = Received()
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors", onRejection: received.handler)
        #expect((summary.rows, summary.created, summary.rejected) == (5, 1, 4))
        let got = received.all
        #expect(rows(got) == [
            ["2", "ids.email", "invalidIdentifierValue"], ["3", nil, "invalidJSON"], ["4", nil, "invalidJSON"], ["5", "colour", "invalidInput"],
        ])
        #expect(got[0].input == .object(["ids": .object(["email": "bad"]), "properties": .object(["tier": "gold", "n": 2])]))
        // Not valid JSON, or not an object: the line as it was read.
        #expect(got[1].input == .string(#"{"ids":{"email":"x@example.com"},"#))
        #expect(got[2].input == .string("[1,2]"))
        #expect(got[3].input == .object(["ids": .object(["email": "cy@example.com"]), "colour": "red"]))
        #expect(try rejections(file + ".errors") == got)
    }

    /// A dry run streams exactly what the real run will, and writes nothing to the store.
    @Test(arguments: ["in.csv", "in.jsonl"])
    func aDryRunStreamsTheRealRunsRejections(_ name: String) async throws {
        let contents = name.hasSuffix(".csv") ? csv : """
            {"ids":{"email":"ann@example.com"}}
            {"ids":{"email":"bad"}}
            not json
            {"ids":{"email":"ann@example.com","external_id":"E1"}}

            """
        let file = try importFixture(name, contents)
        let dryLedger = try await makeLedger()
        let before = try dryLedger.fingerprint()
        let dry = Received()
        let preview = try await dryLedger.importFile(at: file, matchBy: "email", errors: file + ".dry", dryRun: true, onRejection: dry.handler)
        #expect(try dryLedger.fingerprint() == before)
        #expect(try dryLedger.events(from: 1, limit: .max).allSatisfy { $0.kind == "schemaChanged" })

        let real = Received()
        let summary = try await makeLedger().importFile(at: file, matchBy: "email", errors: file + ".real", onRejection: real.handler)
        #expect(!real.all.isEmpty)
        #expect(dry.all == real.all)
        #expect(UInt64(dry.all.count) == preview.rejected && preview.rejected == summary.rejected)
        #expect(try rejections(file + ".dry") == dry.all && dry.all.allSatisfy { $0.input != nil })
    }

    /// Across batches and a resume: each run streams the rows it decided itself, in row
    /// order, once; the errors file ends up with all of them.
    @Test func aResumedImportStreamsOnlyTheRowsAfterItsResumePoint() async throws {
        var lines = ["external_id,email"]
        for i in 1...10 { lines.append(i % 3 == 0 ? "X\(i),bad\(i)" : "X\(i),u\(i)@example.com") }
        let file = try importFixture("in.csv", lines.joined(separator: "\n") + "\n")
        let errors = file + ".errors"
        let ledger = try await makeLedger()
        let first = Received()
        let crash = ImportTuning(batchSize: 4, stopAfterBatches: 1)
        let stopped = await ledgerError {
            _ = try await ledger.importFile(
                at: file, format: nil, matchBy: "external_id", importId: "r", errors: errors, progress: nil, onRejection: first.handler, tuning: crash)
        }
        #expect(stopped?.code == "invalidInput")
        #expect(first.all.map(\.row) == [3])
        let second = Received()
        let summary = try await ledger.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "r", errors: errors, progress: nil, onRejection: second.handler,
            tuning: ImportTuning(batchSize: 4))
        #expect(summary.resumedAfterRow == 4)
        #expect(second.all.map(\.row) == [6, 9])
        #expect(second.all[0].input == .object(["external_id": "X6", "email": "bad6"]))
        #expect(try rejections(errors).map(\.row) == [3, 6, 9])
        // Over the finished import nothing is decided, so nothing is streamed.
        let third = Received()
        _ = try await ledger.importFile(at: file, matchBy: "external_id", importId: "r", onRejection: third.handler)
        #expect(third.all.isEmpty)
    }

    /// A dry run whose one transaction outgrows the map is run again by LMDB after growing it:
    /// the rejections it had already found are not delivered, nor written, a second time.
    @Test func aDryRunThatGrowsTheMapDeliversEachRejectionOnce() async throws {
        var lines = ["external_id,email,note"]
        let note = String(repeating: "n", count: 300)
        for i in 1...3000 { lines.append(i % 250 == 0 ? "X\(i),bad\(i),\(note)" : "X\(i),u\(i)@example.com,\(note)") }
        let file = try importFixture("in.csv", lines.joined(separator: "\n") + "\n")
        let ledger = try Ledger.open(path: temporaryPath(), options: .init(durability: .noSync, initialMapSize: 1 << 20))
        let mapBefore = try ledger.statistics().mapSize
        let received = Received()
        let preview = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".errors", dryRun: true, onRejection: received.handler)
        #expect(try ledger.statistics().mapSize > mapBefore, "the map did not grow: the test proves nothing")
        #expect(preview.rejected == 12)
        #expect(received.all.map(\.row) == (1...12).map { UInt64($0 * 250) })
        #expect(try rejections(file + ".errors") == received.all)
    }

    /// The errors file's direct writer of `input` writes what the one JSON writer does.
    @Test func inputIsWrittenAsTheJSONWriterWritesIt() {
        let value: JSONValue = [
            "é": "x", "e\u{301}": [1, -2.5, 1e300, true, nil], "b": ["q\"uo\\te\n": "\u{1}/"], "a": [], "": [:], "n": .int(.min),
        ]
        var out = ""
        CompactJSONEncoder.write(value, to: &out)
        #expect(out == value.description)
    }

    /// A row over the 1 MiB input limit was not kept: its rejection has no input, and the
    /// errors line stays small.
    @Test(arguments: ["big.csv", "big.jsonl"])
    func aRowOverTheLimitHasNoInput(_ name: String) async throws {
        let huge = String(repeating: "x", count: InputLimits.commandBytes + 10)
        let contents = name.hasSuffix(".csv")
            ? "email,note\nann@example.com,\(huge)\nbob@example.com,short\n"
            : "{\"ids\":{\"email\":\"ann@example.com\"},\"properties\":{\"note\":\"\(huge)\"}}\n{\"ids\":{\"email\":\"bob@example.com\"}}\n"
        let file = try importFixture(name, contents)
        let received = Received()
        let summary = try await makeLedger().importFile(at: file, matchBy: "email", errors: file + ".errors", onRejection: received.handler)
        #expect((summary.rows, summary.created, summary.rejected) == (2, 1, 1))
        #expect(received.all.map(\.code) == ["inputTooLarge"])
        #expect(received.all[0].input == nil)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file + ".errors")[.size] as? Int)
        #expect(size < 1000)
    }
}
