import Foundation
import Testing
@testable import IdentityLedger
@testable import idledger

/// Rules that `ingest` lines and JSON Lines import rows share are written once, so the two
/// read the same input the same way.
struct SharedRuleTests {
    /// A member of `ids` that is not a string or an array of strings is named, and said to
    /// be wrong, in the same words by an ingest line and by an import row.
    @Test func aBadIdsMemberIsTheSameErrorInIngestAndImport() async throws {
        for ids in [#"{"email":["a@example.com",5]}"#, #"{"email":5}"#, #"{"bad type!":true}"#] {
            let ingest = #expect(throws: LedgerError.self) { try Command(jsonLine: #"{"op":"identify","ids":"# + ids + "}") }
            let ledger = try await makeLedger()
            let file = try importFixture("in.jsonl", #"{"ids":"# + ids + "}\n")
            let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
            let found = try rejections(file + ".errors")
            #expect(summary.rejected == 1 && found.count == 1)
            #expect(found.first?.code == ingest?.code && found.first?.message == ingest?.description, "\(ids): \(found) vs \(String(describing: ingest))")
        }
    }

    /// A line over the limit is refused with its size without the line ending, `\r\n` as `\n`,
    /// by `ingest`'s reader and by the import alike.
    @Test func anOverLongCRLFLineHasOneSizeInIngestAndImport() async throws {
        let size = InputLimits.commandBytes + 10
        let file = try importFixture("in.jsonl", String(repeating: "x", count: size) + "\r\n" + #"{"ids":{"email":"a@example.com"}}"# + "\r\n")
        let reader = try LineReader(path: file)
        #expect(reader.next() == .tooLarge(bytes: size))
        #expect(reader.next() == .text(#"{"ids":{"email":"a@example.com"}}"#))
        let ledger = try await makeLedger()
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        let found = try rejections(file + ".errors")
        #expect(summary.created == 1 && found.map(\.code) == ["inputTooLarge"])
        #expect(found.first?.message == LedgerError.inputTooLarge(what: "the line", size: size, limit: InputLimits.commandBytes).description, "\(found)")
    }

    /// The import errors file escapes strings as the CLI's JSON output does (as `JSONEncoder`
    /// does): `\b` and `\f`, not `\u0008` and `\u000c`.
    @Test func theErrorsFileEscapesStringsAsTheJSONOutputDoes() throws {
        let rejection = ImportRejection(row: 1, line: 2, column: "a\u{8}b\u{C}c\u{1}", code: "invalidInput", message: "m")
        let line = ImportErrorsFile.line(rejection)
        #expect(line == #"{"row":1,"line":2,"column":"a\bb\fc\u0001","code":"invalidInput","message":"m"}"#)
        #expect(line.contains(try CompactJSONEncoder().encode(rejection.column)))
    }
}
