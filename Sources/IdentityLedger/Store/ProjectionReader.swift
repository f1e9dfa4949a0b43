import LMDB

/// Reads the projections inside one transaction (a snapshot, or the write
/// transaction a command runs in, so it sees the command's own earlier effects).
struct ProjectionReader {
    let txn: ReadTransaction
    let db: Databases

    /// The schema in force; a store whose log is empty has the default schema.
    func schema() throws -> Schema {
        guard let bytes = try txn.get(db.meta, key: Meta.schema) else { return .default }
        var reader = BinaryReader(bytes)
        return try reader.readSchema()
    }

    func customer(_ id: CustomerID) throws -> CustomerRecord? {
        guard let bytes = try txn.get(db.customers, key: Keys.customer(id)) else { return nil }
        return try CustomerRecord(bytes: bytes)
    }

    /// The customer with this ID, or a typed error.
    func existingCustomer(_ id: CustomerID) throws -> CustomerRecord {
        guard let record = try customer(id) else { throw LedgerError.customerNotFound(reference: String(id)) }
        return record
    }

    /// The active customer `id` resolves to (itself, or the survivor that absorbed it).
    func activeCustomer(_ id: CustomerID) throws -> CustomerRecord {
        let record = try existingCustomer(id)
        guard let survivor = record.survivor else { return record }
        return try existingCustomer(survivor)
    }

    var customerCount: Int {
        get throws { try txn.count(db.customers) }
    }

    /// The customers holding `identifier`, by ID, with whether it grants access on each.
    func holders(of identifier: Identifier) throws -> [(customer: CustomerID, access: Bool)] {
        var result: [(CustomerID, Bool)] = []
        let prefix = Keys.value(identifier)
        try txn.forEach(db.holders, prefix: prefix) { entry in
            if let customer = Keys.readUInt64(Array(entry.key[prefix.count...])) {
                result.append((customer, entry.value.first == 1))
            }
            return true
        }
        return result
    }

    func accessOwner(of identifier: Identifier) throws -> CustomerID? {
        try txn.get(db.accessOwners, key: Keys.value(identifier)).flatMap(Keys.readUInt64)
    }

    /// The customer that most recently presented a soft value together with a known
    /// identifier, or `nil` when none did (the first holder then stands).
    func claimedHolder(of identifier: Identifier) throws -> CustomerID? {
        try txn.get(db.softHolders, key: Keys.value(identifier)).flatMap(Keys.readUInt64)
    }

    func isDeclineRecorded(_ a: CustomerID, _ b: CustomerID, mask: UInt8) throws -> UInt64? {
        try txn.get(db.declines, key: Keys.decline(a, b, mask: mask)).flatMap(Keys.readUInt64)
    }

    /// Whether any value of `type` is held, and a few examples for messages.
    func sampleHolders(ofType type: String, limit: Int = 3) throws -> [(Identifier, CustomerID)] {
        var found: [(Identifier, CustomerID)] = []
        try txn.forEach(db.holders, prefix: Keys.type(type)) { entry in
            if let parsed = Keys.parseHolder(entry.key) { found.append(parsed) }
            return found.count < limit
        }
        return found
    }

    func event(_ seq: UInt64) throws -> Event? {
        guard let bytes = try txn.get(db.log, key: Keys.seq(seq)) else { return nil }
        return try Event(seq: seq, bytes: bytes)
    }

    /// The last event of the log, or `nil` when it is empty.
    func lastEvent() throws -> Event? {
        let cursor = try txn.cursor(db.log)
        defer { cursor.close() }
        guard let entry = try cursor.last(), let seq = Keys.readUInt64(entry.key) else { return nil }
        return try Event(seq: seq, bytes: entry.value)
    }
}

/// Keys of the `meta` database.
enum Meta {
    static let schema = Array("schema".utf8)
    static let storeFormat = Array("storeFormat".utf8)
}
