import LMDB
import Synchronization

/// The last schema decoded, with its encoded bytes (see `ProjectionReader.schema()`).
private let decodedSchema = Mutex<(bytes: [UInt8], schema: Schema)?>(nil)

/// Reads the projections inside one transaction (a snapshot, or the write
/// transaction a command runs in, so it sees the command's own earlier effects).
///
/// With `asOf` set, every read answers as of that log position from the versioned
/// projections: a reverse seek per key, or for a customer's identifiers, properties and
/// absorbed customers a scan of that customer's entries; never a replay of the log.
struct ProjectionReader: LedgerView {
    let txn: ReadTransaction
    let db: Databases
    /// The last log position whose effects are visible.
    var asOf: UInt64 = .max

    /// The schema in force; a store whose log is empty has the default schema. The `schemas`
    /// projection only says where each schema change is; the schema is its log event's.
    func schema() throws -> Schema {
        guard let entry = try lastVersion(in: db.schemas, prefix: [], upTo: asOf) else { return .default }
        guard let bytes = try txn.get(db.log, key: entry.key) else {
            throw BinaryReader.Failure(reason: "the schema change at \(Keys.readUInt64(entry.key) ?? 0) is not in the log")
        }
        // Every command reads the schema at least twice; decoding it was a measurable share
        // of an identify (docs/benchmark-history.md), so the last one decoded is reused for equal bytes.
        if let cached = decodedSchema.withLock({ $0 }), cached.bytes == bytes { return cached.schema }
        guard case .schemaChanged(let schema) = try Event(seq: Keys.readUInt64(entry.key) ?? 0, bytes: bytes).body else {
            throw BinaryReader.Failure(reason: "the event at \(Keys.readUInt64(entry.key) ?? 0) is not a schema change")
        }
        decodedSchema.withLock { $0 = (bytes, schema) }
        return schema
    }

    func schema(after seq: UInt64) throws -> Schema {
        var reader = self
        reader.asOf = Swift.min(asOf, seq)
        return try reader.schema()
    }

    /// The customer as of `asOf`, assembled from its four projections (``Databases``).
    func customer(_ id: CustomerID) throws -> CustomerRecord? {
        guard let header = try customerHeader(id) else { return nil }
        var record = try CustomerRecord(header: header)
        record.identifiers = try heldIdentifiers(of: id)
        // A merged customer's properties moved to its survivor with the merge.
        if record.isActive { record.properties = try properties(of: id) }
        // Key: survivor, absorbed; value: the position from which it counts.
        try txn.forEachInPlace(db.absorbed, prefix: Keys.customer(id)) { key, value in
            if try Keys.trailingUInt64(value) <= asOf { record.mergedFrom.append(try Keys.trailingUInt64(key)) }
            return true
        }
        return record
    }

    /// The encoded header of the customer (its last `customers` version at or before `asOf`).
    func customerHeader(_ id: CustomerID) throws -> [UInt8]? {
        try lastVersion(in: db.customers, prefix: Keys.customer(id), upTo: asOf)?.value
    }

    /// The customer's header only: `identifiers`, `properties` and `mergedFrom` are left
    /// empty. For the projector, which changes those one by one.
    func existingHeader(_ id: CustomerID) throws -> CustomerRecord {
        guard let header = try customerHeader(id) else { throw LedgerError.customerNotFound(reference: String(id)) }
        return try CustomerRecord(header: header)
    }

    /// The write that wins for the customer's property `key` (a tombstone included), or `nil`
    /// if none was ever written: one reverse seek.
    func property(_ id: CustomerID, _ key: String) throws -> CustomerRecord.Property? {
        try lastVersion(in: db.properties, prefix: Keys.propertyName(id, key), upTo: asOf)
            .map { try CustomerRecord.Property(bytes: $0.value) }
    }

    /// The customer's properties, tombstones included, sorted by key: for each key, its last
    /// version at or before `asOf`. Keys are visited from the last, one or two seeks each,
    /// so the read costs the number of keys, not of their versions (a key updated on every
    /// visit has as many).
    func properties(of id: CustomerID) throws -> [CustomerRecord.Property] {
        let prefix = Keys.customer(id)
        var properties: [CustomerRecord.Property] = []
        try txn.withCursor(db.properties) { cursor in
            // Above every key of this customer (the tag byte after the ID is 0 or 1).
            var bound = prefix + [0xFF]
            while let last = try cursor.seek(atMost: bound), last.key.starts(with: prefix) {
                // The key's database name: the entry without its position.
                let name = Array(last.key.dropLast(8))
                var version: Entry? = last
                if try last.key.withUnsafeBytes(Keys.trailingUInt64) > asOf {
                    version = try cursor.seek(atMost: name + Keys.seq(asOf)).flatMap { $0.key.starts(with: name) ? $0 : nil }
                }
                if let version { properties.append(try CustomerRecord.Property(bytes: version.value)) }
                // Names are self-delimiting (tag, then length-prefixed): every entry below `name`
                // belongs to an earlier name.
                bound = name
            }
        }
        // Database keys order names by length first (and hash long ones); records by key.
        properties.sort { $0.key < $1.key }
        return properties
    }

    /// Whether and how the customer holds `identifier` (with where that holding began), or
    /// `nil` if it never did. A scan of the customer's holdings: for the projector's rare
    /// cases (access added to a held value, a detach), which do not know `since`.
    func holding(_ customer: CustomerID, _ identifier: Identifier) throws -> (since: UInt64, holding: Holding)? {
        var name = KeyBuilder(capacity: identifier.type.utf8.count + identifier.value.utf8.count + 8)
        name.appendOrdered(identifier.type.utf8)
        name.append(lengthPrefixed: identifier.value)
        let wanted = name.bytes
        // A value can have several holdings one after another (held, released, held again
        // or brought in by a merge): the one changed last is the current one, and where one
        // is released as another begins, at the same position, the one held.
        var found: (seq: UInt64, since: UInt64, holding: Holding)?
        try forEachHolding(of: customer) { since, key, value in
            let position = try Keys.trailingUInt64(key)
            guard position <= asOf, position >= found?.seq ?? 0,
                  key.count == Keys.holdingTypeOffset + wanted.count + 8,
                  wanted.withUnsafeBytes({ $0.elementsEqual(key[Keys.holdingTypeOffset..<(key.count - 8)]) }) else { return }
            let holding = try Holding(bytes: value)
            if position == found?.seq, found?.holding.held == true, !holding.held { return }
            found = (position, since, holding)
        }
        return found.map { ($0.since, $0.holding) }
    }

    /// The identifiers the customer holds, sorted: of each holding's versions the last one at
    /// or before `asOf`, where it is still held. Holdings of the `excluded` types are
    /// stepped over without being decoded.
    func heldIdentifiers(of id: CustomerID, excluding excluded: [String] = []) throws -> [HeldIdentifier] {
        let excludedTypes = excluded.map { Array($0.utf8) }
        let typeStart = Keys.holdingTypeOffset
        var held: [HeldIdentifier] = []
        // A holding's versions are adjacent; `name` is their key without the position.
        var name: [UInt8] = []
        var latest: Holding?
        func flush() throws {
            defer { latest = nil }
            guard let latest, latest.held else { return }
            guard let (since, identifier) = name.withUnsafeBytes(Keys.holdingIdentifier) else {
                throw BinaryReader.Failure(reason: "unreadable holdings key \(name)")
            }
            held.append(HeldIdentifier(type: identifier.type, value: identifier.value, access: latest.access, since: since))
        }
        try forEachHolding(of: id) { _, key, value in
            // The type ends with a 0 (see `Keys.holdingIdentifier`).
            if excludedTypes.contains(where: { type in
                key.count > typeStart + type.count && key[typeStart + type.count] == 0
                    && key[typeStart..<(typeStart + type.count)].elementsEqual(type)
            }) { return }
            let position = try Keys.trailingUInt64(key)
            let keyName = UnsafeRawBufferPointer(rebasing: key.dropLast(8))
            if !name.withUnsafeBytes({ $0.elementsEqual(keyName) }) {
                try flush()
                name = Array(keyName)
            }
            if position <= asOf { latest = try Holding(bytes: value) }
        }
        try flush()
        // Records list identifiers by type, then value bytes; keys order them by `since` first.
        held.sort { a, b in
            let byType = compareUTF8(a.type, b.type)
            return byType != 0 ? byType < 0 : compareUTF8(a.value, b.value) < 0
        }
        return held
    }

    /// Where each holding of a soft value with a release limit stands: where it began, its
    /// first and its last version (at most two while it is held, see `Projector`).
    struct PresentedHolding {
        var since: UInt64
        var first: UInt64
        var last: UInt64
        /// Whether the last version follows a held one, so that it only marks a presentation.
        var lastRepeatsHeld = false
    }

    /// The values of `types` the customer holds, with their holdings' versions: one scan of
    /// the customer's holdings that decodes only those of `types`. The last version is the last
    /// position at which the customer presented or got the value.
    func presentedHoldings(of id: CustomerID, types: Set<String>) throws -> [Identifier: PresentedHolding] {
        let wanted = types.map { Array($0.utf8) }
        let typeStart = Keys.holdingTypeOffset
        var found: [Identifier: PresentedHolding] = [:]
        var name: [UInt8] = []
        var current: (versions: PresentedHolding, held: Bool)?
        func flush() throws {
            defer { current = nil }
            guard let current, current.held else { return }
            guard let (_, identifier) = name.withUnsafeBytes(Keys.holdingIdentifier) else {
                throw BinaryReader.Failure(reason: "unreadable holdings key \(name)")
            }
            found[identifier] = current.versions
        }
        try forEachHolding(of: id) { since, key, value in
            guard wanted.contains(where: { type in
                key.count > typeStart + type.count && key[typeStart + type.count] == 0
                    && key[typeStart..<(typeStart + type.count)].elementsEqual(type)
            }) else { return }
            let position = try Keys.trailingUInt64(key)
            let keyName = UnsafeRawBufferPointer(rebasing: key.dropLast(8))
            if !name.withUnsafeBytes({ $0.elementsEqual(keyName) }) {
                try flush()
                name = Array(keyName)
            }
            guard position <= asOf else { return }
            let held = try Holding(bytes: value).held
            if let (before, wasHeld) = current {
                var versions = before
                versions.last = position
                versions.lastRepeatsHeld = wasHeld
                current = (versions, held)
            } else {
                current = (PresentedHolding(since: since, first: position, last: position), held)
            }
        }
        try flush()
        return found
    }

    func lastPresented(of id: CustomerID, types: Set<String>) throws -> [Identifier: UInt64] {
        try presentedHoldings(of: id, types: types).mapValues(\.last)
    }

    /// Calls `body` with the `since`, key and value of each `holdings` entry of the customer
    /// whose holding began at or before `asOf`, in key order. Keys are ordered by `since`, so
    /// the holdings a customer got later are not even stepped over.
    private func forEachHolding(
        of id: CustomerID, _ body: (_ since: UInt64, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try txn.forEachInPlace(db.holdings, prefix: Keys.customer(id)) { key, value in
            guard key.count > Keys.holdingTypeOffset else { throw BinaryReader.Failure(reason: "unreadable holdings key \(Array(key))") }
            let since = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            guard since <= asOf else { return false }
            try body(since, key, value)
            return true
        }
    }

    /// Calls `body` with the latest version (as of `asOf`) of every customer, by ID.
    func forEachCustomer(_ body: (CustomerRecord) throws -> Void) throws {
        var id: CustomerID = 1
        let cursor = try txn.cursor(db.customers)
        defer { cursor.close() }
        // Jump from customer to customer: seek past the last version of one to reach the next.
        while let entry = try cursor.seek(atLeast: Keys.customer(id)), let (found, _) = Keys.parseCustomerVersion(entry.key) {
            if let record = try customer(found) { try body(record) }
            id = found + 1
        }
    }

    /// The highest customer ID ever assigned (IDs are dense, so also the count).
    var customerCount: Int {
        get throws {
            try txn.withCursor(db.customers) { cursor in
                guard let last = try cursor.last(), let (id, _) = Keys.parseCustomerVersion(last.key) else { return 0 }
                return Int(id)
            }
        }
    }

    /// Who holds `identifier`, or `nil` if nobody ever did.
    func valueState(_ identifier: Identifier) throws -> ValueState? {
        try lastVersion(in: db.values, prefix: Keys.value(identifier), upTo: asOf).map { try ValueState(bytes: $0.value) }
    }

    func isDeclineRecorded(_ a: CustomerID, _ b: CustomerID, mask: UInt8) throws -> UInt64? {
        try txn.get(db.declines, key: Keys.decline(a, b, mask: mask)).flatMap(Keys.readUInt64)
    }

    /// Calls `body` with the current state of every value of `type` (or of every type)
    /// that has holders, in key order, until it returns `false`.
    func forEachValue(ofType type: String? = nil, _ body: (Identifier, ValueState) throws -> Bool) throws {
        var pending: (Identifier, [UInt8])?
        var keepGoing = true
        func flush() throws {
            guard let (identifier, bytes) = pending else { return }
            pending = nil
            let state = try ValueState(bytes: bytes)
            if !state.holders.isEmpty { keepGoing = try body(identifier, state) }
        }
        try txn.forEach(db.values, prefix: type.map(Keys.type) ?? []) { entry in
            guard let (identifier, seq) = Keys.parseValueVersion(entry.key) else { return true }
            if let (previous, _) = pending, previous != identifier { try flush() }
            if seq <= asOf { pending = (identifier, entry.value) }
            return keepGoing
        }
        if keepGoing { try flush() }
    }

    func command(withEventId eventId: String) throws -> (digest: [UInt8], seq: UInt64)? {
        guard let bytes = try txn.get(db.eventIds, key: Array(eventId.utf8)) else { return nil }
        var r = BinaryReader(bytes)
        return (try r.readRaw(), try r.readUInt64())
    }

    func event(_ seq: UInt64) throws -> Event? {
        guard let bytes = try txn.get(db.log, key: Keys.seq(seq)) else { return nil }
        return try Event(seq: seq, bytes: bytes)
    }

    /// Up to `limit` events from position `from` on.
    func events(from: UInt64, limit: Int) throws -> [Event] {
        var events: [Event] = []
        try txn.forEach(db.log, from: Keys.seq(from), upTo: nil) { entry in
            events.append(try Event(seq: Keys.readUInt64(entry.key) ?? 0, bytes: entry.value))
            return events.count < limit
        }
        return events
    }

    /// Calls `body` with every event of the log, in order, until it returns `false`.
    func forEachEvent(_ body: (Event) throws -> Bool) throws {
        try txn.forEach(db.log, prefix: []) { entry in
            try body(try Event(seq: Keys.readUInt64(entry.key) ?? 0, bytes: entry.value))
        }
    }

    /// The log positions of every event that touched customer `id`, up to `asOf`.
    func eventPositions(of id: CustomerID) throws -> [UInt64] {
        var positions: [UInt64] = []
        try txn.forEach(db.customers, from: Keys.customerVersion(id, 0), upTo: Keys.customerVersion(id, asOf == .max ? .max : asOf + 1)) { entry in
            if let (_, seq) = Keys.parseCustomerVersion(entry.key) { positions.append(seq) }
            return true
        }
        // With asOf == .max the upper bound excludes seq .max itself, which no event has.
        return positions
    }

    /// Counts of events, customers and identifier values (a scan of the log and the projections).
    func statistics(mapSize: Int) throws -> Statistics {
        var stats = Statistics(
            events: 0, customers: 0, activeCustomers: 0, mergedCustomers: 0,
            identifierValues: 0, accessValues: 0, recordedDeclines: try txn.count(db.declines),
            eventsByKind: [:], mapSize: mapSize
        )
        try forEachEvent { event in
            stats.events = event.seq
            stats.eventsByKind[event.kind, default: 0] += 1
            return true
        }
        try forEachCustomer { record in
            stats.customers += 1
            if record.isActive { stats.activeCustomers += 1 } else { stats.mergedCustomers += 1 }
        }
        try forEachValue { _, state in
            stats.identifierValues += 1
            if state.accessOwner != nil { stats.accessValues += 1 }
            return true
        }
        return stats
    }

    /// The position and clock of the last event, or `nil` when the log is empty.
    func lastPosition() throws -> (seq: UInt64, recordedAt: Int64)? {
        guard let entry = try txn.withCursor(db.log, { try $0.last() }), let seq = Keys.readUInt64(entry.key) else { return nil }
        return (seq, try Event.recordedAt(seq: seq, bytes: entry.value))
    }

    /// The `recordedAt` of the event at `seq`, or `nil` when there is none.
    func recordedAt(_ seq: UInt64) throws -> Int64? {
        guard let bytes = try txn.get(db.log, key: Keys.seq(seq)) else { return nil }
        return try Event.recordedAt(seq: seq, bytes: bytes)
    }

    /// The last entry under `prefix` whose trailing log position is ≤ `seq`.
    private func lastVersion(in database: Database, prefix: [UInt8], upTo seq: UInt64) throws -> Entry? {
        guard let entry = try txn.withCursor(database, { try $0.seek(atMost: prefix + Keys.seq(seq)) }),
              entry.key.starts(with: prefix) else { return nil }
        return entry
    }
}

/// Keys of the `meta` database.
enum Meta {
    static let storeFormat = Array("storeFormat".utf8)
}
