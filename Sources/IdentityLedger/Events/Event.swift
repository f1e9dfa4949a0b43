import Foundation

/// One entry of the append-only log. Events record outcomes (which customer, which
/// merge), so replaying them never re-runs resolution.
public struct Event: Sendable, Hashable {
    /// Dense log position, from 1.
    public var seq: UInt64
    /// The position of the first event written by the same command.
    public var commandSeq: UInt64
    /// Engine clock, milliseconds since 1970; never decreases along the log.
    public var recordedAt: Int64
    /// Client time in milliseconds, capped at `recordedAt`.
    public var occurredAt: Int64
    public var source: String?
    public var eventId: String?
    /// SHA-256 of the command's canonical payload, present with `eventId`.
    var payloadDigest: [UInt8]?
    public var actor: String?
    public var note: String?
    public var importId: String?
    public var row: UInt64?
    public var body: EventBody
    /// An import row's event: the row carried values the schema blocks, applied without them.
    /// The log keeps the fact (not the values), so the import's count survives a resume and a rebuild.
    var droppedBlocked = false

    public var kind: String { body.kind }
}

/// An identifier presented by a command, with whether it was declared access-granting.
public struct PresentedIdentifier: Sendable, Hashable {
    public var identifier: Identifier
    public var access: Bool
}

/// A property write: a JSON value; `.null` is a tombstone that hides the key.
public struct PropertyWrite: Sendable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(key: String, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// What an event says happened.
public enum EventBody: Sendable, Hashable {
    case schemaChanged(Schema)
    /// `identify` attached `identifiers` (and any properties) to `customer`.
    /// `declined` lists every candidate the guards kept apart, with the failing-guard set
    /// under which the pair's decline is recorded. `released`: the soft values the customer
    /// let go of because the attach left it over its type's ``IdentifierType/maxValues``
    /// (the least recently presented ones), sorted; each is detached from `customer`.
    case identified(customer: CustomerID, created: Bool, identifiers: [PresentedIdentifier],
                    properties: [PropertyWrite], declined: [DeclinedCandidate], released: [Identifier] = [])
    /// `update` wrote properties to `customer` (and, if `created`, gave it `identifiers`).
    case updated(customer: CustomerID, created: Bool, identifiers: [Identifier], properties: [PropertyWrite])
    case detached(customer: CustomerID, identifier: Identifier, accessOnly: Bool)
    case merged(survivor: CustomerID, absorbed: CustomerID, trigger: [Identifier], guards: [GuardResult], forced: Bool)
    case mergeDeclined(customer: CustomerID, candidate: CustomerID, guards: [GuardResult])
    case importStarted(ImportStart)
    case importFinished(importId: String, counts: ImportCounts)

    public var kind: String {
        switch self {
        case .schemaChanged: "schemaChanged"
        case .identified: "identified"
        case .updated: "updated"
        case .detached: "detached"
        case .merged: "merged"
        case .mergeDeclined: "mergeDeclined"
        case .importStarted: "importStarted"
        case .importFinished: "importFinished"
        }
    }

    /// Every value ``kind`` takes, in declaration order (for filters such as `idledger log --kind`).
    public static let kinds = [
        "schemaChanged", "identified", "updated", "detached", "merged", "mergeDeclined", "importStarted", "importFinished",
    ]
}

/// A candidate declined by an identify.
public struct DeclinedCandidate: Sendable, Hashable {
    public var customer: CustomerID
    var failingMask: UInt8

    /// The guards that failed (the set under which the pair's decline is recorded).
    public var failingGuards: [GuardName] {
        GuardName.allCases.filter { failingMask & $0.bit != 0 }
    }
}

/// The start of a bulk import.
public struct ImportStart: Sendable, Hashable {
    public var importId: String
    public var sourceName: String
    public var contentDigest: [UInt8]
    public var matchBy: String
    public var format: String
    /// The `source` of rows that carry none of their own; `nil`: `"import"`.
    public var source: String? = nil
    /// How a CSV import types its cells; `nil` for JSON Lines, and for an import started
    /// before the log recorded it (event format 2).
    public var csvCells: CSVCells? = nil
}

/// Row counts of a finished import.
public struct ImportCounts: Sendable, Hashable, Codable {
    public var read: UInt64 = 0
    public var created: UInt64 = 0
    public var updated: UInt64 = 0
    public var rejected: UInt64 = 0
    /// Applied rows that carried one or more values the schema blocks, applied without them
    /// (each a `blockedIdentifier` warning for a command). 0 in events before format 4.
    public var withBlockedValues: UInt64 = 0
    public init() {}

    private enum CodingKeys: String, CodingKey { case read, created, updated, rejected, withBlockedValues }

    /// Counts written before `withBlockedValues` existed read it as 0.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        read = try c.decode(UInt64.self, forKey: .read)
        created = try c.decode(UInt64.self, forKey: .created)
        updated = try c.decode(UInt64.self, forKey: .updated)
        rejected = try c.decode(UInt64.self, forKey: .rejected)
        withBlockedValues = try c.decodeIfPresent(UInt64.self, forKey: .withBlockedValues) ?? 0
    }
}

extension Event {
    /// The customers an event touches (for history and the log).
    public var customers: [CustomerID] {
        switch body {
        case .identified(let customer, _, _, _, _, _), .updated(let customer, _, _, _), .detached(let customer, _, _):
            [customer]
        case .merged(let survivor, let absorbed, _, _, _): [survivor, absorbed]
        case .mergeDeclined(let customer, let candidate, _): [customer, candidate]
        case .schemaChanged, .importStarted, .importFinished: []
        }
    }

    /// `recordedAt` as a `Date`, as ``AsOf/time(_:)`` takes it.
    public var recordedDate: Date { Date(millisecondsSince1970: recordedAt) }
}

extension Date {
    init(millisecondsSince1970 ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }

    /// Whole milliseconds, rounded down (a clock's sub-millisecond part is dropped). A `Date`
    /// made from whole milliseconds comes back a few rounding steps off (it stores seconds
    /// since 2001 as a `Double`), sometimes just below the millisecond: that is taken as
    /// the whole millisecond it was. Saturates instead of trapping millions of years away.
    var millisecondsSince1970: Int64 {
        let scaled = timeIntervalSince1970 * 1000
        guard scaled > -9e18, scaled < 9e18 else { return scaled > 0 ? .max : .min }
        let nearest = scaled.rounded()
        let slack = 4 * max(scaled.ulp, timeIntervalSinceReferenceDate.ulp * 1000)
        return Int64(abs(scaled - nearest) <= slack ? nearest : scaled.rounded(.down))
    }
}
