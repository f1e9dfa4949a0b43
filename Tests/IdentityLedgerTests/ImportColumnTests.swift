import Foundation
import Testing
@testable import IdentityLedger

/// A rejected row names its column as data (`ImportRejection.column`), set where the fault
/// is found: never read back out of a message.
@Suite struct ImportColumnTests {
    /// A CSV property value over its limit is rejected in its column.
    @Test func aCSVValueOverItsLimitNamesItsColumn() async throws {
        let ledger = try await makeLedger()
        let big = String(repeating: "x", count: InputLimits.propertyValueBytes + 1)
        let file = try importFixture("in.csv", "email,bio,name\na@example.com,\(big),Ann\nb@example.com,short,Bob\n")
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rejected == 1 && summary.created == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["inputTooLarge"] && found.map(\.column) == ["bio"], "\(found)")
    }

    /// A JSON Lines row names the field: `properties.KEY` for a property, the field itself
    /// for one of the wrong type. A row too large as a whole names none.
    @Test func aJSONLinesRowNamesItsField() async throws {
        let ledger = try await makeLedger()
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let big = String(repeating: "x", count: InputLimits.propertyValueBytes + 1)
        let many = (0..<20).map { #""p\#($0)":"\#(String(repeating: "y", count: 60_000))""# }.joined(separator: ",")
        let file = try importFixture("in.jsonl", """
            {"ids":{"email":"a@example.com"},"properties":{"deep":\(deep)}}
            {"ids":{"email":"b@example.com"},"properties":{"bio":"\(big)"}}
            {"ids":{"email":"c@example.com"},"properties":{\(many)}}
            {"ids":{"email":"d@example.com"},"source":["at"]}
            {"ids":{"email":"e@example.com"},"access":"email"}
            {"ids":{"email":"f@example.com"}}
            """)
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rejected == 5 && summary.created == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["invalidInput", "inputTooLarge", "inputTooLarge", "invalidInput", "invalidInput"], "\(found)")
        #expect(found.map(\.column) == ["properties.deep", "properties.bio", nil, "source", "access"], "\(found)")
    }
}
