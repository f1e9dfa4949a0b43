import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// A customer's version stores what changed, never a copy of all its properties (behaviour §5.1):
/// properties are kept key by key (the `properties` projection), a version only when a key's
/// winning write changes, and as-of reads of them equal a replay of the log up to that point.
@Suite struct PropertyStorageTests {
    /// Bytes of every projection's keys and values.
    static func projectionBytes(_ ledger: Ledger) throws -> Int {
        try ledger.env.read { txn in
            var total = 0
            for database in ledger.db.projections {
                try txn.forEachInPlace(database, prefix: []) { key, value in
                    total += key.count + value.count
                    return true
                }
            }
            return total
        }
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path + "/data.mdb")[.size] as? NSNumber)?.intValue ?? 0
    }

    /// The reported case scaled down (to a value under the 64 KiB property limit): a 60 KB
    /// property, then 60 identifies of that customer without properties. Copying the property
    /// into each version grew the projections by 60 copies (3.6 MB); now each identify adds
    /// a small header version.
    @Test func aLargePropertyIsNotCopiedIntoEveryVersion() async throws {
        let path = temporaryPath()
        let clock = TestClock()
        let ledger = try Ledger.open(path: path, options: .init(durability: .noSync, clock: { clock.tick() }))
        let large = String(repeating: "x", count: 60_000)
        let ann = try await ledger.identify("email=ann@example.com", access: ["email"], properties: ["notes": .string(large), "name": "Ann"])
        let bytesBefore = try Self.projectionBytes(ledger)
        let fileBefore = try Self.fileSize(path)
        for i in 0..<60 {
            try await ledger.identify("email=ann@example.com", "cookie=visit-\(i % 3)")
        }
        let grown = try Self.projectionBytes(ledger) - bytesBefore
        #expect(grown < 30_000, "the projections grew by \(grown) bytes for 60 identifies without properties")
        let fileGrown = try Self.fileSize(path) - fileBefore
        #expect(fileGrown < 1_000_000, "data.mdb grew by \(fileGrown) bytes")
        #expect(try ledger.customer(.id(ann.customer)).properties == ["notes": .string(large), "name": "Ann"])
        #expect(try ledger.customer(.id(ann.customer), asOf: .seq(ann.seq.last!)).properties["notes"] == .string(large))
        #expect(try ledger.verify().isValid)
    }

    /// A write that loses (an older `occurredAt`) adds no version; one that wins adds one.
    @Test func onlyAWinningWriteAddsAVersion() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", properties: ["plan": "gold"])
        func versions() throws -> Int {
            try ledger.env.read { txn in
                var count = 0
                try txn.forEachInPlace(ledger.db.properties, prefix: Keys.customer(ann.customer)) { _, _ in count += 1; return true }
                return count
            }
        }
        #expect(try versions() == 1)
        try await ledger.update("email=ann@example.com", properties: ["plan": "free"], at: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(try versions() == 1)
        #expect(try ledger.customer(.id(ann.customer)).properties["plan"] == "gold")
        try await ledger.update("email=ann@example.com", properties: ["plan": "platinum"])
        #expect(try versions() == 2)
        #expect(try ledger.events(limit: .max).filter { $0.kind == "updated" }.count == 2) // the losing write is logged
    }

    /// Updates, a late-arriving write, tombstones, a manual and an automatic merge and long
    /// keys: every customer as of every position equals a fresh store given only the log up
    /// to that position.
    @Test func propertiesAsOfEveryPositionEqualAReplayOfThePrefix() async throws {
        let ledger = try await makeLedger()
        let past = Date(timeIntervalSince1970: 1_700_000_000)
        let longKey = String(repeating: "k", count: 300)
        let otherLongKey = String(repeating: "k", count: 299) + "z" // the same first 256 bytes
        let ann = try await ledger.identify("email=ann@example.com", access: ["email"], properties: ["name": "Ann", "plan": "free"])
        try await ledger.update("email=ann@example.com", properties: ["plan": "gold"])
        try await ledger.update("email=ann@example.com", properties: ["plan": "silver"], at: past) // arrives late: loses
        try await ledger.update("email=ann@example.com", properties: ["cart": 3, longKey: 1])
        try await ledger.update("email=ann@example.com", properties: ["cart": nil]) // tombstone
        let bob = try await ledger.identify("email=bob@example.com", properties: ["plan": "platinum", "cart": 5, "nick": "B"], at: past)
        try await ledger.update("email=bob@example.com", properties: ["cart": 7, otherLongKey: 2])
        _ = try await ledger.merge(MergeCommand(into: .id(ann.customer), from: .id(bob.customer), actor: "ops", note: "same person"))
        let guest = try await ledger.identify("phone=+447700900555", properties: ["nick": "guest", "points": 10])
        try await ledger.identify("email=ann@example.com", "phone=+447700900555") // merges the guest
        try await ledger.update("email=ann@example.com", properties: ["nick": nil], at: past) // a late tombstone: loses
        try await ledger.update("email=ann@example.com", properties: ["points": nil])

        let now = try ledger.customer(.id(ann.customer))
        #expect(now.mergedFrom == [bob.customer, guest.customer])
        // plan: Ann's gold beats Bob's older platinum; cart: Bob's 7 came after Ann's tombstone;
        // nick: the guest's, written last; points: tombstoned.
        #expect(now.properties == ["name": "Ann", "plan": "gold", "cart": 7, "nick": "guest", longKey: 1, otherLongKey: 2])

        let last = UInt64(try ledger.events(limit: .max).count)
        let customers = [ann.customer, bob.customer, guest.customer]
        for k in 1...last {
            let prefix = try await TimeTravelTests.prefixStore(of: ledger, through: k)
            for id in customers {
                let asOf = Result { () throws(LedgerError) in try ledger.customer(.id(id), asOf: .seq(k)) }
                let fresh = Result { () throws(LedgerError) in try prefix.customer(.id(id)) }
                #expect(asOf == fresh, "customer \(id) as of \(k)")
            }
        }
        #expect(try ledger.verify().isValid)
        try expectReplayIdentical(ledger)
    }

    /// Random streams with late writes, tombstones and merges: each customer as of every
    /// position equals the prefix store.
    @Test(arguments: [21, 22] as [UInt64])
    func randomStreamsAsOfEveryPosition(seed: UInt64) async throws {
        let (ledger, stream) = try await PropertyTests.storeAfterRandomStream(seed: seed, commands: 120)
        let last = UInt64(try ledger.events(limit: .max).count)
        for k in stride(from: 1, through: last, by: 2) {
            let prefix = try await TimeTravelTests.prefixStore(of: ledger, through: k)
            for id in 1...CustomerID(stream.customers + 1) {
                let asOf = Result { () throws(LedgerError) in try ledger.customer(.id(id), asOf: .seq(k)) }
                let fresh = Result { () throws(LedgerError) in try prefix.customer(.id(id)) }
                #expect(asOf.map(\.properties) == fresh.map(\.properties), "customer \(id) as of \(k)")
                #expect(asOf == fresh, "customer \(id) as of \(k)")
            }
        }
        #expect(try ledger.verify().isValid)
    }
}
