import LMDB

/// The named LMDB databases of a store and the layout of their keys.
///
/// `log` is the source of truth; everything else is a projection that `rebuild`
/// recomputes from it (``projections``). The customer and value projections are
/// versioned by log position: the state now is the last version, the state as of
/// position k is the last version at or before k — one reverse seek either way.
struct Databases: Sendable {
    /// seq (UInt64 BE) → encoded ``Event``.
    let log: Database
    /// "storeFormat" → format version.
    let meta: Database
    /// seq of a `schemaChanged` event → the schema it put in force.
    let schemas: Database
    /// customer ID, seq → the ``CustomerRecord`` after that event, or a one-byte
    /// marker for an event that touched the customer without changing it (a decline).
    let customers: Database
    /// type, value, seq → the ``ValueState`` (holders, access flags, claimed holder) after that event.
    let values: Database
    /// lower ID, higher ID, failing-guard set → seq of the `mergeDeclined` event.
    let declines: Database
    /// eventId → payload digest, seq of the command's first event.
    let eventIds: Database
    /// import ID → the ``ImportState`` of a bulk import (how far it got, its counts).
    let imports: Database

    static let specs: [Environment.DatabaseSpec] = [
        "log", "meta", "schemas", "customers", "values", "declines", "eventIds", "imports",
    ].map { Environment.DatabaseSpec($0) }

    init(_ env: Environment) throws {
        log = try env.database("log")
        meta = try env.database("meta")
        schemas = try env.database("schemas")
        customers = try env.database("customers")
        values = try env.database("values")
        declines = try env.database("declines")
        eventIds = try env.database("eventIds")
        imports = try env.database("imports")
    }

    /// Everything derived from the log, in a fixed order (for rebuild and verify).
    var projections: [Database] {
        [schemas, customers, values, declines, eventIds, imports]
    }
}

/// Key builders, one per layout above.
enum Keys {
    static func seq(_ seq: UInt64) -> [UInt8] {
        var key = KeyBuilder(capacity: 8)
        key.append(seq)
        return key.bytes
    }

    static func customer(_ id: CustomerID) -> [UInt8] { seq(id) }

    /// type, value: the prefix of a value's versions in `values`.
    static func value(_ identifier: Identifier) -> [UInt8] {
        var key = KeyBuilder(capacity: identifier.type.utf8.count + identifier.value.utf8.count + 12)
        key.append(lengthPrefixed: identifier.type)
        key.append(lengthPrefixed: identifier.value)
        return key.bytes
    }

    /// The prefix of every `values` key of one type.
    static func type(_ name: String) -> [UInt8] {
        var key = KeyBuilder()
        key.append(lengthPrefixed: name)
        return key.bytes
    }

    static func valueVersion(_ identifier: Identifier, _ seq: UInt64) -> [UInt8] {
        value(identifier) + Keys.seq(seq)
    }

    static func customerVersion(_ id: CustomerID, _ seq: UInt64) -> [UInt8] {
        Keys.seq(id) + Keys.seq(seq)
    }

    /// Splits a `values` key back into its identifier and log position.
    static func parseValueVersion(_ key: [UInt8]) -> (Identifier, UInt64)? {
        var reader = KeyReader(key)
        guard let type = reader.readLengthPrefixedString(), let value = reader.readLengthPrefixedString(),
              let seq = reader.readUInt64() else { return nil }
        return (Identifier(type: type, value: value), seq)
    }

    /// Splits a `customers` key into customer ID and log position.
    static func parseCustomerVersion(_ key: [UInt8]) -> (CustomerID, UInt64)? {
        var reader = KeyReader(key)
        guard let id = reader.readUInt64(), let seq = reader.readUInt64() else { return nil }
        return (id, seq)
    }

    static func decline(_ a: CustomerID, _ b: CustomerID, mask: UInt8) -> [UInt8] {
        var key = KeyBuilder(capacity: 17)
        key.append(min(a, b))
        key.append(max(a, b))
        key.append(mask)
        return key.bytes
    }

    static func readUInt64(_ bytes: [UInt8]) -> UInt64? {
        var reader = KeyReader(bytes)
        return reader.readUInt64()
    }
}
