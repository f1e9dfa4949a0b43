import Foundation
import IdentityLedger

// The JSON shapes of behaviour §9.4. Keys are sorted and slashes left unescaped;
// fields may be added, never renamed.

enum Output {
    /// One compact JSON document, without a trailing newline.
    static func json<T: Encodable>(_ value: T) -> String {
        do {
            return try CompactJSONEncoder().encode(value)
        } catch {
            // Only non-finite doubles fail to encode; the engine never stores them.
            return #"{"error":{"code":"encoding","message":"\#(error)"}}"#
        }
    }

    /// ISO 8601 in UTC with milliseconds: `2026-11-01T10:00:00.000Z` (``formatTimestamp(milliseconds:)``).
    static func timestamp(milliseconds ms: Int64) -> String { formatTimestamp(milliseconds: ms) }

    static func timestamp(_ date: Date) -> String { formatTimestamp(date) }
}

// MARK: Errors

struct ErrorBody: Encodable {
    var code: String
    var message: String
}

/// `{"error":{"code":…,"message":…}}` on stderr.
struct ErrorOutput: Encodable {
    var error: ErrorBody
}

/// An `ingest` line that failed: `{"line":N,"error":{…}}`.
struct LineErrorOutput: Encodable {
    var line: Int
    var error: ErrorBody
}

// MARK: Pieces

// IdentifierOutput, HeldIdentifierOutput and EventOutput are the library's
// (Event+JSON.swift), which encodes the events of a subject report with them too.

struct WarningOutput: Encodable {
    var code: String
    var message: String
}

struct DeclinedOutput: Encodable {
    var customer: CustomerID
    var guards: [GuardResult]
}

// MARK: Command results

/// identify / update / merge / detach, and each good `ingest` line:
/// `{"customer":7,"created":false,"merged":[3],"seq":[41,42],"declined":[…],"declinedNotListed":0,"warnings":[]}`;
/// `guards` for a merge, `line` for ingest. `declined` lists at most
/// ``CommandResult/declinedListLimit`` candidates, `declinedNotListed` counts the rest.
struct ResultOutput: Encodable {
    var line: Int?
    var customer: CustomerID
    var created: Bool
    var merged: [CustomerID]
    var seq: [UInt64]
    var declined: [DeclinedOutput]
    var declinedNotListed: Int
    var guards: [GuardResult]?
    var warnings: [WarningOutput]

    init(_ result: CommandResult, includeGuards: Bool, line: Int? = nil) {
        self.line = line
        customer = result.customer
        created = result.created
        merged = result.merged
        seq = result.seq
        declined = result.declined.map { DeclinedOutput(customer: $0.customer, guards: $0.guards) }
        declinedNotListed = result.declinedNotListed
        guards = includeGuards ? result.guards : nil
        warnings = result.warnings.map { WarningOutput(code: $0.code, message: $0.message) }
    }
}

// MARK: Customers

/// show / export line:
/// `{"id":7,"status":"active","mergedInto":null,"survivor":7,"mergedFrom":[3],"identifiers":[…],"properties":{…},"createdAt":"…"}`,
/// plus `resolvedFrom` when a merged ID was asked for.
struct CustomerOutput: Encodable {
    struct Redirect: Encodable {
        var id: CustomerID
        var mergedInto: CustomerID
        var mergedAt: String
        var mergeSeq: UInt64
    }

    var id: CustomerID
    var status: String
    var mergedInto: CustomerID?
    var survivor: CustomerID
    var mergedFrom: [CustomerID]
    var identifiers: [HeldIdentifierOutput]
    var properties: [String: JSONValue]
    var createdAt: String
    var resolvedFrom: Redirect?

    init(_ customer: Customer) {
        id = customer.id
        status = customer.status.rawValue
        mergedInto = customer.mergedInto
        survivor = customer.survivor
        mergedFrom = customer.mergedFrom
        identifiers = customer.identifiers.map { HeldIdentifierOutput($0) }
        properties = customer.properties
        createdAt = Output.timestamp(customer.createdAt)
        resolvedFrom = customer.resolvedFrom.map {
            Redirect(id: $0.id, mergedInto: $0.mergedInto, mergedAt: Output.timestamp($0.mergedAt), mergeSeq: $0.mergeSeq)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case id, status, mergedInto, survivor, mergedFrom, identifiers, properties, createdAt, resolvedFrom
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(status, forKey: .status)
        // Always present, `null` for an active customer.
        try c.encodeOrNull(mergedInto, forKey: .mergedInto)
        try c.encode(survivor, forKey: .survivor)
        try c.encode(mergedFrom, forKey: .mergedFrom)
        try c.encode(identifiers, forKey: .identifiers)
        try c.encode(properties, forKey: .properties)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(resolvedFrom, forKey: .resolvedFrom)
    }
}

/// lookup: `{"type":"email","value":"ann@example.com","holders":[{"customer":7,"access":true}]}`
/// (`value` as given; the engine matched its normalized form).
struct LookupOutput: Encodable {
    struct Holder: Encodable {
        var customer: CustomerID
        var access: Bool
    }

    var type: String
    var value: String
    var holders: [Holder]
}

// MARK: Store

/// `{"db":…,"created":true,"seq":12,"schema":{…}}`: `seq` is the position of the schema
/// recorded, `null` when none was (no `--schema`, or the same schema again).
struct InitOutput: Encodable {
    var db: String
    var created: Bool
    var seq: UInt64?
    var schema: Schema

    private enum CodingKeys: String, CodingKey { case db, created, seq, schema }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(db, forKey: .db)
        try c.encode(created, forKey: .created)
        try c.encodeOrNull(seq, forKey: .seq)
        try c.encode(schema, forKey: .schema)
    }
}

struct SchemaSetOutput: Encodable {
    var changed: Bool
    var seq: [UInt64]
    var schema: Schema
}

struct StatsOutput: Encodable {
    var events: UInt64
    var customers: Int
    var activeCustomers: Int
    var mergedCustomers: Int
    var identifierValues: Int
    var accessValues: Int
    var recordedDeclines: Int
    var eventsByKind: [String: Int]
    var mapSize: Int

    init(_ s: Statistics) {
        events = s.events
        customers = s.customers
        activeCustomers = s.activeCustomers
        mergedCustomers = s.mergedCustomers
        identifierValues = s.identifierValues
        accessValues = s.accessValues
        recordedDeclines = s.recordedDeclines
        eventsByKind = s.eventsByKind
        mapSize = s.mapSize
    }
}
