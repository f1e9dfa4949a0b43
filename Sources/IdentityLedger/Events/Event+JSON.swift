import Foundation

// The JSON of events and of the pieces they carry (behaviour §9.4): written once, here, for
// the command-line tool (`log`, `history`, `explain`) and for the library's subject report.
// Keys are sorted by the encoder; fields may be added, never renamed.

package struct IdentifierOutput: Encodable {
    package var type: String
    package var value: String

    package init(_ identifier: Identifier) {
        type = identifier.type
        value = identifier.value
    }
}

package struct HeldIdentifierOutput: Encodable {
    package var type: String
    package var value: String
    package var access: Bool
    /// The log position at which the customer (or one merged into it) got the value (behaviour §3).
    package var since: UInt64
    /// The engine's time of that position; written by reports that give it (a subject report).
    package var sinceAt: String?

    package init(_ held: HeldIdentifier, sinceAt: String? = nil) {
        type = held.type
        value = held.value
        access = held.access
        since = held.since
        self.sinceAt = sinceAt
    }
}

/// One `log` line: the envelope (`seq`, `commandSeq`, `kind`, `recordedAt`, `occurredAt`,
/// `source`, `eventId`, `actor`, `note`, and `importId`/`row` when set) and the body's
/// fields beside it.
package struct EventOutput: Encodable {
    package let event: Event

    package init(_ event: Event) { self.event = event }

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

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        func put<T: Encodable>(_ key: String, _ value: T) throws { try c.encode(value, forKey: Key(key)) }
        func putOptional(_ key: String, _ value: String?) throws {
            try c.encodeOrNull(value, forKey: Key(key))
        }

        try put("seq", event.seq)
        try put("commandSeq", event.commandSeq)
        try put("kind", event.kind)
        try put("recordedAt", formatTimestamp(milliseconds: event.recordedAt))
        try put("occurredAt", formatTimestamp(milliseconds: event.occurredAt))
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
            try put("guards", guards)
            try put("forced", forced)
        case .mergeDeclined(let customer, let candidate, let guards):
            try put("customer", customer)
            try put("candidate", candidate)
            try put("guards", guards)
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
    package mutating func encodeOrNull<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
