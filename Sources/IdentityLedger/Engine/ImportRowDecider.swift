/// Decides import rows (behaviour §5.6): a row is an identify matched only by the import's
/// `matchBy` values, which updates the customer found or creates one and never merges. An
/// accepted row is one `identified` event; a rejected one none.
///
/// The batch's store commits each row's decision before the next row is decided, so a row
/// sees the rows before it.
struct ImportRowDecider<View: LedgerView> {
    /// What a row came to.
    enum Outcome {
        /// `droppedBlocked`: the row carried values the schema blocks, applied without them.
        case applied(created: Bool, droppedBlocked: Bool)
        case rejected(ImportRejection)
    }

    let view: View
    let schema: Schema
    let importId: String
    let matchBy: String
    /// The `source` of rows without their own (`nil`: `"import"`).
    var defaultSource: String? = nil
    /// `occurredAt` of rows without `at`: the import's start.
    let startedAt: Int64

    /// Decides `row`; `now` is the engine clock (read only for a row that is applied).
    func decide(_ row: ImportRow, now: () -> Int64) throws -> Decision<Outcome> {
        if let rejection = row.rejection { return Decision(events: [], outcome: .rejected(rejection)) }
        func reject(_ column: String?, _ error: LedgerError, message: String? = nil, customer: CustomerID? = nil, guards: [GuardResult]? = nil) -> Decision<Outcome> {
            Decision(events: [], outcome: .rejected(ImportRejection(
                row: row.row, line: row.line, column: column, code: error.code, message: message ?? error.description,
                customer: customer, guards: guards, input: row.input)))
        }

        // A row is an identify: the limits of a command, checked before the row is looked at.
        do throws(LedgerError) {
            _ = try Command.identify(IdentifyCommand(
                identifiers: row.identifiers.map(\.identifier), access: row.access.map(\.type), properties: row.properties,
                context: CommandContext(source: row.source ?? defaultSource)
            )).checkedPayload()
        } catch {
            // A property over its limit is the fault of its column; the row as a whole is no one's.
            let property = InputLimits.firstOversizedProperty(row.properties)?.key
            return reject(property.map(row.column(ofProperty:)), error)
        }
        do throws(LedgerError) {
            try schema.refuseArrays(for: row.typesGivenAsArrays)
        } catch {
            let type = row.typesGivenAsArrays.sorted().first { schema.type(named: $0)?.kind == .unique }
            return reject(type.map { "ids.\($0)" }, error)
        }
        let presented: [PresentedIdentifier]
        let droppedBlocked: Bool
        do throws(IdentifierProblem) {
            let identifiers = try presentedIdentifiers(row.identifiers.map(\.identifier), access: row.access.map(\.type), schema: schema)
            presented = identifiers.values
            droppedBlocked = !identifiers.blocked.isEmpty
        } catch {
            let column = error.identifier.map { row.identifiers[$0].column } ?? error.accessType.map { row.access[$0].column }
            return reject(column, error.error)
        }
        // The column each value came from; every one normalizes, as `presented` shows.
        var columns: [Identifier: String] = [:]
        for value in row.identifiers {
            if let normalized = try? schema.normalize(value.identifier) { columns[normalized] = value.column }
        }

        var occurredAt = startedAt
        if let at = row.at {
            guard let ms = parseTimestampMilliseconds(at) else {
                return reject("at", .invalidInput(reason: "\(LedgerError.quoted(at)) is not an ISO 8601 time"))
            }
            occurredAt = ms
        }

        // Match by the matchBy values only.
        var matched: [CustomerID] = []
        let matchValues = presented.filter { $0.identifier.type == matchBy }.map(\.identifier)
        for value in matchValues {
            let holders = try view.holders(of: value).map(\.customer)
            guard !holders.isEmpty else { continue }
            let owner: CustomerID?
            switch schema.type(named: matchBy)?.kind {
            case .unique?: owner = holders[0]
            case .contact?: owner = try view.accessOwner(of: value) ?? (holders.count == 1 ? holders[0] : nil)
            default: owner = holders.count == 1 ? holders[0] : nil
            }
            guard let owner else { return reject(columns[value], .ambiguousCustomer(identifier: value, candidates: holders)) }
            if !matched.contains(owner) { matched.append(owner) }
        }
        if matched.count > 1 {
            return reject(columns[matchValues[0]], .ambiguousCustomer(identifier: matchValues[0], candidates: matched),
                          message: "the \(matchBy) values of the row match customers \(matched.map(String.init).joined(separator: ", "))")
        }
        let target = try matched.first.map { try view.current(try view.existingCustomer($0)) }
        if let target {
            let guards = Cluster(presented: presented, schema: schema)
                .evaluate(target, reachedOnlyBySoft: false)
                .filter { $0.guard != .softIdOnly }
            if !guards.allPassed {
                let details = guards.filter { !$0.passed }.map { "\($0.guard.rawValue): \($0.detail)" }
                return reject(columns[matchValues[0]], .mergeBlocked(guards: guards),
                              message: "the row matches customer \(target.id) by \(matchBy) but " + details.joined(separator: "; "),
                              customer: target.id, guards: guards)
            }
        }
        // Imports never merge: a value owned by any other customer refuses the row.
        if let (identifier, owner) = try firstOwnedUniqueValue(presented, schema: schema, in: view, counts: { $0 != target?.id }) {
            return reject(columns[identifier], .duplicateUniqueIdentifier(identifier: identifier, owner: owner, guards: []),
                          message: "\(identifier) already belongs to customer \(owner); an import never merges (match by \(identifier.type) to update that customer)",
                          customer: owner)
        }
        if let (identifier, owner) = try firstOwnedAccessValue(presented, in: view, counts: { $0 != target?.id }) {
            return reject(columns[identifier], .accessContactInUse(identifier: identifier, owner: owner, guards: []),
                          message: "\(identifier) already grants access to customer \(owner); an import never merges",
                          customer: owner)
        }

        let properties: [PropertyWrite]
        do throws(LedgerError) {
            properties = try PropertyWrite.checked(row.properties)
        } catch {
            // The first property (by key) that cannot be stored is the one refused.
            let property = row.properties.keys.sorted().first { row.properties[$0]!.storageProblem() != nil }
            return reject(property.map(row.column(ofProperty:)), error)
        }
        let created = target == nil
        let customer = try target?.id ?? CustomerID(view.customerCount + 1)
        var log = try PendingLog(after: view, now: now())
        let recordedAt = log.header.recordedAt
        log.beginCommand(PendingLog.Header(
            recordedAt: recordedAt, occurredAt: min(occurredAt, recordedAt), source: row.source ?? defaultSource ?? "import",
            importId: importId, row: row.row, droppedBlocked: droppedBlocked
        ))
        let released = try softReleases(of: customer, presented: presented, schema: schema, in: view)
        log.append(.identified(customer: customer, created: created, identifiers: presented, properties: properties, declined: [], released: released))
        return log.decision(.applied(created: created, droppedBlocked: droppedBlocked))
    }
}

/// The events that open and close an import.
enum ImportDecisions {
    static func start(_ start: ImportStart, in view: some LedgerView, now: Int64) throws -> Decision<Void> {
        var log = try PendingLog(after: view, now: now)
        log.header.importId = start.importId
        log.append(.importStarted(start))
        return log.decision(())
    }

    static func finish(_ importId: String, counts: ImportCounts, in view: some LedgerView, now: Int64) throws -> Decision<Void> {
        var log = try PendingLog(after: view, now: now)
        log.header.importId = importId
        log.append(.importFinished(importId: importId, counts: counts))
        return log.decision(())
    }
}
