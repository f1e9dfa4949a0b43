import Foundation
import Testing
@testable import IdentityLedger

/// Regressions for problems an independent review of the engine found.
struct ReviewRegressionTests {
    @Test func unstorablePropertiesAreRefusedAndWriteNothing() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=deep@example.com")
        var deep: JSONValue = 1
        for _ in 0..<600 { deep = .array([deep]) }
        let error = try await expectRefused(ledger, code: "invalidInput") {
            try await ledger.identify("email=deep@example.com", properties: ["k": deep])
        }
        #expect(error?.description.contains("nested deeper") == true)
        try await expectRefused(ledger, code: "invalidInput") {
            try await ledger.update("email=deep@example.com", properties: ["n": .double(.nan)])
        }
        // The store still works.
        #expect(try await ledger.identify("email=deep@example.com").customer == 1)
    }

    @Test func eventIdsMustFitAKey() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=e@example.com")
        try await expectRefused(ledger, code: "invalidInput") { try await ledger.identify("email=e@example.com", eventId: "") }
        try await expectRefused(ledger, code: "invalidInput") {
            try await ledger.identify("email=e@example.com", eventId: String(repeating: "x", count: 600))
        }
    }

    @Test func numericAndArrayIdentifiersInPropertiesAreFlagged() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("external_id=12345")
        let result = try await ledger.update("external_id=12345", properties: ["technical_id": 777, "email": ["a@b.com"], "plan": 3])
        #expect(result.warnings.count == 2)
        #expect(try ledger.auditQuality().identifierInProperties.map(\.key).sorted() == ["email", "technical_id"])
    }

    @Test func softIdOnlyNamesTheSharedValue() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=a@x.com", "cookie=c1", access: ["email"])
        let second = try await ledger.identify("email=b@x.com", "cookie=c1")
        let soft = try #require(second.declined.first?.guards.first { $0.guard == .softIdOnly })
        #expect(!soft.passed)
        #expect(soft.evidence.map(\.identifier) == ids("cookie=c1"))
    }

    @Test func changingTheCallingCodeOfAPhoneTypeInUseIsAConflict() async throws {
        var schema = Schema.default
        schema.types[3].defaultCallingCode = "44"
        let ledger = try await makeLedger(schema: schema)
        _ = try await ledger.identify("phone=020 7946 0958")
        var changed = schema
        changed.types[3].defaultCallingCode = "33"
        try await expectRefused(ledger, code: "schemaConflict") { try await ledger.setSchema(changed) }
    }
}
