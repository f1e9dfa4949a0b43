import LMDB

/// Applies one event to every projection. Commands and `rebuild` both go through
/// here and nothing else writes projections, so replaying the log reproduces them
/// byte for byte.
///
/// Every change is written as a new version keyed by the event's position (see
/// ``Databases``), which is what makes as-of queries a single reverse seek.
struct Projector {
    let txn: WriteTransaction
    let db: Databases

    private var reader: ProjectionReader { ProjectionReader(txn: txn, db: db) }

    func apply(_ event: Event) throws {
        if let eventId = event.eventId {
            var w = BinaryWriter()
            w.write(raw: event.payloadDigest ?? [])
            w.write(event.commandSeq)
            try txn.put(db.eventIds, key: Array(eventId.utf8), value: w.bytes)
        }
        try projectImport(event)
        switch event.body {
        case .schemaChanged(let schema):
            var w = BinaryWriter()
            w.write(schema)
            try txn.put(db.schemas, key: Keys.seq(event.seq), value: w.bytes)

        case .identified(let customer, let created, let identifiers, let properties, _):
            var record = created ? try create(customer, event) : try reader.existingCustomer(customer)
            let schema = try reader.schema()
            // Soft values presented with a known value make this customer their current holder;
            // an import row is no one logging in, so it claims nothing.
            let known = event.importId == nil && identifiers.contains { schema.type(named: $0.identifier.type)?.kind != .soft }
            for presented in identifiers {
                let claim = known && schema.type(named: presented.identifier.type)?.kind == .soft
                try hold(presented.identifier, access: presented.access, claim: claim, on: &record, event)
            }
            write(properties, event, to: &record)
            try save(record, event)

        case .updated(let customer, let created, let identifiers, let properties):
            var record = created ? try create(customer, event) : try reader.existingCustomer(customer)
            if created {
                for identifier in identifiers {
                    try hold(identifier, access: false, claim: false, on: &record, event)
                }
            }
            write(properties, event, to: &record)
            try save(record, event)

        case .detached(let customer, let identifier, let accessOnly):
            var record = try reader.existingCustomer(customer)
            var state = try reader.valueState(identifier) ?? ValueState()
            if accessOnly {
                if let index = record.identifiers.firstIndex(where: { $0.identifier == identifier }) {
                    record.identifiers[index].access = false
                }
                state.set(customer, access: false)
            } else {
                record.identifiers.removeAll { $0.identifier == identifier }
                state.remove(customer)
            }
            try save(state, of: identifier, event)
            try save(record, event)

        case .merged(let survivorID, let absorbedID, _, _, _):
            try merge(absorbedID, into: survivorID, event)

        case .mergeDeclined(let customer, let candidate, let guards):
            let key = Keys.decline(customer, candidate, mask: guards.failingMask)
            if try txn.get(db.declines, key: key) == nil {
                try txn.put(db.declines, key: key, value: Keys.seq(event.seq))
            }
            // The decline is part of both customers' history, without changing either.
            for id in [customer, candidate] {
                try txn.put(db.customers, key: Keys.customerVersion(id, event.seq), value: CustomerRecord.touchMarker)
            }

        case .importStarted, .importFinished:
            break
        }
    }

    private func create(_ id: CustomerID, _ event: Event) throws -> CustomerRecord {
        // IDs are dense and in creation order; anything else means the log is inconsistent.
        guard id == CustomerID(try reader.customerCount + 1) else {
            throw LedgerError.corruptEvent(seq: event.seq, reason: "creates customer \(id) out of order")
        }
        return CustomerRecord(id: id, createdSeq: event.seq, createdAt: event.recordedAt)
    }

    private func save(_ record: CustomerRecord, _ event: Event) throws {
        try txn.put(db.customers, key: Keys.customerVersion(record.id, event.seq), value: record.encoded())
    }

    private func save(_ state: ValueState, of identifier: Identifier, _ event: Event) throws {
        try txn.put(db.values, key: Keys.valueVersion(identifier, event.seq), value: state.encoded())
    }

    private func hold(_ identifier: Identifier, access: Bool, claim: Bool, on record: inout CustomerRecord, _ event: Event) throws {
        record.hold(identifier, access: access, since: event.seq)
        var state = try reader.valueState(identifier) ?? ValueState()
        let before = state
        state.set(record.id, access: record.holds(identifier)!.access)
        if claim { state.claimedHolder = record.id }
        if state != before { try save(state, of: identifier, event) }
    }

    private func write(_ properties: [PropertyWrite], _ event: Event, to record: inout CustomerRecord) {
        for property in properties {
            record.write(.init(key: property.key, value: property.value, occurredAt: event.occurredAt, seq: event.seq))
        }
    }

    /// Moves everything of `absorbedID` onto `survivorID` and repoints every value.
    private func merge(_ absorbedID: CustomerID, into survivorID: CustomerID, _ event: Event) throws {
        var absorbed = try reader.existingCustomer(absorbedID)
        var survivor = try reader.existingCustomer(survivorID)
        for held in absorbed.identifiers {
            let identifier = held.identifier
            if survivor.holds(identifier) == nil {
                survivor.identifiers.append(held)
            } else if held.access {
                survivor.hold(identifier, access: true, since: held.since)
            }
            var state = try reader.valueState(identifier) ?? ValueState()
            state.remove(absorbedID)
            state.set(survivorID, access: survivor.holds(identifier)!.access)
            if state.claimedHolder == nil, try reader.claimedHolder(of: identifier) == absorbedID {
                state.claimedHolder = survivorID
            }
            try save(state, of: identifier, event)
        }
        survivor.identifiers.sort { $0.identifier < $1.identifier }
        for property in absorbed.properties { survivor.write(property) }
        survivor.mergedFrom = Array(Set(survivor.mergedFrom + absorbed.mergedFrom + [absorbedID])).sorted()

        // Everything absorbed earlier now resolves to the new survivor.
        for earlier in absorbed.mergedFrom {
            var record = try reader.existingCustomer(earlier)
            record.survivor = survivorID
            try save(record, event)
        }
        absorbed.mergedInto = survivorID
        absorbed.survivor = survivorID
        absorbed.mergedSeq = event.seq
        absorbed.mergedAt = event.recordedAt
        absorbed.identifiers = []
        absorbed.properties = []
        try save(absorbed, event)
        try save(survivor, event)
    }
}
