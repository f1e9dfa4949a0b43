import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// As-of queries (behaviour §6): answers as of position k equal those of a store that
/// received only the first k events, and cost a number of cursor steps independent of N.
struct TimeTravelTests {
    /// A new store holding exactly the first `k` events of `ledger`'s log, projected afresh.
    static func prefixStore(of ledger: Ledger, through k: UInt64) async throws -> Ledger {
        let copy = try Ledger.open(path: temporaryPath("prefix"), options: .init(durability: .noSync))
        let entries = try ledger.env.read { txn in
            var entries: [Entry] = []
            try txn.forEach(ledger.db.log, from: nil, upTo: Keys.seq(k + 1)) { entries.append($0); return true }
            return entries
        }
        try await copy.env.write { [entries] txn in
            for entry in entries {
                try txn.put(copy.db.log, key: entry.key, value: entry.value, flags: .append)
                try Projector(txn: txn, db: copy.db).apply(try Event(seq: Keys.readUInt64(entry.key)!, bytes: entry.value))
            }
        }
        return copy
    }

    /// Every identifier value any event ever presented.
    static func allValues(_ ledger: Ledger) throws -> Set<Identifier> {
        var values = Set<Identifier>()
        for event in try ledger.events(limit: .max) {
            switch event.body {
            case .identified(_, _, let presented, _, _, _): values.formUnion(presented.map(\.identifier))
            case .updated(_, _, let identifiers, _): values.formUnion(identifiers)
            case .detached(_, let identifier, _): values.insert(identifier)
            default: break
            }
        }
        return values
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func asOfAnswersEqualAFreshStoreWithThePrefix(seed: UInt64) async throws {
        let (ledger, stream) = try await PropertyTests.storeAfterRandomStream(seed: seed, commands: 500)
        let last = UInt64(try ledger.events(limit: .max).count)
        let values = try Self.allValues(ledger)
        var rng = SeededGenerator(seed: seed &* 31)
        let positions = [0, 1, last] + (0..<4).map { _ in UInt64.random(in: 2..<last, using: &rng) }
        for k in positions {
            let prefix = try await Self.prefixStore(of: ledger, through: k)
            for id in 1...CustomerID(stream.customers + 1) {
                let past = Result { () throws(LedgerError) in try ledger.customer(.id(id), asOf: .seq(k)) }
                let fresh = Result { () throws(LedgerError) in try prefix.customer(.id(id)) }
                #expect(past == fresh, "customer \(id) as of \(k)")
            }
            for value in values {
                let past = try ledger.lookup(value, asOf: .seq(k)).map { "\($0.customer):\($0.access)" }
                let fresh = try prefix.lookup(value).map { "\($0.customer):\($0.access)" }
                #expect(past == fresh, "\(value) as of \(k)")
            }
            #expect(try ledger.snapshot(asOf: .seq(k)) { try $0.schema() } == prefix.schema())
        }
    }

    @Test func asOfTimeMeansAfterTheLastEventRecordedByThen() async throws {
        let ledger = try await makeLedger()
        let first = try await ledger.identify("email=t1@example.com", properties: ["plan": "free"])
        try await ledger.update("email=t1@example.com", properties: ["plan": "gold"])
        let events = try ledger.events(limit: .max)
        let firstTime = events[Int(first.seq[0]) - 1].recordedDate
        #expect(try ledger.customer(.id(first.customer), asOf: .time(firstTime)).properties["plan"] == "free")
        #expect(try ledger.customer(.id(first.customer), asOf: .time(firstTime.addingTimeInterval(0.5))).properties["plan"] == "free")
        #expect(try ledger.customer(.id(first.customer), asOf: .time(events.last!.recordedDate)).properties["plan"] == "gold")
        let before = await ledgerError { _ = try ledger.customer(.id(first.customer), asOf: .time(firstTime.addingTimeInterval(-60))) }
        #expect(before?.code == "customerNotFound")
        #expect(AsOf(parsing: "42") == .seq(42))
        #expect(AsOf(parsing: "2026-11-01T10:00:00Z") == .time(Date(timeIntervalSince1970: 1_793_527_200)))
        #expect(AsOf(parsing: "last tuesday") == nil)
        // Only digits are a position: UInt64("+5") would read 5.
        #expect(AsOf(parsing: "+5") == nil && AsOf(parsing: "5 ") == nil)
    }

    @Test func historyIncludesAbsorbedCustomersAndManualMerges() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("cookie=h1")
        let account = try await ledger.identify("email=h@example.com", access: ["email"])
        let login = try await ledger.identify("email=h@example.com", "cookie=h1") // merges the visitor
        let other = try await ledger.identify("external_id=H-2")
        _ = try await ledger.merge(MergeCommand(into: .id(account.customer), from: .id(other.customer), actor: "ops@shop", note: "same person, confirmed"))

        let history = try ledger.history(.id(account.customer))
        let kinds = history.map(\.kind)
        #expect(kinds == ["identified", "identified", "merged", "identified", "identified", "merged"])
        #expect(history.map(\.seq) == history.map(\.seq).sorted())
        let manual = try #require(history.last)
        #expect(manual.actor == "ops@shop" && manual.note == "same person, confirmed")
        if case .merged(_, _, _, let guards, _) = history[2].body { #expect(guards.count == 3) }
        // As of the login, the manual merge had not happened.
        let then = try ledger.history(.id(account.customer), asOf: .seq(login.seq.last!))
        #expect(then.map(\.kind) == ["identified", "identified", "merged", "identified"])
    }

    /// An as-of read costs the same number of cursor steps on a tiny store and on one with
    /// a million events: one reverse seek per key, never a scan or a replay. A customer is
    /// four reads: its header (seek and step back), its holdings (seek, one step per version
    /// of those begun by then, one past them), its properties (per key a reverse seek from
    /// above, a second one when the key changed after the point asked, and one below the
    /// first key) and the customers it absorbed (one seek, none here). In both stores
    /// customer 1's property changed after position 3 (2,000 events: every customer is
    /// updated once), so both take the second seek.
    @Test func asOfCostDoesNotGrowWithTheLog() async throws {
        func cursorSteps(_ ledger: Ledger, _ query: (ProjectionReader) throws -> Void) throws -> Int {
            try ledger.env.read { txn in
                var reader = ProjectionReader(txn: txn, db: ledger.db)
                reader.asOf = 3
                try query(reader)
                return txn.cursorOperations
            }
        }
        let small = try await Self.syntheticStore(events: 2_000)
        let large = try await Self.syntheticStore(events: 1_000_000)
        let probe = Identifier(type: "email", value: "c1@example.com")
        for ledger in [small, large] {
            #expect(try ledger.customer(.id(1), asOf: .seq(3)).properties["n"] == .int(1))
        }
        let customerSmall = try cursorSteps(small) { _ = try $0.existingCustomer(1) }
        let customerLarge = try cursorSteps(large) { _ = try $0.existingCustomer(1) }
        let lookupSmall = try cursorSteps(small) { _ = try $0.holders(of: probe) }
        let lookupLarge = try cursorSteps(large) { _ = try $0.holders(of: probe) }
        #expect(customerSmall == customerLarge && customerLarge <= 11, "\(customerSmall) \(customerLarge)")
        #expect(lookupSmall == lookupLarge && lookupLarge <= 2)
    }

    /// Holdings are keyed by where they began (store format 3): a customer read as of k steps
    /// over none of the identifiers the customer got after k, however many there are.
    @Test func anAsOfReadOfACustomerSkipsTheIdentifiersItGotLater() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c0", access: ["email"])
        let early = ann.seq.last!
        func read() throws -> (values: [String], steps: Int) {
            try ledger.env.read { txn in
                var reader = ProjectionReader(txn: txn, db: ledger.db)
                reader.asOf = early
                return (try reader.existingCustomer(ann.customer).identifiers.map(\.value), txn.cursorOperations)
            }
        }
        let before = try read()
        #expect(before.values == ["c0", "ann@example.com"])
        for i in 1...50 { _ = try await ledger.identify("email=ann@example.com", "cookie=c\(i)") }
        let after = try read()
        #expect(after.values == before.values && after.steps == before.steps)
        #expect(try ledger.customer(.id(ann.customer)).identifiers.count == 52)
    }

    /// `events` log entries for 1,000 customers (an identify each, then updates in turn),
    /// written in large transactions straight through the projector.
    static func syntheticStore(events: Int) async throws -> Ledger {
        let ledger = try Ledger.open(path: temporaryPath("synthetic"), options: .init(durability: .noSync))
        let customers = min(1_000, events)
        var seq: UInt64 = 0
        while seq < UInt64(events) {
            let start = seq
            try await ledger.env.write { [start] txn in
                var seq = start
                let end = min(start + 50_000, UInt64(events))
                while seq < end {
                    seq += 1
                    let customer = (seq - 1) % UInt64(customers) + 1
                    let body: EventBody = seq <= UInt64(customers)
                        ? .identified(customer: customer, created: true, identifiers: [PresentedIdentifier(identifier: Identifier(type: "email", value: "c\(customer)@example.com"), access: false)], properties: [PropertyWrite(key: "n", value: .int(Int64(seq)))], declined: [])
                        : .updated(customer: customer, created: false, identifiers: [], properties: [PropertyWrite(key: "n", value: .int(Int64(seq)))])
                    let event = Event(seq: seq, commandSeq: seq, recordedAt: 1_000 + Int64(seq), occurredAt: 1_000 + Int64(seq), body: body)
                    try txn.put(ledger.db.log, key: Keys.seq(seq), value: event.encoded(), flags: .append)
                    try Projector(txn: txn, db: ledger.db).apply(event)
                }
            }
            seq = min(start + 50_000, UInt64(events))
        }
        return ledger
    }
}
