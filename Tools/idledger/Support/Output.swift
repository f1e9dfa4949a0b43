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

    /// ISO 8601 in UTC with milliseconds: `2026-11-01T10:00:00.000Z`.
    static func timestamp(milliseconds ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var millis = ms % 1000
        if millis < 0 { millis += 1000; seconds -= 1 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Written out: String(format:) was a quarter of `log --json`'s CPU.
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value.magnitude)
            return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count - (value < 0 ? 1 : 0))) + digits
        }
        return padded(Int(parts.tm_year) + 1900, 4) + "-" + padded(Int(parts.tm_mon) + 1, 2) + "-" + padded(Int(parts.tm_mday), 2)
            + "T" + padded(Int(parts.tm_hour), 2) + ":" + padded(Int(parts.tm_min), 2) + ":" + padded(Int(parts.tm_sec), 2)
            + "." + padded(Int(millis), 3) + "Z"
    }

    static func timestamp(_ date: Date) -> String {
        timestamp(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }
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

struct IdentifierOutput: Encodable {
    var type: String
    var value: String

    init(_ identifier: Identifier) {
        type = identifier.type
        value = identifier.value
    }
}

struct HeldIdentifierOutput: Encodable {
    var type: String
    var value: String
    var access: Bool
    /// The log position at which the customer (or one merged into it) got the value (behaviour §3).
    var since: UInt64
}

struct GuardOutput: Encodable {
    var `guard`: String
    var passed: Bool
    var detail: String
    var evidence: [IdentifierOutput]

    init(_ result: GuardResult) {
        self.guard = result.guard.rawValue
        passed = result.passed
        detail = result.detail
        evidence = result.evidence.map { IdentifierOutput($0.identifier) }
    }
}

struct WarningOutput: Encodable {
    var code: String
    var message: String
}

struct DeclinedOutput: Encodable {
    var customer: CustomerID
    var guards: [GuardOutput]
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
    var guards: [GuardOutput]?
    var warnings: [WarningOutput]

    init(_ result: CommandResult, includeGuards: Bool, line: Int? = nil) {
        self.line = line
        customer = result.customer
        created = result.created
        merged = result.merged
        seq = result.seq
        declined = result.declined.map { DeclinedOutput(customer: $0.customer, guards: $0.guards.map(GuardOutput.init)) }
        declinedNotListed = result.declinedNotListed
        guards = includeGuards ? result.guards.map(GuardOutput.init) : nil
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
        identifiers = customer.identifiers.map { HeldIdentifierOutput(type: $0.type, value: $0.value, access: $0.access, since: $0.since) }
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

// MARK: Log

/// One `log` line: the envelope (`seq`, `commandSeq`, `kind`, `recordedAt`, `occurredAt`,
/// `source`, `eventId`, `actor`, `note`, and `importId`/`row` when set) and the body's
/// fields beside it.
struct EventOutput: Encodable {
    let event: Event

    init(_ event: Event) { self.event = event }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct PresentedOutput: Encodable {
        var type: String
        var value: String
        var access: Bool
    }

    private struct DeclinedCandidateOutput: Encodable {
        var customer: CustomerID
    }

    private struct CountsOutput: Encodable {
        var read: UInt64
        var created: UInt64
        var updated: UInt64
        var rejected: UInt64
        var withBlockedValues: UInt64
    }

    private static func properties(_ writes: [PropertyWrite]) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for write in writes { object[write.key] = write.value }
        return object
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        func put<T: Encodable>(_ key: String, _ value: T) throws { try c.encode(value, forKey: Key(key)) }
        func putOptional(_ key: String, _ value: String?) throws {
            try c.encodeOrNull(value, forKey: Key(key))
        }

        try put("seq", event.seq)
        try put("commandSeq", event.commandSeq)
        try put("kind", event.kind)
        try put("recordedAt", Output.timestamp(milliseconds: event.recordedAt))
        try put("occurredAt", Output.timestamp(milliseconds: event.occurredAt))
        try putOptional("source", event.source)
        try putOptional("eventId", event.eventId)
        try putOptional("actor", event.actor)
        try putOptional("note", event.note)
        if let importId = event.importId { try put("importId", importId) }
        if let row = event.row { try put("row", row) }

        switch event.body {
        case .schemaChanged(let schema):
            try put("schema", schema)
        case .identified(let customer, let created, let identifiers, let properties, let declined, let released):
            try put("customer", customer)
            try put("created", created)
            try put("identifiers", identifiers.map {
                PresentedOutput(type: $0.identifier.type, value: $0.identifier.value, access: $0.access)
            })
            try put("properties", Self.properties(properties))
            try put("declined", declined.map { DeclinedCandidateOutput(customer: $0.customer) })
            // Only when something was released: events of a store without soft value limits read as before.
            if !released.isEmpty { try put("released", released.map(IdentifierOutput.init)) }
        case .updated(let customer, let created, let identifiers, let properties):
            try put("customer", customer)
            try put("created", created)
            try put("identifiers", identifiers.map(IdentifierOutput.init))
            try put("properties", Self.properties(properties))
        case .detached(let customer, let identifier, let accessOnly):
            try put("customer", customer)
            try put("identifier", IdentifierOutput(identifier))
            try put("accessOnly", accessOnly)
        case .merged(let survivor, let absorbed, let trigger, let guards, let forced):
            try put("survivor", survivor)
            try put("absorbed", absorbed)
            try put("trigger", trigger.map(IdentifierOutput.init))
            try put("guards", guards.map(GuardOutput.init))
            try put("forced", forced)
        case .mergeDeclined(let customer, let candidate, let guards):
            try put("customer", customer)
            try put("candidate", candidate)
            try put("guards", guards.map(GuardOutput.init))
        case .importStarted(let start):
            if event.importId == nil { try put("importId", start.importId) }
            try put("sourceName", start.sourceName)
            try put("contentDigest", start.contentDigest.hexString)
            try put("matchBy", start.matchBy)
            try put("format", start.format)
            // The options a resumed import must be given again; null when not recorded.
            try putOptional("defaultSource", start.source)
            try putOptional("csvCells", start.csvCells?.rawValue)
        case .importFinished(let importId, let counts):
            if event.importId == nil { try put("importId", importId) }
            try put("counts", CountsOutput(
                read: counts.read, created: counts.created, updated: counts.updated, rejected: counts.rejected,
                withBlockedValues: counts.withBlockedValues))
        }
    }
}

extension KeyedEncodingContainer {
    /// Writes `value`, or `null` for nil: a key that is always present (`encodeIfPresent` leaves it out).
    mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
