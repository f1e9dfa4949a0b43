/// Two active customers that share a contact or soft value, and what keeps them apart.
public struct DuplicatePair: Sendable, Hashable {
    public var a: CustomerID
    public var b: CustomerID
    public var shared: [Identifier]
    /// All three guards, as ``Ledger/explain(_:_:)`` evaluates them.
    public var guards: [GuardResult]
}

/// The settings to review when duplicate profiles keep appearing (behaviour §6.5).
public struct ConfigurationAudit: Sendable, Hashable {
    /// Unique types with `blockMergeOnConflict` ("Do not merge customers with different IDs").
    public var blockingTypes: [String]
    /// Types whose values may grant access to the account.
    public var accessTypes: [String]
    public var schema: Schema
}

/// Integration data quality (behaviour §6.5, §10.4): identifiers sent as properties, and traffic by source.
public struct QualityAudit: Sendable, Hashable {
    public struct Finding: Sendable, Hashable {
        public var seq: UInt64
        public var customer: CustomerID
        public var key: String
        public var value: String
        public var source: String?
    }

    /// Properties named after an identifier type holding a valid value of it.
    public var identifierInProperties: [Finding]
    /// Events by `source` (`""` for none).
    public var eventsBySource: [String: Int]
    /// `identifierInProperties` findings by source.
    public var findingsBySource: [String: Int]
}

/// A stored value that junk protection sets apart (behaviour §2.5, §2.7): shared past its
/// type's `maxHolders`, or blocked by the schema in force.
public struct JunkValue: Sendable, Hashable {
    public enum Reason: String, Sendable, Hashable, Codable {
        /// Held by at least its type's ``IdentifierType/maxHolders`` active customers: no match path.
        case sharedValue
        /// A value the schema blocks now (``IdentifierType/blockedValues``,
        /// ``IdentifierType/blockedPatterns``), stored before the block: it stays, and no longer matches.
        case blockedValue
    }

    public var identifier: Identifier
    public var reason: Reason
    /// The active customers holding it.
    public var holders: Int
}

extension Ledger {
    /// Pairs of active customers sharing a contact or soft value, each with the guard results
    /// that keep it apart (or that show the next matching command would merge it).
    /// A value held by very many customers contributes pairs among its first `holdersPerValue`.
    public func auditDuplicates(holdersPerValue: Int = 50) throws(LedgerError) -> [DuplicatePair] {
        try snapshot { reader in
            let schema = try reader.schema()
            var pairs: [Pair: [Identifier]] = [:]
            try reader.forEachValue { identifier, state in
                guard schema.type(named: identifier.type)?.kind != .unique, state.holders.count > 1 else { return true }
                let ids = state.holders.prefix(holdersPerValue).map(\.customer)
                for (i, x) in ids.enumerated() {
                    for y in ids[(i + 1)...] { pairs[Pair(a: x, b: y), default: []].append(identifier) }
                }
                return true
            }
            return try pairs.keys.sorted().map { pair in
                let comparison = Cluster.compare(try reader.existingCustomer(pair.a), try reader.existingCustomer(pair.b), schema: schema)
                return DuplicatePair(a: pair.a, b: pair.b, shared: comparison.shared, guards: comparison.guards)
            }
        }
    }

    /// The stored values that junk protection sets apart: values shared past their type's
    /// `maxHolders`, and values the schema in force blocks, each with its holder count; in
    /// schema order, then by value. A value both shared and blocked is listed as blocked.
    public func auditJunkValues() throws(LedgerError) -> [JunkValue] {
        try snapshot { reader in
            let schema = try reader.schema()
            var found: [(priority: Int, value: JunkValue)] = []
            try reader.forEachValue { identifier, state in
                guard !state.holders.isEmpty, let type = schema.type(named: identifier.type),
                      let priority = schema.priority(of: type.name) else { return true }
                let reason: JunkValue.Reason? = type.isBlocked(identifier.value) ? .blockedValue
                    : type.holderCutoff.map { state.holders.count >= $0 } == true ? .sharedValue : nil
                if let reason { found.append((priority, JunkValue(identifier: identifier, reason: reason, holders: state.holders.count))) }
                return true
            }
            return found.sorted { ($0.priority, $0.value.identifier.value) < ($1.priority, $1.value.identifier.value) }.map(\.value)
        }
    }

    /// Which types block merges on conflict and which can grant access.
    public func auditConfiguration() throws(LedgerError) -> ConfigurationAudit {
        let schema = try schema()
        return ConfigurationAudit(
            blockingTypes: schema.types.filter(\.blockMergeOnConflict).map(\.name),
            accessTypes: schema.types.filter(\.canGrantAccess).map(\.name),
            schema: schema
        )
    }

    /// Scans the log for identifiers sent as properties, and counts events by source.
    public func auditQuality() throws(LedgerError) -> QualityAudit {
        try snapshot { reader in
            var audit = QualityAudit(identifierInProperties: [], eventsBySource: [:], findingsBySource: [:])
            var schema = Schema.default
            try reader.forEachEvent { event in
                audit.eventsBySource[event.source ?? "", default: 0] += 1
                let customer: CustomerID
                let properties: [PropertyWrite]
                switch event.body {
                case .schemaChanged(let newSchema):
                    schema = newSchema // judge each event by the schema in force then
                    return true
                case .identified(let id, _, _, let written, _, _), .updated(let id, _, _, let written):
                    customer = id
                    properties = written
                default:
                    return true
                }
                for property in properties where !Warning.identifiersInProperties([property], schema: schema).isEmpty {
                    audit.identifierInProperties.append(.init(
                        seq: event.seq, customer: customer, key: property.key,
                        value: identifierText(property.value).joined(separator: ", "), source: event.source
                    ))
                    audit.findingsBySource[event.source ?? "", default: 0] += 1
                }
                return true
            }
            return audit
        }
    }
}

private struct Pair: Hashable, Comparable {
    var a: CustomerID
    var b: CustomerID
    static func < (lhs: Pair, rhs: Pair) -> Bool { (lhs.a, lhs.b) < (rhs.a, rhs.b) }
}
