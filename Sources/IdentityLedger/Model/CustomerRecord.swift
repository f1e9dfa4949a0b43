/// A customer aggregate: its header (the `customers` projection), its identifiers
/// (`holdings`), its properties (`properties`) and the customers it absorbed (`absorbed`).
///
/// An absorbed customer keeps only who absorbed it; its identifiers and properties
/// moved to the survivor with the merge.
struct CustomerRecord: Hashable, Sendable {
    struct Property: Hashable, Sendable {
        var key: String
        /// `.null` is a tombstone: the key is hidden but still wins over older writes.
        var value: JSONValue
        var occurredAt: Int64
        var seq: UInt64

        /// Later (occurredAt, log position) wins, tombstones included.
        func isNewer(than other: Property) -> Bool {
            (occurredAt, seq) > (other.occurredAt, other.seq)
        }
    }

    var id: CustomerID
    /// Read by nothing, but part of the encoded `customers` value: dropping it would change the store format.
    var createdSeq: UInt64
    var createdAt: Int64
    /// The customer that absorbed this one directly.
    var mergedInto: CustomerID?
    /// The active customer this one resolves to now.
    var survivor: CustomerID?
    var mergedSeq: UInt64?
    var mergedAt: Int64?
    /// Sorted by type name, then value bytes.
    var identifiers: [HeldIdentifier] = []
    /// Sorted by key.
    var properties: [Property] = []
    /// Every customer ever absorbed, transitively; sorted.
    var mergedFrom: [CustomerID] = []

    var isActive: Bool { mergedInto == nil }

    func holds(_ identifier: Identifier) -> HeldIdentifier? {
        identifiers.first { $0.type == identifier.type && $0.value == identifier.value }
    }

    /// Adds the identifier, or sets its access flag when it is already held.
    mutating func hold(_ identifier: Identifier, access: Bool, since: UInt64) {
        if let index = identifiers.firstIndex(where: { $0.identifier == identifier }) {
            if access { identifiers[index].access = true }
            return
        }
        let held = HeldIdentifier(type: identifier.type, value: identifier.value, access: access, since: since)
        let index = identifiers.firstIndex { held.identifier < $0.identifier } ?? identifiers.endIndex
        identifiers.insert(held, at: index)
    }

    /// Applies a write to its key; returns whether it won (it is the key's value now).
    @discardableResult
    mutating func write(_ property: Property) -> Bool {
        if let index = properties.firstIndex(where: { $0.key == property.key }) {
            guard property.isNewer(than: properties[index]) else { return false }
            properties[index] = property
            return true
        }
        let index = properties.firstIndex { property.key < $0.key } ?? properties.endIndex
        properties.insert(property, at: index)
        return true
    }
}

private func > (lhs: (Int64, UInt64), rhs: (Int64, UInt64)) -> Bool {
    lhs.0 != rhs.0 ? lhs.0 > rhs.0 : lhs.1 > rhs.1
}

extension CustomerRecord {
    /// 2: the header and properties (store format 2); identifiers and absorbed customers
    /// live in their own projections (``Databases``). 3: the header only, properties
    /// live in theirs too (store format 4).
    private static let version: UInt8 = 3

    /// The `customers` value: everything but `identifiers`, `properties` and `mergedFrom`.
    func encodedHeader() -> [UInt8] {
        var w = BinaryWriter(capacity: 64)
        w.write(byte: Self.version)
        w.write(id)
        w.write(createdSeq)
        w.write(signed: createdAt)
        w.write(optional: mergedInto)
        w.write(optional: survivor)
        w.write(optional: mergedSeq)
        w.write(mergedAt != nil)
        if let mergedAt { w.write(signed: mergedAt) }
        return w.bytes
    }

    /// Decodes a `customers` value; `identifiers`, `properties` and `mergedFrom` are left
    /// for the reader to fill in from their projections.
    init(header bytes: [UInt8]) throws(BinaryReader.Failure) {
        typealias R = BinaryReader
        var r = BinaryReader(bytes)
        guard try r.readByte() == Self.version else { throw R.Failure(reason: "unknown customer record version") }
        id = try r.readUInt64()
        createdSeq = try r.readUInt64()
        createdAt = try r.readSigned()
        mergedInto = try r.readOptionalUInt64()
        survivor = try r.readOptionalUInt64()
        mergedSeq = try r.readOptionalUInt64()
        mergedAt = try r.readBool() ? try r.readSigned() : nil
        guard r.isAtEnd else { throw R.Failure(reason: "trailing bytes after the customer record") }
    }
}

extension CustomerRecord.Property {
    private static let version: UInt8 = 1

    /// The `properties` value: the key (also in the database key, but hashed when long),
    /// value, `occurredAt` and the position that wrote it.
    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: key.utf8.count + 24)
        w.write(byte: Self.version)
        w.write(key)
        w.write(value)
        w.write(signed: occurredAt)
        w.write(seq)
        return w.bytes
    }

    init(bytes: [UInt8]) throws(BinaryReader.Failure) {
        var r = BinaryReader(bytes)
        guard try r.readByte() == Self.version else { throw BinaryReader.Failure(reason: "unknown property version") }
        self.init(key: try r.readString(), value: try r.readJSON(), occurredAt: try r.readSigned(), seq: try r.readUInt64())
        guard r.isAtEnd else { throw BinaryReader.Failure(reason: "trailing bytes after the property") }
    }
}

/// A `holdings` value: whether a customer holds an identifier after an event, and whether
/// with access. Where the holding began (`since`) is part of its key
/// (``Keys/holdingVersion(_:since:_:_:)``).
struct Holding: Hashable {
    var held: Bool
    var access: Bool

    static let released = Holding(held: false, access: false)

    /// One byte of flags: 1 held, 2 access.
    func encoded() -> [UInt8] {
        [UInt8((held ? 1 : 0) | (access ? 2 : 0))]
    }

    init(held: Bool, access: Bool) {
        self.held = held
        self.access = access
    }

    init<Bytes: RandomAccessCollection<UInt8>>(bytes: Bytes) throws(BinaryReader.Failure) {
        guard bytes.count == 1, let flags = bytes.first, flags & ~3 == 0 else {
            throw BinaryReader.Failure(reason: "not a holding: \(Array(bytes))")
        }
        self.init(held: flags & 1 != 0, access: flags & 2 != 0)
    }
}
