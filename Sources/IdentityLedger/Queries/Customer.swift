import Foundation

/// A customer profile as queries return it.
public struct Customer: Sendable, Hashable {
    public enum Status: String, Sendable, Codable { case active, merged }

    /// How a merged ID that was asked for resolved to this profile.
    public struct Redirect: Sendable, Hashable {
        /// The ID that was asked for.
        public var id: CustomerID
        /// The customer that absorbed it directly.
        public var mergedInto: CustomerID
        public var mergedAt: Date
        public var mergeSeq: UInt64
    }

    public var id: CustomerID
    public var status: Status
    public var mergedInto: CustomerID?
    /// The active customer this ID resolves to (itself when active).
    public var survivor: CustomerID
    public var mergedFrom: [CustomerID]
    public var identifiers: [HeldIdentifier]
    /// Current properties; tombstoned keys are absent.
    public var properties: [String: JSONValue]
    /// When it was created: the engine's recorded time of its first event, and that event's position.
    public var createdAt: Date
    public var createdSeq: UInt64
    /// Set when the reference named a merged customer: this profile is its survivor's.
    public var resolvedFrom: Redirect?

    init(_ record: CustomerRecord, resolvedFrom: Redirect? = nil) {
        id = record.id
        status = record.isActive ? .active : .merged
        mergedInto = record.mergedInto
        survivor = record.survivor ?? record.id
        mergedFrom = record.mergedFrom
        identifiers = record.identifiers
        properties = Dictionary(uniqueKeysWithValues: record.properties.filter { $0.value != .null }.map { ($0.key, $0.value) })
        createdAt = Date(millisecondsSince1970: record.createdAt)
        createdSeq = record.createdSeq
        self.resolvedFrom = resolvedFrom
    }
}

/// Counts for `stats`.
public struct Statistics: Sendable, Hashable {
    public var events: UInt64
    public var customers: Int
    public var activeCustomers: Int
    public var mergedCustomers: Int
    public var identifierValues: Int
    public var accessValues: Int
    public var recordedDeclines: Int
    public var eventsByKind: [String: Int]
    public var mapSize: Int
}
