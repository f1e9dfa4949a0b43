import Crypto
import LMDB

/// The named LMDB databases of a store and the layout of their keys.
///
/// `log` is the source of truth; everything else is a projection that `rebuild`
/// recomputes from it (``projections``). The customer and value projections are
/// versioned by log position: the state now is the last version, the state as of
/// position k is the last version at or before k — a reverse seek per key either way.
///
/// A customer is split in four so that a version costs what changed, not the whole
/// aggregate: `customers` holds its header, `holdings` its identifiers one by one,
/// `properties` its properties key by key (store format 4), `absorbed` the customers merged
/// into it. A customer's identifiers and absorbed customers grow with its activity; copying
/// them into every version made the projections about 8 times the size of the log
/// (docs/benchmark-history.md); copying its properties made every event that touched a
/// customer with a large property cost that property again.
///
/// A class: readers and projectors are made per use and hold it, and copying eleven
/// databases (each with its name) cost eleven retains and releases every time.
final class Databases: Sendable {
    /// seq (UInt64 BE) → encoded ``Event``.
    let log: Database
    /// "storeFormat" → format version.
    let meta: Database
    /// seq of a `schemaChanged` event → nothing: where the schema changed. The schema is read
    /// from that event (store format 5), so a new schema field needs no new store format.
    let schemas: Database
    /// customer ID, seq → the customer's header after an event that touched it (a copy when
    /// the event did not change it, e.g. a decline or a property write): one small version
    /// per event, which is also the customer's history index.
    let customers: Database
    /// customer ID, since, type, value, seq → whether the customer holds the identifier after
    /// that event, with its access flag (``Holding``); written only when that changed. `since`
    /// is where the holding began (it never changes while the value is held), so a read as of
    /// position k stops at the first key whose `since` is past k (store format 3).
    let holdings: Database
    /// customer ID, property name (``Keys/propertyName(_:_:)``), seq → the write that wins for
    /// that key after that event (``CustomerRecord/Property``: value or tombstone, its
    /// `occurredAt` and the position that wrote it); written only when the winner changed (an
    /// update, or a merge bringing a newer write), never for a write that lost (store format 4).
    /// A merged customer's properties moved to its survivor: its header says it is merged,
    /// and it is read as holding none from then on.
    let properties: Database
    /// survivor ID, absorbed ID → seq of the merge from which the survivor counts it among
    /// the customers merged into it (directly or through an earlier merge).
    let absorbed: Database
    /// type, value, seq → the ``ValueState`` (holders, access flags, claimed holder) after that event.
    let values: Database
    /// lower ID, higher ID, failing-guard set → seq of the `mergeDeclined` event.
    let declines: Database
    /// eventId → payload digest, seq of the command's first event.
    let eventIds: Database
    /// import ID → the ``ImportState`` of a bulk import (how far it got, its counts).
    let imports: Database

    static let specs: [Environment.DatabaseSpec] = [
        "log", "meta", "schemas", "customers", "holdings", "properties", "absorbed", "values", "declines", "eventIds", "imports",
    ].map { Environment.DatabaseSpec($0) }

    init(_ env: Environment) throws {
        log = try env.database("log")
        meta = try env.database("meta")
        schemas = try env.database("schemas")
        customers = try env.database("customers")
        holdings = try env.database("holdings")
        properties = try env.database("properties")
        absorbed = try env.database("absorbed")
        values = try env.database("values")
        declines = try env.database("declines")
        eventIds = try env.database("eventIds")
        imports = try env.database("imports")
    }

    /// Everything derived from the log, in a fixed order (for rebuild and verify).
    var projections: [Database] {
        [schemas, customers, holdings, properties, absorbed, values, declines, eventIds, imports]
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
        var key = KeyBuilder(capacity: identifier.type.utf8.count + identifier.value.utf8.count + 20)
        key.append(lengthPrefixed: identifier.type)
        key.append(lengthPrefixed: identifier.value)
        key.append(seq)
        return key.bytes
    }

    static func customerVersion(_ id: CustomerID, _ seq: UInt64) -> [UInt8] {
        var key = KeyBuilder(capacity: 16)
        key.append(id)
        key.append(seq)
        return key.bytes
    }

    /// Type in lexicographic byte order (`appendOrdered`; type names are ASCII letters,
    /// digits and `_`, so never escaped), value length-prefixed as in `values`: escaping
    /// could double a value's 256 bytes past LMDB's 511-byte key limit.
    static func holdingVersion(_ id: CustomerID, since: UInt64, _ identifier: Identifier, _ seq: UInt64) -> [UInt8] {
        var key = KeyBuilder(capacity: identifier.type.utf8.count + identifier.value.utf8.count + 32)
        key.append(id)
        key.append(since)
        key.appendOrdered(identifier.type.utf8)
        key.append(lengthPrefixed: identifier.value)
        key.append(seq)
        return key.bytes
    }

    /// Where the type starts in a `holdings` key: after the customer ID and `since`.
    static let holdingTypeOffset = 16

    /// The `since` and identifier of a `holdings` key without its position.
    static func holdingIdentifier(_ key: UnsafeRawBufferPointer) -> (since: UInt64, identifier: Identifier)? {
        let start = holdingTypeOffset
        // The type: bytes up to its 0x00 0x01 terminator (never escaped, see `holdingVersion`).
        guard key.count > start, let end = key[start...].firstIndex(of: 0), end + 3 < key.count, key[end + 1] == 1 else { return nil }
        let count = Int(key[end + 2]) << 8 | Int(key[end + 3])
        guard end + 4 + count == key.count else { return nil }
        let since = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return (since, Identifier(type: String(decoding: UnsafeRawBufferPointer(rebasing: key[start..<end]), as: UTF8.self),
                                  value: String(decoding: UnsafeRawBufferPointer(rebasing: key[(end + 4)...]), as: UTF8.self)))
    }

    /// The big-endian `UInt64` that ends `bytes` (a key's log position, in versioned projections).
    static func trailingUInt64(_ bytes: UnsafeRawBufferPointer) throws(BinaryReader.Failure) -> UInt64 {
        guard bytes.count >= 8 else { throw BinaryReader.Failure(reason: "\(bytes.count) bytes where a position was expected") }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
    }

    /// Property names up to this many UTF-8 bytes are stored as they are in a `properties` key.
    static let propertyNameLimit = 256

    /// Customer ID, then the property key: a tag byte 0 and the key length-prefixed, or for a
    /// key longer than ``propertyNameLimit`` a tag byte 1 and its SHA-256 (LMDB keys are at
    /// most 511 bytes, and a property key is set by the integration). The prefix of the key's
    /// versions; the key itself is also in each value, so the name is never parsed back.
    static func propertyName(_ id: CustomerID, _ name: String) -> [UInt8] {
        var key = KeyBuilder(capacity: min(name.utf8.count, propertyNameLimit) + 20)
        key.append(id)
        if name.utf8.count <= propertyNameLimit {
            key.append(UInt8(0))
            key.append(lengthPrefixed: name)
        } else {
            key.append(UInt8(1))
            key.append(lengthPrefixed: SHA256.hash(Array(name.utf8)))
        }
        return key.bytes
    }

    static func propertyVersion(_ id: CustomerID, _ name: String, _ seq: UInt64) -> [UInt8] {
        propertyName(id, name) + Keys.seq(seq)
    }

    static func absorbed(_ survivor: CustomerID, _ absorbed: CustomerID) -> [UInt8] {
        var key = KeyBuilder(capacity: 16)
        key.append(survivor)
        key.append(absorbed)
        return key.bytes
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
