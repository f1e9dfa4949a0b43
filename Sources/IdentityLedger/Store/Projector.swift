import LMDB

/// Applies one event to every projection. Commands and `rebuild` both go through
/// here and nothing else writes projections, so replaying the log reproduces them
/// byte for byte.
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
        switch event.body {
        case .schemaChanged(let schema):
            var w = BinaryWriter()
            w.write(schema)
            try txn.put(db.meta, key: Meta.schema, value: w.bytes)

        case .identified(let customer, let created, let identifiers, let properties, _):
            var record = created ? try create(customer, event) : try reader.existingCustomer(customer)
            let schema = try reader.schema()
            // Soft values presented with a known value make this customer their current holder.
            let known = identifiers.contains { schema.type(named: $0.identifier.type)?.kind != .soft }
            for presented in identifiers {
                try hold(presented.identifier, access: presented.access, on: &record, since: event.seq)
                if known, schema.type(named: presented.identifier.type)?.kind == .soft {
                    try txn.put(db.softHolders, key: Keys.value(presented.identifier), value: Keys.customer(customer))
                }
            }
            write(properties, event, to: &record)
            try save(record)

        case .updated(let customer, let created, let identifiers, let properties):
            var record = created ? try create(customer, event) : try reader.existingCustomer(customer)
            if created {
                for identifier in identifiers {
                    try hold(identifier, access: false, on: &record, since: event.seq)
                }
            }
            write(properties, event, to: &record)
            try save(record)

        case .detached(let customer, let identifier, let accessOnly):
            var record = try reader.existingCustomer(customer)
            let key = Keys.value(identifier)
            if accessOnly {
                if let index = record.identifiers.firstIndex(where: { $0.identifier == identifier }) {
                    record.identifiers[index].access = false
                }
                try txn.put(db.holders, key: Keys.holder(identifier, customer), value: [0])
            } else {
                record.identifiers.removeAll { $0.identifier == identifier }
                try txn.delete(db.holders, key: Keys.holder(identifier, customer))
                if try reader.claimedHolder(of: identifier) == customer { try txn.delete(db.softHolders, key: key) }
            }
            if try reader.accessOwner(of: identifier) == customer { try txn.delete(db.accessOwners, key: key) }
            try save(record)

        case .merged(let survivorID, let absorbedID, _, _, _):
            try merge(absorbedID, into: survivorID, event)

        case .mergeDeclined(let customer, let candidate, let guards):
            let key = Keys.decline(customer, candidate, mask: guards.failingMask)
            if try txn.get(db.declines, key: key) == nil {
                try txn.put(db.declines, key: key, value: Keys.seq(event.seq))
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

    private func save(_ record: CustomerRecord) throws {
        try txn.put(db.customers, key: Keys.customer(record.id), value: record.encoded())
    }

    private func hold(_ identifier: Identifier, access: Bool, on record: inout CustomerRecord, since: UInt64) throws {
        record.hold(identifier, access: access, since: since)
        let flag = record.holds(identifier)!.access
        try txn.put(db.holders, key: Keys.holder(identifier, record.id), value: [flag ? 1 : 0])
        if flag {
            try txn.put(db.accessOwners, key: Keys.value(identifier), value: Keys.customer(record.id))
        }
    }

    private func write(_ properties: [PropertyWrite], _ event: Event, to record: inout CustomerRecord) {
        for property in properties {
            record.write(.init(key: property.key, value: property.value, occurredAt: event.occurredAt, seq: event.seq))
        }
    }

    /// Moves everything of `absorbedID` onto `survivorID` and repoints every index entry.
    private func merge(_ absorbedID: CustomerID, into survivorID: CustomerID, _ event: Event) throws {
        var absorbed = try reader.existingCustomer(absorbedID)
        var survivor = try reader.existingCustomer(survivorID)
        for held in absorbed.identifiers {
            let identifier = held.identifier
            let key = Keys.value(identifier)
            try txn.delete(db.holders, key: Keys.holder(identifier, absorbedID))
            if survivor.holds(identifier) == nil {
                survivor.identifiers.append(held)
            }
            if held.access {
                survivor.hold(identifier, access: true, since: held.since)
            }
            try txn.put(db.holders, key: Keys.holder(identifier, survivorID), value: [survivor.holds(identifier)!.access ? 1 : 0])
            if try reader.accessOwner(of: identifier) == absorbedID {
                try txn.put(db.accessOwners, key: key, value: Keys.customer(survivorID))
            }
            if try reader.claimedHolder(of: identifier) == absorbedID {
                try txn.put(db.softHolders, key: key, value: Keys.customer(survivorID))
            }
        }
        survivor.identifiers.sort { $0.identifier < $1.identifier }
        for property in absorbed.properties { survivor.write(property) }
        survivor.mergedFrom = Array(Set(survivor.mergedFrom + absorbed.mergedFrom + [absorbedID])).sorted()

        // Everything absorbed earlier now resolves to the new survivor.
        for earlier in absorbed.mergedFrom {
            var record = try reader.existingCustomer(earlier)
            record.survivor = survivorID
            try save(record)
        }
        absorbed.mergedInto = survivorID
        absorbed.survivor = survivorID
        absorbed.mergedSeq = event.seq
        absorbed.mergedAt = event.recordedAt
        absorbed.identifiers = []
        absorbed.properties = []
        try save(absorbed)
        try save(survivor)
    }
}
