import LMDB

/// Checks rows against the store and appends one `identified` event per accepted row,
/// inside the write transaction of a batch (behaviour §5.6).
///
/// Row atomicity comes from validating everything before appending: a row's only
/// write is its single event (and that event's projection), so a rejected row has
/// written nothing, and an accepted row cannot stop half-way short of a storage error,
/// which aborts the whole batch. That is why no nested LMDB transaction is needed.
struct ImportRowApplier {
    enum Outcome {
        case applied(created: Bool)
        case rejected(ImportRejection)
    }

    let reader: ProjectionReader
    let schema: Schema
    let importId: String
    let matchBy: String
    /// `occurredAt` of rows without `at`: the import's start.
    let startedAt: Int64

    /// Checks `row` and, if it is accepted, appends its event to `log`, opening it with
    /// `open` first if it is `nil` (so that a batch without accepted rows reads no clock).
    func apply(_ row: ImportRow, to log: inout EventAppender?, open: () throws -> EventAppender) throws -> Outcome {
        if let rejection = row.rejection { return .rejected(rejection) }
        func reject(_ column: String?, _ code: String, _ message: String, customer: CustomerID? = nil, guards: [GuardResult]? = nil) -> Outcome {
            .rejected(ImportRejection(row: row.row, line: row.line, column: column, code: code, message: message, customer: customer, guards: guards))
        }

        // A row is an identify: the limits of a command, checked before the row is looked at.
        do throws(LedgerError) {
            _ = try Command.identify(IdentifyCommand(
                identifiers: row.identifiers.map(\.identifier), access: row.access.map(\.type), properties: row.properties,
                context: CommandContext(source: row.source)
            )).checkedPayload()
        } catch {
            // A property over its limit is the fault of its column; the row as a whole is no one's.
            let property = InputLimits.firstOversizedProperty(row.properties)?.key
            return reject(property.map(row.column(ofProperty:)), error.code, error.description)
        }
        do throws(LedgerError) {
            try schema.refuseArrays(for: row.typesGivenAsArrays)
        } catch {
            let type = row.typesGivenAsArrays.sorted().first { schema.type(named: $0)?.kind == .unique }
            return reject(type.map { "ids.\($0)" }, error.code, error.description)
        }

        var accessTypes: [String] = []
        for (column, name) in row.access {
            guard let type = schema.type(named: name) else {
                return reject(column, "unknownIdentifierType", LedgerError.unknownIdentifierType(type: name).description)
            }
            guard type.mayGrantAccess else {
                return reject(column, "accessNotAllowedForType", LedgerError.accessNotAllowedForType(type: name).description)
            }
            accessTypes.append(type.name)
        }
        // Normalize value by value first, so that an invalid value is reported with its column.
        var columns: [Identifier: String] = [:]
        for value in row.identifiers {
            guard let type = schema.type(named: value.identifier.type) else {
                return reject(value.column, "unknownIdentifierType", LedgerError.unknownIdentifierType(type: value.identifier.type).description)
            }
            do throws(LedgerError) {
                columns[Identifier(type: type.name, value: try type.normalizeValue(value.identifier.value))] = value.column
            } catch {
                return reject(value.column, error.code, error.description)
            }
        }
        let presented: [PresentedIdentifier]
        do throws(LedgerError) {
            presented = try normalizeIdentifiers(row.identifiers.map(\.identifier), access: accessTypes, schema: schema)
        } catch {
            var column: String?
            if case .multipleValuesForUniqueType(let type, _) = error {
                column = row.identifiers.first { $0.identifier.type == type }?.column
            }
            return reject(column, error.code, error.description)
        }
        func column(of identifier: Identifier) -> String? { columns[identifier] }

        var occurredAt = startedAt
        if let at = row.at {
            guard let ms = parseTimestampMilliseconds(at) else {
                return reject("at", "invalidInput", "\(LedgerError.quoted(at)) is not an ISO 8601 time")
            }
            occurredAt = ms
        }

        // Match by the matchBy values only (behaviour §5.6).
        var matched: [CustomerID] = []
        let matchValues = presented.filter { $0.identifier.type == matchBy }.map(\.identifier)
        for value in matchValues {
            let holders = try reader.holders(of: value).map(\.customer)
            guard !holders.isEmpty else { continue }
            let owner: CustomerID?
            switch schema.type(named: matchBy)?.kind {
            case .unique?: owner = holders[0]
            case .contact?: owner = try reader.accessOwner(of: value) ?? (holders.count == 1 ? holders[0] : nil)
            default: owner = holders.count == 1 ? holders[0] : nil
            }
            guard let owner else {
                return reject(column(of: value), "ambiguousCustomer", LedgerError.ambiguousCustomer(identifier: value, candidates: holders).description)
            }
            if !matched.contains(owner) { matched.append(owner) }
        }
        if matched.count > 1 {
            return reject(column(of: matchValues[0]), "ambiguousCustomer",
                          "the \(matchBy) values of the row match customers \(matched.map(String.init).joined(separator: ", "))")
        }
        var target: CustomerRecord?
        if let id = matched.first {
            let record = try reader.existingCustomer(id)
            target = try record.survivor.map(reader.existingCustomer) ?? record
        }
        if let target {
            let guards = Cluster(presented: presented, schema: schema)
                .evaluate(target, reachedOnlyBySoft: false)
                .filter { $0.guard != .softIdOnly }
            if !guards.allPassed {
                let details = guards.filter { !$0.passed }.map { "\($0.guard.rawValue): \($0.detail)" }
                return reject(column(of: matchValues[0]), "mergeBlocked",
                              "the row matches customer \(target.id) by \(matchBy) but " + details.joined(separator: "; "),
                              customer: target.id, guards: guards)
            }
        }
        // Imports never merge: a value owned by any other customer refuses the row.
        for value in presented where schema.type(named: value.identifier.type)?.kind == .unique {
            if let owner = try reader.holders(of: value.identifier).first?.customer, owner != target?.id {
                return reject(column(of: value.identifier), "duplicateUniqueIdentifier",
                              "\(value.identifier) already belongs to customer \(owner); an import never merges (match by \(value.identifier.type) to update that customer)",
                              customer: owner)
            }
        }
        for value in presented where value.access {
            if let owner = try reader.accessOwner(of: value.identifier), owner != target?.id {
                return reject(column(of: value.identifier), "accessContactInUse",
                              "\(value.identifier) already grants access to customer \(owner); an import never merges",
                              customer: owner)
            }
        }

        let properties: [PropertyWrite]
        do throws(LedgerError) {
            properties = try CommandExecutor.propertyWrites(row.properties)
        } catch {
            // The first property (by key) that cannot be stored is the one refused.
            let property = row.properties.keys.sorted().first { row.properties[$0]!.storageProblem() != nil }
            return reject(property.map(row.column(ofProperty:)), error.code, error.description)
        }
        let created = target == nil
        let customer = try target?.id ?? CustomerID(reader.customerCount + 1)
        if log == nil { log = try open() }
        let recordedAt = log!.header.recordedAt
        log!.beginCommand(EventAppender.Header(
            recordedAt: recordedAt, occurredAt: min(occurredAt, recordedAt), source: row.source ?? "import",
            importId: importId, row: row.row
        ))
        try log!.append(.identified(
            customer: customer, created: created, identifiers: presented,
            properties: properties, declined: []
        ))
        return .applied(created: created)
    }
}
