@testable import IdentityLedger

/// A ``LedgerView`` kept in plain dictionaries, for deciding commands without LMDB. It holds
/// only the current state (no versions, so no as-of reads) and changes only through
/// ``apply(_:)``, which updates it the way the store's projector does for each event.
///
/// A test double for deciders, not a second store: where it and the LMDB store disagree,
/// the differential test in `DeciderTests` says so.
final class InMemoryView: LedgerView {
    private(set) var log: [Event] = []
    /// Each `schemaChanged`, by position.
    private(set) var schemas: [(seq: UInt64, schema: Schema)] = []
    private(set) var values: [Identifier: ValueState] = [:]
    /// By ID - 1 (IDs are dense).
    private(set) var customers: [CustomerRecord] = []
    private(set) var declines: [DeclineKey: UInt64] = [:]
    private(set) var eventIds: [String: (digest: [UInt8], seq: UInt64)] = [:]
    private(set) var imports: [String: ImportState] = [:]
    /// For each customer, the last position at which it presented or got each value it holds
    /// (a re-presentation counts only for a type with a release limit, as in the store).
    private(set) var presented: [CustomerID: [Identifier: UInt64]] = [:]

    /// A recorded decline: the pair in ID order and the failing guards.
    struct DeclineKey: Hashable {
        var low: CustomerID
        var high: CustomerID
        var mask: UInt8

        init(_ a: CustomerID, _ b: CustomerID, mask: UInt8) {
            (low, high, self.mask) = (min(a, b), max(a, b), mask)
        }
    }

    /// A projection this view cannot apply an event to (a test bug or a decider bug).
    struct Inconsistent: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: LedgerView

    func schema() throws -> Schema { schemas.last?.schema ?? .default }

    func schema(after seq: UInt64) throws -> Schema {
        schemas.last { $0.seq <= seq }?.schema ?? .default
    }

    func valueState(_ identifier: Identifier) throws -> ValueState? { values[identifier] }

    func customer(_ id: CustomerID) throws -> CustomerRecord? {
        id >= 1 && id <= CustomerID(customers.count) ? customers[Int(id) - 1] : nil
    }

    func heldIdentifiers(of id: CustomerID, excluding excluded: [String]) throws -> [HeldIdentifier] {
        try customer(id)?.identifiers.filter { !excluded.contains($0.type) } ?? []
    }

    func lastPresented(of id: CustomerID, types: Set<String>) throws -> [Identifier: UInt64] {
        (presented[id] ?? [:]).filter { types.contains($0.key.type) }
    }

    var customerCount: Int { customers.count }

    func isDeclineRecorded(_ a: CustomerID, _ b: CustomerID, mask: UInt8) throws -> UInt64? {
        declines[DeclineKey(a, b, mask: mask)]
    }

    func event(_ seq: UInt64) throws -> Event? {
        seq >= 1 && seq <= UInt64(log.count) ? log[Int(seq) - 1] : nil
    }

    func lastPosition() throws -> (seq: UInt64, recordedAt: Int64)? {
        log.last.map { ($0.seq, $0.recordedAt) }
    }

    func command(withEventId eventId: String) throws -> (digest: [UInt8], seq: UInt64)? { eventIds[eventId] }

    /// In the store's key order (``Keys/value(_:)``), which schema conflicts take their examples from.
    func forEachValue(ofType type: String?, _ body: (Identifier, ValueState) throws -> Bool) throws {
        let held = values.filter { (type == nil || $0.key.type == type) && !$0.value.holders.isEmpty }
        for (identifier, state) in held.sorted(by: { Keys.value($0.key).lexicographicallyPrecedes(Keys.value($1.key)) }) {
            guard try body(identifier, state) else { return }
        }
    }

    func importState(_ importId: String) throws -> ImportState? { imports[importId] }

    // MARK: Applying decisions

    /// Appends the decision's events and applies each (each sees the ones before), as a
    /// store's commit does; returns the outcome.
    @discardableResult
    func apply<Outcome>(_ decision: Decision<Outcome>) throws -> Outcome {
        for event in decision.events { try apply(event) }
        return decision.outcome
    }

    private func apply(_ event: Event) throws {
        guard event.seq == UInt64(log.count) + 1 else { throw Inconsistent(description: "event \(event.seq) after \(log.count) events") }
        log.append(event)
        if let eventId = event.eventId { eventIds[eventId] = (event.payloadDigest ?? [], event.commandSeq) }
        projectImport(event)
        switch event.body {
        case .schemaChanged(let schema):
            schemas.append((event.seq, schema))

        case .identified(let id, let created, let identifiers, let properties, _, let released):
            if created { try create(id, event) }
            let schema = try schema()
            // Soft values presented with a known value are claimed; import rows claim nothing.
            let known = event.importId == nil && identifiers.contains { schema.type(named: $0.identifier.type)?.kind != .soft }
            for value in identifiers {
                let claim = known && schema.type(named: value.identifier.type)?.kind == .soft
                let held = customers[Int(id) - 1].holds(value.identifier) != nil
                if !held || schema.type(named: value.identifier.type)?.releaseLimit != nil { presented[id, default: [:]][value.identifier] = event.seq }
                try hold(value.identifier, access: value.access, claim: claim, by: id, event)
            }
            for identifier in released { try detach(identifier, from: id, accessOnly: false) }
            try write(properties, of: id, event)

        case .updated(let id, let created, let identifiers, let properties):
            if created {
                try create(id, event)
                for identifier in identifiers {
                    presented[id, default: [:]][identifier] = event.seq
                    try hold(identifier, access: false, claim: false, by: id, event)
                }
            }
            try write(properties, of: id, event)

        case .detached(let id, let identifier, let accessOnly):
            try detach(identifier, from: id, accessOnly: accessOnly)

        case .merged(let survivorID, let absorbedID, _, _, _):
            try merge(absorbedID, into: survivorID, event)

        case .mergeDeclined(let id, let candidate, let guards):
            _ = try existing(id)
            _ = try existing(candidate)
            let key = DeclineKey(id, candidate, mask: guards.failingMask)
            if declines[key] == nil { declines[key] = event.seq }

        case .importStarted, .importFinished:
            break
        }
    }

    private func existing(_ id: CustomerID) throws -> CustomerRecord {
        guard let record = try customer(id) else { throw Inconsistent(description: "customer \(id) does not exist") }
        return record
    }

    private func create(_ id: CustomerID, _ event: Event) throws {
        guard id == CustomerID(customers.count + 1) else { throw Inconsistent(description: "event \(event.seq) creates customer \(id) out of order") }
        customers.append(CustomerRecord(id: id, createdSeq: event.seq, createdAt: event.recordedAt))
    }

    /// The customer holds the value (a new holding from this event if it did not), with
    /// access if asked; a claim makes it the value's current holder.
    private func hold(_ identifier: Identifier, access: Bool, claim: Bool, by id: CustomerID, _ event: Event) throws {
        customers[Int(id) - 1].hold(identifier, access: access, since: event.seq)
        var state = values[identifier] ?? ValueState()
        let current = state.holders.first { $0.customer == id }
        state.set(id, access: access || current?.access == true)
        if claim { state.claimedHolder = id }
        values[identifier] = state
    }

    /// Takes the value (or its access flag) from the customer: a detach, or a released soft value.
    private func detach(_ identifier: Identifier, from id: CustomerID, accessOnly: Bool) throws {
        var record = try existing(id)
        if let index = record.identifiers.firstIndex(where: { $0.identifier == identifier }) {
            if accessOnly { record.identifiers[index].access = false } else { record.identifiers.remove(at: index) }
        }
        if !accessOnly { presented[id]?[identifier] = nil }
        var state = values[identifier] ?? ValueState()
        if accessOnly { state.set(id, access: false) } else { state.remove(id) }
        values[identifier] = state
        customers[Int(id) - 1] = record
    }

    /// Later (occurredAt, position) wins for each key, tombstones included.
    private func write(_ properties: [PropertyWrite], of id: CustomerID, _ event: Event) throws {
        for write in properties {
            customers[Int(id) - 1].write(.init(key: write.key, value: write.value, occurredAt: event.occurredAt, seq: event.seq))
        }
    }

    /// Moves the absorbed customer's holdings and properties onto the survivor, repoints
    /// its values, and points everything it absorbed earlier at the survivor.
    private func merge(_ absorbedID: CustomerID, into survivorID: CustomerID, _ event: Event) throws {
        var absorbed = try existing(absorbedID)
        var survivor = try existing(survivorID)
        for held in absorbed.identifiers {
            if survivor.holds(held.identifier) == nil { presented[survivorID, default: [:]][held.identifier] = event.seq }
            survivor.hold(held.identifier, access: held.access, since: held.since)
            var state = values[held.identifier] ?? ValueState()
            let claimed = state.claimedHolder
            state.remove(absorbedID)
            state.set(survivorID, access: survivor.holds(held.identifier)!.access)
            if state.claimedHolder == nil, claimed == absorbedID { state.claimedHolder = survivorID }
            values[held.identifier] = state
        }
        for property in absorbed.properties { survivor.write(property) }
        survivor.mergedFrom = Array(Set(survivor.mergedFrom + absorbed.mergedFrom + [absorbedID])).sorted()
        for earlier in absorbed.mergedFrom { customers[Int(earlier) - 1].survivor = survivorID }
        absorbed.mergedInto = survivorID
        absorbed.survivor = survivorID
        absorbed.mergedSeq = event.seq
        absorbed.mergedAt = event.recordedAt
        absorbed.identifiers = []
        absorbed.properties = []
        presented[absorbedID] = nil
        customers[Int(absorbedID) - 1] = absorbed
        customers[Int(survivorID) - 1] = survivor
    }

    /// The `imports` state: opened by `importStarted`, advanced by each row-tagged event,
    /// closed by `importFinished` (as the store's `projectImport`).
    private func projectImport(_ event: Event) {
        switch event.body {
        case .importStarted(let start):
            imports[start.importId] = ImportState(start: start, startedAt: event.recordedAt, startSeq: event.seq)
        case .importFinished(let importId, let counts):
            imports[importId]?.finished = counts
        default:
            guard let importId = event.importId, let row = event.row, var state = imports[importId], row > state.lastRow else { return }
            state.lastRow = row
            if case .identified(_, true, _, _, _, _) = event.body { state.created += 1 } else { state.updated += 1 }
            imports[importId] = state
        }
    }
}
