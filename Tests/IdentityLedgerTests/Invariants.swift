import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// Deterministic generator for pinned-seed property tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The store-wide invariants of behaviour §2–§5, checked against the raw projections.
func checkInvariants(_ ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) throws {
    try ledger.env.read { txn in
        let reader = ProjectionReader(txn: txn, db: ledger.db)
        let schema = try reader.schema()
        var holders: [Identifier: [(CustomerID, Bool)]] = [:]
        try reader.forEachValue { identifier, state in
            holders[identifier] = state.holders.map { ($0.customer, $0.access) }
            return true
        }
        for (identifier, list) in holders {
            let kind = schema.type(named: identifier.type)?.kind
            if kind == .unique {
                #expect(list.count == 1, "unique \(identifier) held by \(list.map(\.0))", sourceLocation: sourceLocation)
            }
            let access = list.filter(\.1).map(\.0)
            #expect(access.count <= 1, "\(identifier) grants access on \(access)", sourceLocation: sourceLocation)
            if let claimed = try reader.claimedHolder(of: identifier) {
                #expect(list.contains { $0.0 == claimed }, "\(identifier) claimed by non-holder \(claimed)", sourceLocation: sourceLocation)
            }
            for (customer, flag) in list {
                let record = try reader.existingCustomer(customer)
                #expect(record.isActive, "\(identifier) points at merged customer \(customer)", sourceLocation: sourceLocation)
                #expect(record.holds(identifier)?.access == flag, "customer \(customer) and index disagree on \(identifier)", sourceLocation: sourceLocation)
            }
        }
        try reader.forEachCustomer { record in
            if record.isActive {
                for held in record.identifiers {
                    #expect(holders[held.identifier]?.contains { $0.0 == record.id } == true, "customer \(record.id) holds \(held.identifier) without an index entry", sourceLocation: sourceLocation)
                }
            } else {
                #expect(record.identifiers.isEmpty, sourceLocation: sourceLocation)
                let survivor = try reader.existingCustomer(record.survivor!)
                #expect(survivor.isActive && survivor.mergedFrom.contains(record.id), "survivor of \(record.id)", sourceLocation: sourceLocation)
            }
        }
        try txn.forEach(ledger.db.log, prefix: []) { entry in
            let event = try Event(seq: Keys.readUInt64(entry.key)!, bytes: entry.value)
            switch event.body {
            case .merged(_, _, _, let guards, _), .mergeDeclined(_, _, let guards):
                // valueLimit is judged only under a schema that limits values.
                let expected = try reader.schema(after: event.seq).limitsValues ? GuardName.allCases : GuardName.evaluatedByDefault
                #expect(guards.map(\.guard) == expected, "event \(event.seq) lacks guard results", sourceLocation: sourceLocation)
            default: break
            }
            return true
        }
    }
}

/// Replays the log into a fresh store and compares every projection byte for byte.
func expectReplayIdentical(_ ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let path = temporaryPath("replay")
    let count = try ledger.replayLog(into: path)
    let replayed = try Ledger.open(path: path)
    #expect(count == UInt64(try ledger.events(limit: .max).count), sourceLocation: sourceLocation)
    #expect(try replayed.projectionDigests() == ledger.projectionDigests(), "replayed projections differ", sourceLocation: sourceLocation)
}
