/// Who holds one identifier value, as the `values` projection stores it after an event.
struct ValueState: Hashable, Sendable {
    struct Holder: Hashable, Sendable {
        var customer: CustomerID
        /// Whether the value grants access on this customer (at most one holder).
        var access: Bool
    }

    /// By customer ID; empty once the last holder detached it.
    var holders: [Holder] = []
    /// For a soft value: the customer that last presented it with a known identifier.
    var claimedHolder: CustomerID?

    var accessOwner: CustomerID? { holders.first(where: \.access)?.customer }

    /// Adds the customer (or updates its access flag), keeping ID order.
    mutating func set(_ customer: CustomerID, access: Bool) {
        if let index = holders.firstIndex(where: { $0.customer == customer }) {
            holders[index].access = access
        } else {
            let index = holders.firstIndex { $0.customer > customer } ?? holders.endIndex
            holders.insert(Holder(customer: customer, access: access), at: index)
        }
    }

    mutating func remove(_ customer: CustomerID) {
        holders.removeAll { $0.customer == customer }
        if claimedHolder == customer { claimedHolder = nil }
    }

    private static let version: UInt8 = 1

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 4 + holders.count * 3)
        w.write(byte: Self.version)
        w.write(holders) { w, holder in
            w.write(holder.customer)
            w.write(holder.access)
        }
        w.write(optional: claimedHolder)
        return w.bytes
    }

    init() {}

    init(bytes: [UInt8]) throws(BinaryReader.Failure) {
        var r = BinaryReader(bytes)
        guard try r.readByte() == Self.version else { throw BinaryReader.Failure(reason: "unknown value state version") }
        holders = try r.readArray { (r: inout BinaryReader) throws(BinaryReader.Failure) in
            Holder(customer: try r.readUInt64(), access: try r.readBool())
        }
        claimedHolder = try r.readOptionalUInt64()
    }
}
