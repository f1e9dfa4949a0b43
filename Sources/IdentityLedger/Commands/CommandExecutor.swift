import Foundation
import LMDB

/// Runs commands inside one write transaction: validate → resolve (read the
/// projections) → events → append and project. Any throw aborts the transaction,
/// so a failed command writes nothing.
struct CommandExecutor {
    let txn: WriteTransaction
    let db: Databases
    private var reader: ProjectionReader { ProjectionReader(txn: txn, db: db) }

    /// Runs one command; `now` is the engine clock in milliseconds.
    func run(_ command: Command, now: Int64, actor: String? = nil) throws -> CommandResult {
        let context = command.context
        // First: the limits bound the work everything after them does.
        let payload = try command.checkedPayload()
        if let eventId = context.eventId, !(1...400).contains(eventId.utf8.count) {
            throw LedgerError.invalidInput(reason: "eventId must be 1 to 400 UTF-8 bytes, got \(eventId.utf8.count)")
        }
        let digest = context.eventId.map { _ in SHA256.hash(payload) }
        if let eventId = context.eventId, let bytes = try txn.get(db.eventIds, key: Array(eventId.utf8)) {
            var r = BinaryReader(bytes)
            guard try r.readRaw() == digest! else { throw LedgerError.eventIdConflict(eventId: eventId) }
            return try replayResult(commandSeq: try r.readUInt64())
        }
        var log = try appender(now: now)
        log.header.occurredAt = min(context.occurredAt?.millisecondsSince1970 ?? log.header.recordedAt, log.header.recordedAt)
        log.header.source = context.source
        log.header.eventId = context.eventId
        log.header.payloadDigest = digest
        switch command {
        case .identify(let command): return try identify(command, &log)
        case .update(let command): return try update(command, &log)
        case .merge(let command):
            log.header.actor = try Self.accountable(command.actor)
            log.header.note = command.note
            return try merge(command, &log)
        case .detach(let command):
            log.header.actor = try Self.accountable(command.actor)
            log.header.note = command.note
            return try detach(command, &log)
        }
    }

    /// The operator a manual merge or detach is recorded under: it cannot be undone, so someone
    /// must answer for it; an empty or blank actor is refused.
    private static func accountable(_ actor: String) throws(LedgerError) -> String {
        guard actor.contains(where: { !$0.isWhitespace }) else {
            throw .invalidInput(reason: "actor must name who decided (it is empty)")
        }
        return actor
    }

    /// An appender positioned after the last event, with a clock that never goes back.
    /// A store's first write records the default schema first.
    func appender(now: Int64, seedDefaultSchema: Bool = true) throws -> EventAppender {
        let last = try reader.lastPosition()
        let recordedAt = max(now, last?.recordedAt ?? now)
        let header = EventAppender.Header(recordedAt: recordedAt, occurredAt: recordedAt)
        var log = EventAppender(txn: txn, db: db, nextSeq: (last?.seq ?? 0) + 1, header: header)
        if last == nil, seedDefaultSchema {
            try log.append(.schemaChanged(.default))
            log.beginCommand(header)
        }
        return log
    }

    // MARK: identify

    private func identify(_ command: IdentifyCommand, _ log: inout EventAppender) throws -> CommandResult {
        let schema = try reader.schema()
        try schema.refuseArrays(for: command.typesGivenAsArrays)
        let presented = try normalizeIdentifiers(command.identifiers, access: command.access, schema: schema)
        let properties = try Self.propertyWrites(command.properties)
        let candidates = try findCandidates(presented, schema: schema, reader: reader)

        var cluster = Cluster(presented: presented, schema: schema)
        let softTypes = schema.types.filter { $0.kind == .soft }.map(\.name)
        var accepted: [(candidate: Candidate, record: CustomerHoldings, guards: [GuardResult])] = []
        var declined: [(candidate: Candidate, guards: [GuardResult])] = []
        for candidate in candidates {
            // Candidates hold the command's values, so they exist and are not merged away.
            let record = CustomerHoldings(id: candidate.id, identifiers: try reader.heldIdentifiers(of: candidate.id, excluding: softTypes))
            let guards = cluster.evaluate(record, reachedOnlyBySoft: candidate.reachedOnlyBySoft, reachedBy: candidate.reaches)
            if guards.allPassed {
                cluster.accept(record)
                accepted.append((candidate, record, guards))
            } else {
                declined.append((candidate, guards))
            }
        }
        let declinedGuards = Dictionary(declined.map { ($0.candidate.id, $0.guards) }, uniquingKeysWith: { first, _ in first })

        // Errors, in the order of behaviour §5.1 step 4; each names a declined owner.
        for value in presented where !declined.isEmpty && schema.type(named: value.identifier.type)?.kind == .unique {
            if let owner = try reader.holders(of: value.identifier).first?.customer, let guards = declinedGuards[owner] {
                throw LedgerError.duplicateUniqueIdentifier(identifier: value.identifier, owner: owner, guards: guards)
            }
        }
        for value in presented where !declined.isEmpty && value.access {
            if let owner = try reader.accessOwner(of: value.identifier), let guards = declinedGuards[owner] {
                throw LedgerError.accessContactInUse(identifier: value.identifier, owner: owner, guards: guards)
            }
        }
        if let first = accepted.first?.candidate, !first.decisive {
            for other in declined {
                if let shared = first.reaches.first(where: other.candidate.reaches.contains) {
                    throw LedgerError.ambiguousCustomer(identifier: shared, candidates: [first.id, other.candidate.id].sorted())
                }
            }
        }

        // Survivor: the lowest-ID known accepted customer, else the lowest accepted.
        let created = accepted.isEmpty
        let customer: CustomerID
        if created {
            customer = CustomerID(try reader.customerCount + 1)
        } else {
            let known = accepted.filter { cluster.isKnown($0.record) }
            customer = (known.isEmpty ? accepted : known).map(\.record.id).min()!
        }
        var merged: [CustomerID] = []
        for absorbed in accepted.sorted(by: { $0.record.id < $1.record.id }) where absorbed.record.id != customer {
            try log.append(.merged(survivor: customer, absorbed: absorbed.record.id, trigger: absorbed.candidate.reaches, guards: absorbed.guards, forced: false))
            merged.append(absorbed.record.id)
        }
        try log.append(.identified(
            customer: customer, created: created, identifiers: presented, properties: properties,
            declined: declined.map { DeclinedCandidate(customer: $0.candidate.id, failingMask: $0.guards.failingMask) }
        ))
        for decline in declined where try reader.isDeclineRecorded(customer, decline.candidate.id, mask: decline.guards.failingMask) == nil {
            try log.append(.mergeDeclined(customer: customer, candidate: decline.candidate.id, guards: decline.guards))
        }
        var result = CommandResult(
            customer: customer, created: created, merged: merged, seq: log.written, declined: [],
            guards: [], warnings: Self.warnings(for: properties, schema: schema)
        )
        result.listDeclined(declined.map { DeclinedResult(customer: $0.candidate.id, guards: $0.guards) })
        return result
    }

    // MARK: update

    private func update(_ command: UpdateCommand, _ log: inout EventAppender) throws -> CommandResult {
        let schema = try reader.schema()
        try schema.refuseArrays(for: command.typesGivenAsArrays)
        let presented = try normalizeIdentifiers(command.identifiers, access: [], schema: schema)
        // An update only writes properties; without any it would log an event that says nothing.
        guard !command.properties.isEmpty else {
            throw LedgerError.invalidInput(reason: "update needs at least one property (identify is for presenting identifiers)")
        }
        let properties = try Self.propertyWrites(command.properties)
        let candidates = try findCandidates(presented, schema: schema, reader: reader)
        let customer: CustomerID
        let created: Bool
        if let first = candidates.first {
            if !first.decisive, let other = candidates.dropFirst().first(where: { $0.reaches.contains(where: first.reaches.contains) }) {
                let shared = first.reaches.first(where: other.reaches.contains)!
                throw LedgerError.ambiguousCustomer(identifier: shared, candidates: [first.id, other.id].sorted())
            }
            customer = first.id
            created = false
        } else {
            customer = CustomerID(try reader.customerCount + 1)
            created = true
        }
        try log.append(.updated(customer: customer, created: created, identifiers: presented.map(\.identifier), properties: properties))
        return CommandResult(
            customer: customer, created: created, merged: [], seq: log.written, declined: [], guards: [],
            warnings: Self.warnings(for: properties, schema: schema)
        )
    }

    // MARK: merge

    private func merge(_ command: MergeCommand, _ log: inout EventAppender) throws -> CommandResult {
        let schema = try reader.schema()
        let into = try resolveActive(command.into, schema: schema)
        let from = try resolveActive(command.from, schema: schema)
        guard into.id != from.id else { throw LedgerError.sameCustomer(customer: into.id) }
        let shared = from.identifiers.filter { into.holds($0.identifier) != nil }.map(\.identifier)
        let onlySoft = !shared.isEmpty && shared.allSatisfy { schema.type(named: $0.type)?.kind == .soft }
        let guards = Cluster(customer: into, schema: schema).evaluate(from, reachedOnlyBySoft: onlySoft, reachedBy: shared)
        if command.requireGuards, !guards.allPassed { throw LedgerError.mergeBlocked(guards: guards) }
        try log.append(.merged(survivor: into.id, absorbed: from.id, trigger: shared, guards: guards, forced: true))
        return CommandResult(customer: into.id, created: false, merged: [from.id], seq: log.written, declined: [], guards: guards, warnings: [])
    }

    /// A manual merge names both sides exactly: a merged customer is an error, not its survivor.
    private func resolveActive(_ ref: CustomerRef, schema: Schema) throws -> CustomerRecord {
        let record = try resolve(ref, schema: schema)
        if let survivor = record.survivor { throw LedgerError.customerAlreadyMerged(customer: record.id, survivor: survivor) }
        return record
    }

    // MARK: detach

    private func detach(_ command: DetachCommand, _ log: inout EventAppender) throws -> CommandResult {
        let schema = try reader.schema()
        let record = try resolve(command.customer, schema: schema)
        let customer = try record.survivor.map(reader.existingCustomer) ?? record
        guard let type = schema.type(named: command.identifier.type) else {
            throw LedgerError.unknownIdentifierType(type: command.identifier.type)
        }
        let identifier = Identifier(type: type.name, value: try type.normalizeValue(command.identifier.value))
        guard let held = customer.holds(identifier), held.access || !command.accessOnly else {
            throw LedgerError.identifierNotFound(customer: customer.id, identifier: identifier)
        }
        try log.append(.detached(customer: customer.id, identifier: identifier, accessOnly: command.accessOnly))
        return CommandResult(customer: customer.id, created: false, merged: [], seq: log.written, declined: [], guards: [], warnings: [])
    }

    /// The customer a reference names: an ID (merged or not), or a value held by exactly one customer.
    func resolve(_ ref: CustomerRef, schema: Schema) throws -> CustomerRecord {
        try reader.resolve(ref, schema: schema)
    }

    // MARK: schema

    /// Records a new schema, refusing changes that stored data would break (behaviour §2.4).
    func setSchema(_ schema: Schema, now: Int64) throws -> [UInt64] {
        try schema.validate()
        // The first schema of a new store replaces the default instead of following it.
        var log = try appender(now: now, seedDefaultSchema: false)
        let current = try reader.schema()
        guard current != schema || log.nextSeq == 1 else { return [] }
        var conflicts: [String] = []
        for old in current.types {
            var held: [(Identifier, ValueState)] = []
            try reader.forEachValue(ofType: old.name) { identifier, state in
                held.append((identifier, state))
                return true
            }
            guard let (example, exampleState) = held.first else { continue }
            let owner = exampleState.holders[0].customer
            guard let new = schema.type(named: old.name) else {
                conflicts.append("type \(old.name) is removed but holds values (e.g. \(example) on customer \(owner))")
                continue
            }
            if new.normalize != old.normalize || new.defaultCallingCode != old.defaultCallingCode {
                conflicts.append("type \(old.name) changes normalization from \(old.normalize.rawValue) to \(new.normalize.rawValue) but holds values (e.g. \(example))")
            }
            if new.kind != old.kind {
                if old.kind == .contact, new.kind == .unique {
                    let shared = held.filter { $0.1.holders.count > 1 }.prefix(20).map(\.0.description)
                    if !shared.isEmpty {
                        conflicts.append("type \(old.name) becomes unique but these values are shared: " + shared.joined(separator: ", "))
                    }
                } else {
                    conflicts.append("type \(old.name) changes kind from \(old.kind.rawValue) to \(new.kind.rawValue) but holds values (e.g. \(example))")
                }
            }
            if old.canGrantAccess, !new.canGrantAccess {
                let flagged = held.compactMap { identifier, state in state.accessOwner.map { "\(identifier) on customer \($0)" } }.prefix(20)
                if !flagged.isEmpty {
                    conflicts.append("type \(old.name) can no longer grant access but these values are flagged: " + flagged.joined(separator: ", "))
                }
            }
        }
        if !conflicts.isEmpty { throw LedgerError.schemaConflict(conflicts: conflicts) }
        try log.append(.schemaChanged(schema))
        return log.written
    }

    // MARK: helpers

    /// The properties sorted by key, once each is known to be storable.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` for a value nested too deeply or a
    ///   non-finite number: both would be written but could never be read back or printed.
    static func propertyWrites(_ properties: [String: JSONValue]) throws(LedgerError) -> [PropertyWrite] {
        var writes: [PropertyWrite] = []
        for key in properties.keys.sorted() {
            let value = properties[key]!
            if let problem = value.storageProblem() { throw .invalidInput(reason: "property \"\(key)\": \(problem)") }
            writes.append(PropertyWrite(key: key, value: value))
        }
        return writes
    }

    /// `identifierInProperties`: a property named after an identifier type whose value
    /// normalizes as that type (`update` used where `identify` was meant, behaviour §10.4).
    static func warnings(for properties: [PropertyWrite], schema: Schema) -> [Warning] {
        properties.compactMap { property in
            guard let type = schema.type(named: property.key),
                  identifierText(property.value).contains(where: { (try? type.normalizeValue($0)) != nil }) else { return nil }
            return Warning(
                code: "identifierInProperties",
                message: "property \"\(property.key)\" holds a value of identifier type \(type.name); it is stored as a property and never merges profiles (send it as an identifier with identify)"
            )
        }
    }

    /// The result of an earlier command, rebuilt from its events (for an idempotent repeat).
    private func replayResult(commandSeq: UInt64) throws -> CommandResult {
        var result = CommandResult(customer: 0, created: false, merged: [], seq: [], declined: [], guards: [], warnings: [])
        let schema = try reader.schema()
        var seq = commandSeq
        while let event = try reader.event(seq), event.commandSeq == commandSeq {
            result.seq.append(seq)
            switch event.body {
            case .identified(let customer, let created, _, let properties, let declined):
                result.customer = customer
                result.created = created
                result.warnings = Self.warnings(for: properties, schema: schema)
                // Listed as the first result was: the first ones, and a count of the rest.
                var listed: [DeclinedResult] = []
                for candidate in declined.prefix(CommandResult.declinedListLimit) {
                    let recorded = try reader.isDeclineRecorded(customer, candidate.customer, mask: candidate.failingMask)
                    var guards: [GuardResult] = []
                    if let recorded, case .mergeDeclined(_, _, let recordedGuards)? = try reader.event(recorded)?.body {
                        guards = recordedGuards
                    }
                    listed.append(DeclinedResult(customer: candidate.customer, guards: guards))
                }
                result.declined = listed
                result.declinedNotListed = declined.count - listed.count
            case .updated(let customer, let created, _, let properties):
                result.customer = customer
                result.created = created
                result.warnings = Self.warnings(for: properties, schema: schema)
            case .merged(let survivor, let absorbed, _, let guards, let forced):
                result.customer = survivor
                result.merged.append(absorbed)
                if forced { result.guards = guards }
            case .detached(let customer, _, _):
                result.customer = customer
            case .mergeDeclined, .schemaChanged, .importStarted, .importFinished:
                break
            }
            seq += 1
        }
        return result
    }
}

extension ProjectionReader {
    /// The customer a reference names: an ID (merged or not), or a normalized value
    /// held by exactly one customer.
    func resolve(_ ref: CustomerRef, schema: Schema) throws -> CustomerRecord {
        switch ref {
        case .id(let id):
            return try existingCustomer(id)
        case .identifier(let raw):
            guard let type = schema.type(named: raw.type) else { throw LedgerError.unknownIdentifierType(type: raw.type) }
            let identifier = Identifier(type: type.name, value: try type.normalizeValue(raw.value))
            let holders = try holders(of: identifier).map(\.customer)
            guard let first = holders.first else { throw LedgerError.customerNotFound(reference: identifier.description) }
            guard holders.count == 1 else { throw LedgerError.ambiguousCustomer(identifier: identifier, candidates: holders) }
            return try existingCustomer(first)
        }
    }
}

/// The texts an integration may have meant as identifier values: a string, a whole
/// number (numeric IDs are often sent as JSON numbers), or an array of them.
func identifierText(_ value: JSONValue) -> [String] {
    switch value {
    case .string(let text): [text]
    case .int(let number): [String(number)]
    case .array(let values): values.flatMap(identifierText)
    default: []
    }
}
