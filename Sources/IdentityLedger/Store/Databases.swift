import LMDB

/// The named LMDB databases of a store and the layout of their keys.
///
/// `log` is the source of truth; everything else is a projection that `rebuild`
/// recomputes from it (``projections``).
struct Databases: Sendable {
    /// seq (UInt64 BE) → encoded ``Event``.
    let log: Database
    /// "schema" → the schema in force; "storeFormat" → format version.
    let meta: Database
    /// customer ID (UInt64 BE) → encoded ``CustomerRecord``.
    let customers: Database
    /// type, value, customer → access flag byte: who holds a value.
    let holders: Database
    /// type, value → customer: the one customer on which a value grants access.
    let accessOwners: Database
    /// type, value → customer: the current holder of a soft value, when one was claimed.
    let softHolders: Database
    /// lower ID, higher ID, failing-guard set → seq of the `mergeDeclined` event.
    let declines: Database
    /// eventId → payload digest, seq of the command's first event.
    let eventIds: Database

    static let specs: [Environment.DatabaseSpec] = [
        "log", "meta", "customers", "holders", "accessOwners", "softHolders", "declines", "eventIds",
    ].map { Environment.DatabaseSpec($0) }

    init(_ env: Environment) throws {
        log = try env.database("log")
        meta = try env.database("meta")
        customers = try env.database("customers")
        holders = try env.database("holders")
        accessOwners = try env.database("accessOwners")
        softHolders = try env.database("softHolders")
        declines = try env.database("declines")
        eventIds = try env.database("eventIds")
    }

    /// Everything derived from the log, in a fixed order (for rebuild and verify).
    var projections: [Database] {
        [meta, customers, holders, accessOwners, softHolders, declines, eventIds]
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

    /// type, value: the prefix of `holders` keys and the key of `accessOwners` and `softHolders`.
    static func value(_ identifier: Identifier) -> [UInt8] {
        var key = KeyBuilder(capacity: identifier.type.utf8.count + identifier.value.utf8.count + 12)
        key.append(lengthPrefixed: identifier.type)
        key.append(lengthPrefixed: identifier.value)
        return key.bytes
    }

    /// The prefix of every `holders` key of one type.
    static func type(_ name: String) -> [UInt8] {
        var key = KeyBuilder()
        key.append(lengthPrefixed: name)
        return key.bytes
    }

    static func holder(_ identifier: Identifier, _ customer: CustomerID) -> [UInt8] {
        value(identifier) + seq(customer)
    }

    /// Splits a `holders` key back into its identifier and customer.
    static func parseHolder(_ key: [UInt8]) -> (Identifier, CustomerID)? {
        var reader = KeyReader(key)
        guard let type = reader.readLengthPrefixedString(), let value = reader.readLengthPrefixedString(),
              let customer = reader.readUInt64() else { return nil }
        return (Identifier(type: type, value: value), customer)
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
