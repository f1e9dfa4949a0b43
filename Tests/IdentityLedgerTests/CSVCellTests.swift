import Foundation
import Testing
@testable import IdentityLedger

/// CSV cells are stored typed: JSON numbers as numbers, `true`/`false` as booleans, the rest
/// (leading zeros, `+`, words) as text; `.text` (CLI `--strings`) keeps every cell as written.
@Suite struct CSVCellTests {
    private func csv(_ text: String) throws -> String {
        let file = temporaryPath("cells.csv")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    private let rows = """
        external_id,age,balance,member,zip,phone_text,note,big
        k-1,41,-2.5,true,007,+44,hello,1e3
        k-2,0,10.0,false,12345,1,True,99999999999999999999
        """

    @Test func cellsAreTypedByDefault() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.importFile(at: try csv(rows), matchBy: "external_id")
        let first = try ledger.customer(.identifier(Identifier(type: "external_id", value: "k-1"))).properties
        #expect(first["age"] == .int(41))
        #expect(first["balance"] == .double(-2.5))
        #expect(first["member"] == .bool(true))
        #expect(first["zip"] == .string("007"))
        #expect(first["phone_text"] == .string("+44"))
        #expect(first["note"] == .string("hello"))
        #expect(first["big"] == .int(1000)) // as the JSON reader reads it: an integral value is an integer
        let second = try ledger.customer(.identifier(Identifier(type: "external_id", value: "k-2"))).properties
        #expect(second["age"] == .int(0))
        #expect(second["member"] == .bool(false))
        #expect(second["zip"] == .int(12345))
        #expect(second["note"] == .string("True"))
    }

    @Test func textKeepsEveryCellAsWritten() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.importFile(at: try csv(rows), matchBy: "external_id", csvCells: .text)
        let first = try ledger.customer(.identifier(Identifier(type: "external_id", value: "k-1"))).properties
        #expect(first["age"] == .string("41"))
        #expect(first["member"] == .string("true"))
        #expect(first["big"] == .string("1e3"))
    }

    @Test func theCLIStringsFlagKeepsText() throws {
        let path = temporaryPath()
        let file = try csv(rows)
        let typed = try CLIProcess.run(["import", file, "--match-by", "external_id", "--db", path])
        #expect(typed.status == 0, "\(typed.stderr)")
        let other = temporaryPath()
        let text = try CLIProcess.run(["import", file, "--match-by", "external_id", "--strings", "--db", other])
        #expect(text.status == 0, "\(text.stderr)")
        let shownTyped = try CLIProcess.run(["show", "external_id=k-1", "--json", "--db", path]).stdout
        let shownText = try CLIProcess.run(["show", "external_id=k-1", "--json", "--db", other]).stdout
        #expect(shownTyped.contains(#""age":41"#), "\(shownTyped)")
        #expect(shownText.contains(#""age":"41""#), "\(shownText)")
    }
}
