import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// Store formats 2 and 3: a customer version costs what the event changed, not the whole
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

    /// A 256-byte value of zero bytes fits a `holdings` key (an escaping key encoding would
    /// double it past LMDB's 511-byte limit), and values of one type come back in byte order.
    /// Commands refuse NUL in a value now (an invisible character), so the events are appended
    /// as a log written before that would hold them: the projections must still take them.
    @Test func theLongestValuesFitAndComeBackInByteOrder() async throws {
        let ledger = try await makeLedger()
        let zeros = "x" + String(repeating: "\u{0}", count: 254) + "y"
        func identify(_ values: String...) async throws {
            let identifiers = values.map { PresentedIdentifier(identifier: Identifier(parsing: $0)!, access: false) }.sorted { $0.identifier < $1.identifier }
            try await ledger.store.write(size: 1) { transaction in
                let created = try transaction.view.customerCount == 0
                var log = try PendingLog(after: transaction.view, now: 1_793_000_000_000)
                log.append(.identified(customer: 1, created: created, identifiers: identifiers, properties: [], declined: []))
                try transaction.commit(log.decision(()))
            }
        }
        try await identify("email=ann@example.com", "cookie=\(zeros)", "cookie=b", "cookie=ab")
        #expect(try ledger.customer(.id(1)).identifiers.map(\.value) == ["ab", "b", zeros, "ann@example.com"])
        // More types and values, over several commands: still one order, type then bytes.
        try await identify("email=ann@example.com", "cookie=ba", "cookie=a", "phone=+447700900123")
        try await identify("email=ann@example.com", "cookie=aaa", "cookie=\u{0}", "external_id=Z9")
        let identifiers = try ledger.customer(.id(1)).identifiers.map(\.identifier)
        #expect(identifiers.map(\.description) == [
            "cookie=\u{0}", "cookie=a", "cookie=aaa", "cookie=ab", "cookie=b", "cookie=ba", "cookie=\(zeros)",
            "email=ann@example.com", "external_id=Z9", "phone=+447700900123",
        ])
        #expect(try ledger.verify().isValid)
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

    /// Who holds what, read through the customers' holdings and through the values' states,
    /// at every position of the log: the projector keeps the two in step (`hold` relies on it).
    static func mismatches(_ ledger: Ledger) throws -> [String] {
        let last = UInt64(try ledger.events(limit: .max).count)
        let customers = CustomerID(try ledger.statistics().customers)
        return try ledger.env.read { txn in
            var problems: [String] = []
            for k in 0...last {
                var reader = ProjectionReader(txn: txn, db: ledger.db)
                reader.asOf = k
                var fromHoldings = Set<String>(), fromValues = Set<String>()
                for id in CustomerID(1)..<(customers + 1) {
                    for held in try reader.customer(id)?.identifiers ?? [] { fromHoldings.insert("\(held.identifier) \(id) \(held.access)") }
                }
                try reader.forEachValue { identifier, state in
                    for holder in state.holders { fromValues.insert("\(identifier) \(holder.customer) \(holder.access)") }
                    return true
                }
                if fromHoldings != fromValues {
                    problems.append("at \(k): only in holdings \(fromHoldings.subtracting(fromValues)), only in values \(fromValues.subtracting(fromHoldings))")
                }
            }
            return problems
        }
    }

    @Test func holdingsAndValuesAgreeThroughAccessChangesDetachesAndMergeChains() async throws {
        let ledger = try await makeLedger()
        let phone = Identifier(type: "phone", value: "+447700900001")
        let s = try await ledger.identify("external_id=S", "phone=+447700900001")
        let a = try await ledger.identify("external_id=A", "email=a@example.com")
        _ = try await ledger.merge(MergeCommand(into: .id(s.customer), from: .id(a.customer), actor: "ops"))
        _ = try await ledger.identify("external_id=S", "phone=+447700900001", access: ["phone"])  // access gained later
        let gained = try ledger.customer(.id(s.customer)).identifiers.first { $0.identifier == phone }
        #expect(gained?.access == true && gained?.since == s.seq.last!)
        _ = try await ledger.detach(DetachCommand(customer: .id(s.customer), identifier: phone, actor: "ops", accessOnly: true))
        _ = try await ledger.detach(DetachCommand(customer: .id(s.customer), identifier: phone, actor: "ops"))
        let back = try await ledger.identify("external_id=S", "phone=+447700900001")  // held again after a detach
        #expect(try ledger.customer(.id(s.customer)).identifiers.first { $0.identifier == phone }?.since == back.seq.last!)
        // A customer that absorbed another is absorbed in turn.
        let t = try await ledger.identify("external_id=T", "cookie=t1")
        let u = try await ledger.identify("cookie=u1")
        _ = try await ledger.merge(MergeCommand(into: .id(t.customer), from: .id(u.customer), actor: "ops"))
        _ = try await ledger.merge(MergeCommand(into: .id(s.customer), from: .id(t.customer), actor: "ops"))
        #expect(try ledger.customer(.id(s.customer)).mergedFrom == [a.customer, t.customer, u.customer])
        #expect(try ledger.customer(.id(u.customer)).id == s.customer)  // resolves through the chain
        #expect(try Self.mismatches(ledger) == [])
        #expect(try ledger.verify().isValid)
    }

    @Test(arguments: [UInt64(11), 12])
    func holdingsAndValuesAgreeOnRandomStreams(seed: UInt64) async throws {
        let (ledger, _) = try await PropertyTests.storeAfterRandomStream(seed: seed, commands: 300)
        #expect(try Self.mismatches(ledger) == [])
    }
}
