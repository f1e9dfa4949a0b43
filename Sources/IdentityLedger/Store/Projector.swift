import LMDB

/// Applies one event to every projection. Commands and `rebuild` both go through
/// here and nothing else writes projections, so replaying the log reproduces them
/// byte for byte.
///
/// Every change is written as a new version keyed by the event's position (see
/// ``Databases``), which is what lets as-of queries seek instead of replaying.
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
        case .schemaChanged:
            // The schema itself is read from the log (store format 5).
            try txn.put(db.schemas, key: Keys.seq(event.seq), value: [])

        case .identified(let customer, let created, let identifiers, let properties, _, let released):
            // Identify and update change only the presented identifiers and properties: the
            // customer's others are not read (see `hold` and `write`).
            let header = try created ? create(customer, event) : reader.existingHeader(customer)
            let schema = try reader.schema()
            // Soft values presented with a known value make this customer their current holder;
            // an import row is no one logging in, so it claims nothing.
            let known = event.importId == nil && identifiers.contains { schema.type(named: $0.identifier.type)?.kind != .soft }
            let marked = try presentedHoldings(identifiers, of: created ? nil : customer, schema: schema)
            for presented in identifiers {
                let claim = known && schema.type(named: presented.identifier.type)?.kind == .soft
                try hold(presented.identifier, access: presented.access, claim: claim, by: customer, event)
                if let versions = marked[presented.identifier] { try markPresented(presented.identifier, versions, of: customer, event) }
            }
            for identifier in released { try detach(identifier, from: customer, accessOnly: false, event) }
            try write(properties, of: customer, event)
            try saveHeader(header, event)

        case .updated(let customer, let created, let identifiers, let properties):
            let header = try created ? create(customer, event) : reader.existingHeader(customer)
            if created {
                for identifier in identifiers {
                    try hold(identifier, access: false, claim: false, by: customer, event)
                }
            }
            try write(properties, of: customer, event)
            try saveHeader(header, event)

        case .detached(let customer, let identifier, let accessOnly):
            let header = try reader.existingHeader(customer)
            try detach(identifier, from: customer, accessOnly: accessOnly, event)
            try saveHeader(header, event)

        case .merged(let survivorID, let absorbedID, _, _, _):
            try merge(absorbedID, into: survivorID, event)

        case .mergeDeclined(let customer, let candidate, let guards):
            let key = Keys.decline(customer, candidate, mask: guards.failingMask)
            if try txn.get(db.declines, key: key) == nil {
                try txn.put(db.declines, key: key, value: Keys.seq(event.seq))
            }
            // The decline is part of both customers' history, without changing either:
            // their headers are copied to this position.
            for id in [customer, candidate] {
                guard let header = try reader.customerHeader(id) else { throw LedgerError.customerNotFound(reference: String(id)) }
                try txn.put(db.customers, key: Keys.customerVersion(id, event.seq), value: header)
            }

        case .importStarted, .importFinished:
            break
        }
    }

    /// Decodes and applies one logged event (rebuild, verify, format upgrades). A decodable
    /// event the projections cannot take (a merge of an unknown customer, say) is as corrupt
    /// as an undecodable one: either is reported at its position.
    func replay(key: [UInt8], bytes: [UInt8]) throws {
        let seq = Keys.readUInt64(key) ?? 0
        do {
            try apply(try Event(seq: seq, bytes: bytes))
        } catch let error as LedgerError where error.code == "corruptEvent" {
            throw error
        } catch let error as LMDBError {
            throw error
        } catch {
            throw LedgerError.corruptEvent(seq: seq, reason: "cannot be applied: \(error)")
        }
    }

    private func create(_ id: CustomerID, _ event: Event) throws -> CustomerRecord {
        // IDs are dense and in creation order; anything else means the log is inconsistent.
        guard id == CustomerID(try reader.customerCount + 1) else {
            throw LedgerError.corruptEvent(seq: event.seq, reason: "creates customer \(id) out of order")
        }
        return CustomerRecord(id: id, createdSeq: event.seq, createdAt: event.recordedAt)
    }

    /// A new version of the customer's header (one per event that touches it).
    private func saveHeader(_ record: CustomerRecord, _ event: Event) throws {
        try txn.put(db.customers, key: Keys.customerVersion(record.id, event.seq), value: record.encodedHeader())
    }

    /// Writes a new version of the whole customer: its header always (one per event that touches
    /// it), identifiers and absorbed customers only where they differ from `before`. Properties
    /// are not compared: a merge writes the ones it changes (`merge`).
    private func save(_ record: CustomerRecord, was before: CustomerRecord, _ event: Event) throws {
        try saveHeader(record, event)
        // Both lists are sorted by identifier: walk them side by side.
        let old = before.identifiers
        var i = old.startIndex
        for held in record.identifiers {
            while i < old.endIndex, old[i].identifier < held.identifier {
                try release(old[i], of: record.id, event)
                i += 1
            }
            if i < old.endIndex, old[i].identifier == held.identifier {
                // A holding's `since` is in its key: a different one is another holding.
                if old[i].since != held.since { try release(old[i], of: record.id, event) }
                if old[i] != held { try put(Holding(held: true, access: held.access), of: held.identifier, record.id, since: held.since, event) }
                i += 1
            } else {
                try put(Holding(held: true, access: held.access), of: held.identifier, record.id, since: held.since, event)
            }
        }
        for gone in old[i...] { try release(gone, of: record.id, event) }
        // Customers are only ever added to `mergedFrom`, which is sorted too: write the new ones.
        guard record.mergedFrom.count != before.mergedFrom.count else { return }
        let known = before.mergedFrom
        var j = known.startIndex
        for absorbed in record.mergedFrom {
            while j < known.endIndex, known[j] < absorbed { j += 1 }
            if j < known.endIndex, known[j] == absorbed { continue }
            try txn.put(db.absorbed, key: Keys.absorbed(record.id, absorbed), value: Keys.seq(event.seq))
        }
    }

    private func put(_ holding: Holding, of identifier: Identifier, _ customer: CustomerID, since: UInt64, _ event: Event) throws {
        try txn.put(db.holdings, key: Keys.holdingVersion(customer, since: since, identifier, event.seq), value: holding.encoded())
    }

    private func release(_ held: HeldIdentifier, of customer: CustomerID, _ event: Event) throws {
        try put(.released, of: held.identifier, customer, since: held.since, event)
    }

    private func save(_ state: ValueState, of identifier: Identifier, _ event: Event) throws {
        try txn.put(db.values, key: Keys.valueVersion(identifier, event.seq), value: state.encoded())
    }

    /// Makes `customer` a holder of `identifier` (with access, if `access`), in its holdings
    /// and in the value's state. The value's state says whether and how the customer holds
    /// it already; the holding itself is read only for its `since` (its key) when access is added.
    private func hold(_ identifier: Identifier, access: Bool, claim: Bool, by customer: CustomerID, _ event: Event) throws {
        var state = try reader.valueState(identifier) ?? ValueState()
        let before = state
        let current = state.holders.first { $0.customer == customer }
        if current == nil {
            try put(Holding(held: true, access: access), of: identifier, customer, since: event.seq, event)
        } else if access, current?.access == false {
            guard let (since, held) = try reader.holding(customer, identifier), held.held else {
                throw LedgerError.corruptEvent(seq: event.seq, reason: "\(identifier) lists customer \(customer) as a holder, its holdings do not")
            }
            try put(Holding(held: true, access: true), of: identifier, customer, since: since, event)
        }
        state.set(customer, access: access || current?.access == true)
        if claim { state.claimedHolder = customer }
        if state != before { try save(state, of: identifier, event) }
    }

    /// Takes `identifier` (or only its access flag) from `customer`: a detach, or a soft value
    /// an identify released.
    private func detach(_ identifier: Identifier, from customer: CustomerID, accessOnly: Bool, _ event: Event) throws {
        var state = try reader.valueState(identifier) ?? ValueState()
        if let (since, holding) = try reader.holding(customer, identifier), holding.held {
            if !accessOnly {
                try put(.released, of: identifier, customer, since: since, event)
            } else if holding.access {
                try put(Holding(held: true, access: false), of: identifier, customer, since: since, event)
            }
        }
        if accessOnly { state.set(customer, access: false) } else { state.remove(customer) }
        try save(state, of: identifier, event)
    }

    /// The holdings, before this event, of the presented values whose type releases its least
    /// recently presented values (behaviour §2.7): one scan of the customer's holdings, and
    /// none when no presented value has such a type or the customer is new.
    private func presentedHoldings(
        _ identifiers: [PresentedIdentifier], of customer: CustomerID?, schema: Schema
    ) throws -> [Identifier: ProjectionReader.PresentedHolding] {
        let types = Set(identifiers.map(\.identifier.type).filter { schema.type(named: $0)?.releaseLimit != nil })
        guard let customer, !types.isEmpty else { return [:] }
        return try reader.presentedHoldings(of: customer, types: types)
    }

    /// Records that the customer presented a value it already held, as the last version of
    /// its holding (what the decider orders releases by). The version a previous presentation
    /// wrote is deleted first: it says "held" as the first version does, so no as-of read
    /// changes, and a holding keeps two versions however often it is presented.
    private func markPresented(_ identifier: Identifier, _ versions: ProjectionReader.PresentedHolding, of customer: CustomerID, _ event: Event) throws {
        if versions.lastRepeatsHeld {
            _ = try txn.delete(db.holdings, key: Keys.holdingVersion(customer, since: versions.since, identifier, versions.last))
        }
        try put(Holding(held: true, access: false), of: identifier, customer, since: versions.since, event)
    }

    /// Records each write that wins for its key (behaviour §3: the later (occurredAt, position)):
    /// one seek per key for the current winner; a write that loses is only in the log.
    private func write(_ properties: [PropertyWrite], of customer: CustomerID, _ event: Event) throws {
        for write in properties {
            let property = CustomerRecord.Property(key: write.key, value: write.value, occurredAt: event.occurredAt, seq: event.seq)
            if let current = try reader.property(customer, write.key), !property.isNewer(than: current) { continue }
            try put(property, of: customer, event)
        }
    }

    private func put(_ property: CustomerRecord.Property, of customer: CustomerID, _ event: Event) throws {
        try txn.put(db.properties, key: Keys.propertyVersion(customer, property.key, event.seq), value: property.encoded())
    }

    /// Moves everything of `absorbedID` onto `survivorID` and repoints every value.
    private func merge(_ absorbedID: CustomerID, into survivorID: CustomerID, _ event: Event) throws {
        let absorbedBefore = try reader.existingCustomer(absorbedID)
        let survivorBefore = try reader.existingCustomer(survivorID)
        var absorbed = absorbedBefore
        var survivor = survivorBefore
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
        // Each of the absorbed customer's properties that wins over the survivor's is a new
        // version of the survivor's; the absorbed customer's own stop counting with its header.
        for property in absorbed.properties where survivor.write(property) { try put(property, of: survivorID, event) }
        survivor.mergedFrom = Array(Set(survivor.mergedFrom + absorbed.mergedFrom + [absorbedID])).sorted()

        // Everything absorbed earlier now resolves to the new survivor (holds nothing, so
        // only its header changes).
        for earlier in absorbed.mergedFrom {
            var header = try reader.existingHeader(earlier)
            header.survivor = survivorID
            try saveHeader(header, event)
        }
        absorbed.mergedInto = survivorID
        absorbed.survivor = survivorID
        absorbed.mergedSeq = event.seq
        absorbed.mergedAt = event.recordedAt
        absorbed.identifiers = []
        absorbed.properties = []
        try save(absorbed, was: absorbedBefore, event)
        try save(survivor, was: survivorBefore, event)
    }
}
