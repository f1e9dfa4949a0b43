/// A customer aggregate as the `customers` projection stores it.
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
    private static let version: UInt8 = 1
    /// Stored instead of a record for an event that touched the customer without changing it.
    static let touchMarker: [UInt8] = [0]

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.write(byte: Self.version)
        w.write(id)
        w.write(createdSeq)
        w.write(signed: createdAt)
        w.write(optional: mergedInto)
        w.write(optional: survivor)
        w.write(optional: mergedSeq)
        w.write(mergedAt != nil)
        if let mergedAt { w.write(signed: mergedAt) }
        w.write(identifiers) { w, held in
            w.write(held.type)
            w.write(held.value)
            w.write(held.access)
            w.write(held.since)
        }
        w.write(properties) { w, property in
            w.write(property.key)
            w.write(property.value)
            w.write(signed: property.occurredAt)
            w.write(property.seq)
        }
        w.write(mergedFrom) { $0.write($1) }
        return w.bytes
    }

    init(bytes: [UInt8]) throws(BinaryReader.Failure) {
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
        identifiers = try r.readArray { (r: inout R) throws(R.Failure) in
            HeldIdentifier(type: try r.readString(), value: try r.readString(), access: try r.readBool(), since: try r.readUInt64())
        }
        properties = try r.readArray { (r: inout R) throws(R.Failure) in
            Property(key: try r.readString(), value: try r.readJSON(), occurredAt: try r.readSigned(), seq: try r.readUInt64())
        }
        mergedFrom = try r.readArray { (r: inout R) throws(R.Failure) in try r.readUInt64() }
    }
}
