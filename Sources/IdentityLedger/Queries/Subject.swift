import Foundation

/// Everything the store holds on one person, for a request to see it or to take it along:
/// the profile a reference resolves to, every customer merged into it, the identifiers and
/// properties it holds, and every event that touched any of them. ``Ledger/subject(_:)``
/// reads it in one snapshot, at ``asOfSeq``.
///
/// Encodable as the one JSON document `idledger subject` prints; its events are written as
/// `history --json` writes them. (Encodable only: nothing reads a report back.)
public struct SubjectReport: Sendable, Hashable, Encodable {
    /// One of the customers the profile is made of: the survivor, or one merged into it.
    public struct Member: Sendable, Hashable {
        public var id: CustomerID
        /// ``Customer/Status/active`` for the survivor, ``Customer/Status/merged`` for the others.
        public var status: Customer.Status
        /// When it was created: its first event's position, and the engine's time of it.
        public var createdSeq: UInt64
        public var createdAt: Date
        /// For a merged customer, the merge that absorbed it: the customer it was merged into
        /// directly, the merge's position and the engine's time of it; `nil` for the survivor.
        public var mergedInto: CustomerID?
        public var mergeSeq: UInt64?
        public var mergedAt: Date?
    }

    /// An identifier the profile holds, with the engine's time of its `since` position.
    public struct HeldValue: Sendable, Hashable {
        public var identifier: HeldIdentifier
        public var sinceAt: Date
    }

    /// A property's current value and the write it comes from.
    public struct Property: Sendable, Hashable {
        public var value: JSONValue
        /// The write's client time, which decides between writes of the key (as for ``Ledger/customer(_:asOf:)``).
        public var occurredAt: Date
        /// The write's log position.
        public var seq: UInt64
    }

    /// The active customer the reference resolved to.
    public var customer: CustomerID
    /// The survivor first, then every customer merged into it, directly or along a chain, by ID.
    public var customers: [Member]
    /// Sorted by type, then value.
    public var identifiers: [HeldValue]
    /// By key; hidden keys (a `null` written last) are absent, their writes are in ``history``.
    public var properties: [String: Property]
    /// What ``Ledger/history(_:asOf:after:limit:)`` returns for the profile: every event that
    /// touched any of ``customers``, in log order, merges and declined merges with their guards.
    public var history: [Event]
    /// The position of the last event in the log when the report was read (0 for an empty log).
    public var asOfSeq: UInt64

    private enum CodingKeys: String, CodingKey { case customer, customers, identifiers, properties, history, asOfSeq }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(customer, forKey: .customer)
        try c.encode(customers.map(MemberOutput.init), forKey: .customers)
        try c.encode(identifiers.map { HeldIdentifierOutput($0.identifier, sinceAt: formatTimestamp($0.sinceAt)) }, forKey: .identifiers)
        try c.encode(properties.mapValues(PropertyOutput.init), forKey: .properties)
        try c.encode(history.map(EventOutput.init), forKey: .history)
        try c.encode(asOfSeq, forKey: .asOfSeq)
    }

    /// `{"id":3,"status":"merged","createdSeq":2,"createdAt":"…","mergedInto":7,"mergeSeq":9,"mergedAt":"…"}`;
    /// the merge's three keys are `null` for the survivor.
    private struct MemberOutput: Encodable {
        let member: Member

        private enum CodingKeys: String, CodingKey { case id, status, createdSeq, createdAt, mergedInto, mergeSeq, mergedAt }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(member.id, forKey: .id)
            try c.encode(member.status, forKey: .status)
            try c.encode(member.createdSeq, forKey: .createdSeq)
            try c.encode(formatTimestamp(member.createdAt), forKey: .createdAt)
            try c.encodeOrNull(member.mergedInto, forKey: .mergedInto)
            try c.encodeOrNull(member.mergeSeq, forKey: .mergeSeq)
            try c.encodeOrNull(member.mergedAt.map(formatTimestamp), forKey: .mergedAt)
        }
    }

    private struct PropertyOutput: Encodable {
        var value: JSONValue
        var occurredAt: String
        var seq: UInt64

        init(_ property: Property) {
            value = property.value
            occurredAt = formatTimestamp(property.occurredAt)
            seq = property.seq
        }
    }
}

extension SubjectReport.Member {
    init(_ record: CustomerRecord) {
        id = record.id
        status = record.isActive ? .active : .merged
        createdSeq = record.createdSeq
        createdAt = Date(millisecondsSince1970: record.createdAt)
        mergedInto = record.mergedInto
        mergeSeq = record.mergedSeq
        mergedAt = record.mergedAt.map(Date.init(millisecondsSince1970:))
    }
}

extension Ledger {
    /// Everything the store holds on the customer a reference names, as one report: for a
    /// person who asks to see their data, or to take it along.
    ///
    /// ```swift
    /// let report = try ledger.subject(.identifier(Identifier(type: "email", value: "ann@example.com")))
    /// let document = try JSONEncoder().encode(report)
    /// ```
    ///
    /// A merged ID or a value stands for the profile it belongs to now: the report is the
    /// survivor's, and lists every customer merged into it. Everything is read in one snapshot
    /// (``SubjectReport/asOfSeq``), at a cost of the profile's own events, never a replay of the log.
    /// - Throws: `customerNotFound`, `ambiguousCustomer` (a value held by several customers).
    public func subject(_ ref: CustomerRef) throws(LedgerError) -> SubjectReport {
        try snapshot { reader in
            let survivor = try reader.current(try reader.resolve(ref, schema: try reader.schema()))
            func recordedAt(_ seq: UInt64) throws -> Date {
                guard let ms = try reader.recordedAt(seq) else { throw LedgerError.corruptEvent(seq: seq, reason: "missing from the log") }
                return Date(millisecondsSince1970: ms)
            }
            var properties: [String: SubjectReport.Property] = [:]
            for property in survivor.properties where property.value != .null {
                properties[property.key] = .init(value: property.value, occurredAt: Date(millisecondsSince1970: property.occurredAt), seq: property.seq)
            }
            return SubjectReport(
                customer: survivor.id,
                // Absorbed customers keep only their header: their holdings moved with the merge.
                customers: [.init(survivor)] + (try survivor.mergedFrom.map { .init(try reader.existingHeader($0)) }),
                identifiers: try survivor.identifiers.map { .init(identifier: $0, sinceAt: try recordedAt($0.since)) },
                properties: properties,
                history: try reader.historyPositions(of: survivor).compactMap(reader.event),
                asOfSeq: try reader.lastPosition()?.seq ?? 0
            )
        }
    }
}
