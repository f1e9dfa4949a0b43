import LMDB

/// A customer aggregate: its header and properties (the `customers` projection), its
/// identifiers (`holdings`) and the customers it absorbed (`absorbed`).
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

    mutating func write(_ property: Property) {
        if let index = properties.firstIndex(where: { $0.key == property.key }) {
            if property.isNewer(than: properties[index]) { properties[index] = property }
            return
        }
        let index = properties.firstIndex { property.key < $0.key } ?? properties.endIndex
        properties.insert(property, at: index)
    }
}

private func > (lhs: (Int64, UInt64), rhs: (Int64, UInt64)) -> Bool {
    lhs.0 != rhs.0 ? lhs.0 > rhs.0 : lhs.1 > rhs.1
}

extension CustomerRecord {
    /// 2: the header and properties only (store format 2); identifiers and absorbed
    /// customers live in their own projections (``Databases``).
    private static let version: UInt8 = 2

    /// The `customers` value: everything but `identifiers` and `mergedFrom`.
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
        w.write(properties) { w, property in
            w.write(property.key)
            w.write(property.value)
            w.write(signed: property.occurredAt)
            w.write(property.seq)
        }
        return w.bytes
    }

    /// Decodes a `customers` value; `identifiers` and `mergedFrom` are left for the
    /// reader to fill in from their projections.
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
        properties = try r.readArray { (r: inout R) throws(R.Failure) in
            Property(key: try r.readString(), value: try r.readJSON(), occurredAt: try r.readSigned(), seq: try r.readUInt64())
        }
        guard r.isAtEnd else { throw R.Failure(reason: "trailing bytes after the customer record") }
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
