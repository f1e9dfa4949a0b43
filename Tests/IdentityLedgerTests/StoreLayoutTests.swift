import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// Store format 2: a customer version costs what the event changed, not the whole
/// aggregate, however many identifiers and absorbed customers the customer has.
@Suite struct StoreLayoutTests {
    static func counts(_ ledger: Ledger) throws -> [Int] {
        try ledger.env.read { txn in
            try [ledger.db.customers, ledger.db.holdings, ledger.db.absorbed].map { try txn.count($0) }
        }
    }

    @Test func aNewIdentifierOnABigCustomerWritesOneHeaderAndOneHolding() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", access: ["email"], properties: ["name": "Ann"])
        for i in 0..<50 { _ = try await ledger.identify("email=ann@example.com", "cookie=c\(i)") }
        let before = try Self.counts(ledger)
        let seq = try await ledger.identify("email=ann@example.com", "cookie=new").seq.last!

        #expect(try Self.counts(ledger) == [before[0] + 1, before[1] + 1, before[2]])
        let header = try ledger.env.read { txn in try txn.get(ledger.db.customers, key: Keys.customerVersion(ann.customer, seq)) }
        // The version holds the header and one property; 52 identifiers would be over 1 KB.
        #expect(try #require(header).count < 64)
        let customer = try ledger.customer(.id(ann.customer))
        #expect(customer.identifiers.count == 52 && customer.properties == ["name": "Ann"])
    }

    @Test func aMergeReleasesTheAbsorbedHoldingsAndRecordsTheAbsorbedOnce() async throws {
        let ledger = try await makeLedger()
        let visitor = try await ledger.identify("cookie=v1")
        let ann = try await ledger.identify("email=ann@example.com", access: ["email"])
        let before = try Self.counts(ledger)
        let login = try await ledger.identify("email=ann@example.com", "cookie=v1")
        #expect(login.merged == [visitor.customer])

        // Headers: both customers at the merge, Ann at the identify. Holdings: the cookie
        // released by the visitor and held by Ann. One absorbed entry.
        #expect(try Self.counts(ledger) == [before[0] + 3, before[1] + 2, before[2] + 1])
        #expect(try ledger.customer(.id(ann.customer)).mergedFrom == [visitor.customer])
        let then = try ledger.customer(.id(visitor.customer), asOf: .seq(login.seq.first! - 1))
        #expect(then.identifiers.map(\.value) == ["v1"] && then.status == .active)
        #expect(try ledger.customer(.id(ann.customer), asOf: .seq(login.seq.first! - 1)).mergedFrom.isEmpty)
    }
}
