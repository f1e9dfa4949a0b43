import Crypto
import Foundation

/// Decides commands against a view of the projections: validate → resolve → the events and
/// the result (behaviour §5). It writes nothing: the store commits the ``Decision`` (appends
/// and projects its events in one transaction), a dry run only returns its outcome.
///
/// A decision reads only the state before its own events, so deciding against a snapshot
/// and against the write transaction that commits it give the same decision.
struct CommandDecider<View: LedgerView> {
    let view: View
    /// The engine clock in milliseconds.
    let now: Int64

    /// Decides one command.
    func decide(_ command: Command) throws -> Decision<CommandResult> {
        let context = command.context
        // First: the limits bound the work everything after them does.
        let payload = try command.checkedPayload()
        if let eventId = context.eventId, !(1...400).contains(eventId.utf8.count) {
            throw LedgerError.invalidInput(reason: "eventId must be 1 to 400 UTF-8 bytes, got \(eventId.utf8.count)")
        }
        let digest = context.eventId.map { _ in SHA256.hash(payload) }
        if let eventId = context.eventId, let recorded = try view.command(withEventId: eventId) {
            guard recorded.digest == digest! else { throw LedgerError.eventIdConflict(eventId: eventId) }
            return Decision(events: [], outcome: try recordedResult(of: command, commandSeq: recorded.seq))
        }
        var log = try PendingLog(after: view, now: now)
        log.header.occurredAt = min(context.occurredAt?.millisecondsSince1970 ?? log.header.recordedAt, log.header.recordedAt)
        log.header.source = context.source
        log.header.eventId = context.eventId
        log.header.payloadDigest = digest
        let result: CommandResult
        switch command {
        case .identify(let command): result = try identify(command, &log)
        case .update(let command): result = try update(command, &log)
        case .merge(let command):
            log.header.actor = try Self.accountable(command.actor)
            log.header.note = command.note
            result = try merge(command, &log)
        case .detach(let command):
            log.header.actor = try Self.accountable(command.actor)
            log.header.note = command.note
            result = try detach(command, &log)
        }
        return log.decision(result)
    }

    /// The operator a manual merge or detach is recorded under: it cannot be undone, so someone
    /// must answer for it; an empty or blank actor is refused.
    private static func accountable(_ actor: String) throws(LedgerError) -> String {
        guard actor.contains(where: { !$0.isWhitespace }) else {
            throw .invalidInput(reason: "actor must name who decided (it is empty)")
        }
        return actor
    }

    // MARK: identify

    private func identify(_ command: IdentifyCommand, _ log: inout PendingLog) throws -> CommandResult {
        let schema = try view.schema()
        try schema.refuseArrays(for: command.typesGivenAsArrays)
        let identifiers = try normalizeIdentifiers(command.identifiers, access: command.access, schema: schema)
        let presented = identifiers.values
        let properties = try PropertyWrite.checked(command.properties)
        let candidates = try findCandidates(presented, schema: schema, in: view)

        var cluster = Cluster(presented: presented, schema: schema)
        let softTypes = schema.types.filter { $0.kind == .soft }.map(\.name)
        var accepted: [(candidate: Candidate, record: CustomerHoldings, guards: [GuardResult])] = []
        var declined: [(candidate: Candidate, guards: [GuardResult])] = []
        for candidate in candidates {
            // Candidates hold the command's values, so they exist and are not merged away.
            let record = CustomerHoldings(id: candidate.id, identifiers: try view.heldIdentifiers(of: candidate.id, excluding: softTypes))
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
        if !declined.isEmpty {
            if let (identifier, owner) = try firstOwnedUniqueValue(presented, schema: schema, in: view, counts: { declinedGuards[$0] != nil }) {
                throw LedgerError.duplicateUniqueIdentifier(identifier: identifier, owner: owner, guards: declinedGuards[owner]!)
            }
            if let (identifier, owner) = try firstOwnedAccessValue(presented, in: view, counts: { declinedGuards[$0] != nil }) {
                throw LedgerError.accessContactInUse(identifier: identifier, owner: owner, guards: declinedGuards[owner]!)
            }
        }
        if let error = accepted.first?.candidate.ambiguity(with: declined.map(\.candidate)) { throw error }

        // Survivor: the lowest-ID known accepted customer, else the lowest accepted.
        let created = accepted.isEmpty
        let customer: CustomerID
        if created {
            customer = CustomerID(try view.customerCount + 1)
        } else {
            let known = accepted.filter { cluster.isKnown($0.record) }
            customer = (known.isEmpty ? accepted : known).map(\.record.id).min()!
        }
        var merged: [CustomerID] = []
        var mergedAt: [(customer: CustomerID, seq: UInt64)] = []
        for absorbed in accepted.sorted(by: { $0.record.id < $1.record.id }) where absorbed.record.id != customer {
            mergedAt.append((absorbed.record.id, log.nextSeq))
            log.append(.merged(survivor: customer, absorbed: absorbed.record.id, trigger: absorbed.candidate.reaches, guards: absorbed.guards, forced: false))
            merged.append(absorbed.record.id)
        }
        let released = try softReleases(of: customer, absorbing: mergedAt, presented: presented, schema: schema, in: view)
        log.append(.identified(
            customer: customer, created: created, identifiers: presented, properties: properties,
            declined: declined.map { DeclinedCandidate(customer: $0.candidate.id, failingMask: $0.guards.failingMask) },
            released: released
        ))
        // A pair declined for the same guards before is not recorded again.
        for decline in declined where try view.isDeclineRecorded(customer, decline.candidate.id, mask: decline.guards.failingMask) == nil {
            log.append(.mergeDeclined(customer: customer, candidate: decline.candidate.id, guards: decline.guards))
        }
        var result = CommandResult(
            customer: customer, created: created, merged: merged, seq: log.written, declined: [],
            guards: [], warnings: identifiers.warnings + Warning.identifiersInProperties(properties, schema: schema)
        )
        result.listDeclined(declined.map { DeclinedResult(customer: $0.candidate.id, guards: $0.guards) })
        return result
    }

    // MARK: update

    private func update(_ command: UpdateCommand, _ log: inout PendingLog) throws -> CommandResult {
        let schema = try view.schema()
        try schema.refuseArrays(for: command.typesGivenAsArrays)
        let identifiers = try normalizeIdentifiers(command.identifiers, access: [], schema: schema)
        let presented = identifiers.values
        // An update only writes properties; without any it would log an event that says nothing.
        guard !command.properties.isEmpty else {
            throw LedgerError.invalidInput(reason: "update needs at least one property (identify is for presenting identifiers)")
        }
        let properties = try PropertyWrite.checked(command.properties)
        let candidates = try findCandidates(presented, schema: schema, in: view)
        let customer: CustomerID
        let created: Bool
        if let first = candidates.first {
            if let error = first.ambiguity(with: candidates.dropFirst()) { throw error }
            customer = first.id
            created = false
        } else {
            customer = CustomerID(try view.customerCount + 1)
            created = true
        }
        log.append(.updated(customer: customer, created: created, identifiers: presented.map(\.identifier), properties: properties))
        return CommandResult(
            customer: customer, created: created, merged: [], seq: log.written, declined: [], guards: [],
            warnings: identifiers.warnings + Warning.identifiersInProperties(properties, schema: schema)
        )
    }

    // MARK: merge

    private func merge(_ command: MergeCommand, _ log: inout PendingLog) throws -> CommandResult {
        let schema = try view.schema()
        let into = try resolveActive(command.into, schema: schema)
        let from = try resolveActive(command.from, schema: schema)
        guard into.id != from.id else { throw LedgerError.sameCustomer(customer: into.id) }
        let comparison = Cluster.compare(into, from, schema: schema)
        if command.requireGuards, !comparison.guards.allPassed { throw LedgerError.mergeBlocked(guards: comparison.guards) }
        log.append(.merged(survivor: into.id, absorbed: from.id, trigger: comparison.shared, guards: comparison.guards, forced: true))
        return CommandResult(customer: into.id, created: false, merged: [from.id], seq: log.written, declined: [], guards: comparison.guards, warnings: [])
    }

    /// A manual merge names both sides exactly: a merged customer is an error, not its survivor.
    private func resolveActive(_ ref: CustomerRef, schema: Schema) throws -> CustomerRecord {
        let record = try view.resolve(ref, schema: schema)
        if let survivor = record.survivor { throw LedgerError.customerAlreadyMerged(customer: record.id, survivor: survivor) }
        return record
    }

    // MARK: detach

    private func detach(_ command: DetachCommand, _ log: inout PendingLog) throws -> CommandResult {
        let schema = try view.schema()
        let customer = try view.current(try view.resolve(command.customer, schema: schema))
        let identifier = try schema.normalize(command.identifier)
        guard let held = customer.holds(identifier), held.access || !command.accessOnly else {
            throw LedgerError.identifierNotFound(customer: customer.id, identifier: identifier)
        }
        log.append(.detached(customer: customer.id, identifier: identifier, accessOnly: command.accessOnly))
        return CommandResult(customer: customer.id, created: false, merged: [], seq: log.written, declined: [], guards: [], warnings: [])
    }

    // MARK: schema

    /// Decides a new schema, refusing changes that stored data would break (behaviour §2.4).
    /// The outcome: the positions written, none for the schema in force.
    func decide(_ schema: Schema) throws -> Decision<[UInt64]> {
        try schema.validate()
        // The first schema of a new store replaces the default instead of following it.
        var log = try PendingLog(after: view, now: now, seedingDefaultSchema: false)
        let current = try view.schema()
        guard current != schema || log.nextSeq == 1 else { return Decision(events: [], outcome: []) }
        var conflicts: [String] = []
        for old in current.types {
            var held: [(Identifier, ValueState)] = []
            try view.forEachValue(ofType: old.name) { identifier, state in
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
        log.append(.schemaChanged(schema))
        return log.decision(log.written)
    }

    // MARK: a repeated command

    /// The result of an earlier command, rebuilt from its events (an idempotent repeat), with
    /// the warnings of the schema it ran under.
    private func recordedResult(of command: Command, commandSeq: UInt64) throws -> CommandResult {
        var result = CommandResult(customer: 0, created: false, merged: [], seq: [], declined: [], guards: [], warnings: [])
        let schema = try view.schema(after: commandSeq - 1)
        // Blocked values left no trace in the events; the command, the same one, says which they were.
        let blocked: [Warning]
        switch command {
        case .identify(let command): blocked = (try? normalizeIdentifiers(command.identifiers, access: command.access, schema: schema))?.warnings ?? []
        case .update(let command): blocked = (try? normalizeIdentifiers(command.identifiers, access: [], schema: schema))?.warnings ?? []
        case .merge, .detach: blocked = []
        }
        var seq = commandSeq
        while let event = try view.event(seq), event.commandSeq == commandSeq {
            result.seq.append(seq)
            switch event.body {
            case .identified(let customer, let created, _, let properties, let declined, _):
                result.customer = customer
                result.created = created
                result.warnings = Warning.identifiersInProperties(properties, schema: schema)
                // Listed as the first result was: the first ones, and a count of the rest.
                var listed: [DeclinedResult] = []
                for candidate in declined.prefix(CommandResult.declinedListLimit) {
                    let recorded = try view.isDeclineRecorded(customer, candidate.customer, mask: candidate.failingMask)
                    var guards: [GuardResult] = []
                    if let recorded, case .mergeDeclined(_, _, let recordedGuards)? = try view.event(recorded)?.body {
                        guards = recordedGuards
                    }
                    listed.append(DeclinedResult(customer: candidate.customer, guards: guards))
                }
                result.declined = listed
                result.declinedNotListed = declined.count - listed.count
            case .updated(let customer, let created, _, let properties):
                result.customer = customer
                result.created = created
                result.warnings = Warning.identifiersInProperties(properties, schema: schema)
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
        result.warnings = blocked + result.warnings
        return result
    }
}

extension PropertyWrite {
    /// The properties sorted by key, once each is known to be storable.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` for a value nested too deeply or a
    ///   non-finite number: both would be written but could never be read back or printed.
    static func checked(_ properties: [String: JSONValue]) throws(LedgerError) -> [PropertyWrite] {
        var writes: [PropertyWrite] = []
        for key in properties.keys.sorted() {
            let value = properties[key]!
            if let problem = value.storageProblem() { throw .invalidInput(reason: "property \"\(key)\": \(problem)") }
            writes.append(PropertyWrite(key: key, value: value))
        }
        return writes
    }
}

extension Warning {
    /// `identifierInProperties`: a property named after an identifier type whose value
    /// normalizes as that type (`update` used where `identify` was meant, behaviour §10.4).
    static func identifiersInProperties(_ properties: [PropertyWrite], schema: Schema) -> [Warning] {
        properties.compactMap { property in
            guard let type = schema.type(named: property.key),
                  identifierText(property.value).contains(where: { (try? type.normalizeValue($0)) != nil }) else { return nil }
            return Warning(
                code: "identifierInProperties",
                message: "property \"\(property.key)\" holds a value of identifier type \(type.name); it is stored as a property and never merges profiles (send it as an identifier with identify)"
            )
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
