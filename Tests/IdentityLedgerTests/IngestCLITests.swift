import Foundation
import Testing
@testable import IdentityLedger

/// `idledger ingest` (SPEC section 8): one result line per command line, each carrying its
/// input line number; a bad line is reported and the rest still run; exit 2 if any failed.
@Suite struct IngestCLITests {
    @Test func blankLinesAreSkippedAndResultsCarryTheirLineNumbers() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"email":"a@example.com"}}"#,
            "",
            "   ",
            #"{"op":"identify","ids":{"email":"not-an-email"}}"#,
            #"{"op":"update","ids":{"email":"a@example.com"},"properties":{"plan":"gold"}}"#,
        ].joined(separator: "\n") + "\n"
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(run.status == 2, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3)
        #expect(lines.map { $0?["line"] as? Int } == [1, 4, 5])
        #expect(lines[0]?["customer"] as? Int == 1)
        #expect((lines[1]?["error"] as? [String: Any])?["code"] as? String == "invalidIdentifierValue")
        #expect(lines[2]?["customer"] as? Int == 1)
        #expect(try Ledger.open(path: path).customer(.id(1)).properties["plan"] == "gold")
    }
}
