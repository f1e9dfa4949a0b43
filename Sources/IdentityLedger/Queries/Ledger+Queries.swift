import Foundation

extension Ledger {
    /// The profile a reference names, now or as of a past point. A merged ID answers its
    /// survivor's profile, with ``Customer/resolvedFrom`` saying when and into whom it was merged.
    ///
    /// ```swift
    /// let then = try ledger.customer(.identifier(Identifier(type: "email", value: "ann@example.com")), asOf: .seq(40))
    /// ```
    /// Cost: O(log N) per customer read, never a replay.
    /// - Throws: `customerNotFound` (also for a customer created after `asOf`),
    ///   `ambiguousCustomer` (a value held by several customers).
    public func customer(_ ref: CustomerRef, asOf: AsOf? = nil) throws(LedgerError) -> Customer {
        try snapshot(asOf: asOf) { reader in
            let record = try reader.resolve(ref, schema: try reader.schema())
            guard let survivorID = record.survivor else { return Customer(record) }
            let redirect = Customer.Redirect(
                id: record.id, mergedInto: record.mergedInto!,
                mergedAt: Date(millisecondsSince1970: record.mergedAt ?? 0), mergeSeq: record.mergedSeq ?? 0
            )
            return Customer(try reader.existingCustomer(survivorID), resolvedFrom: redirect)
        }
    }

    /// The customers holding a value (normalized first), by ID, with whether it grants
    /// access on each — now or as of a past point.
    public func lookup(_ identifier: Identifier, asOf: AsOf? = nil) throws(LedgerError) -> [(customer: CustomerID, access: Bool)] {
        try snapshot(asOf: asOf) { reader in
            try reader.holders(of: try reader.schema().normalize(identifier))
        }
    }

    /// Every event that touched the customer or anything merged into it, in log order,
    /// up to `asOf`. Merges carry their guard results; manual ones their actor and note.
    ///
    /// A page of it: the first `limit` events after position `after` (pass the last one's `seq`
    /// to get the next page).
    public func history(_ ref: CustomerRef, asOf: AsOf? = nil, after: UInt64 = 0, limit: Int = .max) throws(LedgerError) -> [Event] {
        guard limit > 0 else { return [] }
        return try snapshot(asOf: asOf) { reader in
            let record = try reader.resolve(ref, schema: try reader.schema())
            return try reader.historyPositions(of: try reader.current(record)).filter { $0 > after }.prefix(limit).compactMap(reader.event)
        }
    }
}

extension ProjectionReader {
    /// The positions of every event that touched `survivor` or a customer merged into it,
    /// in log order: what ``Ledger/history(_:asOf:after:limit:)`` and ``Ledger/subject(_:)`` read.
    func historyPositions(of survivor: CustomerRecord) throws -> [UInt64] {
        var positions = Set<UInt64>()
        for id in [survivor.id] + survivor.mergedFrom {
            positions.formUnion(try eventPositions(of: id))
        }
        return positions.sorted()
    }
}
