/// A command's identifiers as the engine takes them.
struct PresentedIdentifiers {
    /// The values it resolves with, in schema priority order, values of one type in
    /// normalized byte order.
    var values: [PresentedIdentifier]
    /// The values the schema blocks (``IdentifierType/blockedValues``, ``IdentifierType/blockedPatterns``),
    /// dropped before resolution, in the order given.
    var blocked: [Identifier]

    /// A `blockedIdentifier` warning per dropped value.
    var warnings: [Warning] {
        blocked.map { Warning(code: "blockedIdentifier", message: "\($0) is blocked by the schema and was dropped; it identifies no one") }
    }
}

/// Validates and normalizes a command's identifiers: known types, valid values,
/// access only where the type allows it, one value per unique type; blocked values are
/// dropped, and a command left with none is `noIdentifiers` naming them.
func normalizeIdentifiers(
    _ raw: [Identifier], access: [String], schema: Schema
) throws(LedgerError) -> PresentedIdentifiers {
    do {
        return try presentedIdentifiers(raw, access: access, schema: schema)
    } catch {
        throw error.error
    }
}

/// Why a command's identifiers were refused, and which input it is about: an import row
/// names the column from it.
struct IdentifierProblem: Error {
    let error: LedgerError
    /// The index in `raw` of the identifier at fault.
    var identifier: Int?
    /// The index in `access` of the type at fault.
    var accessType: Int?
}

/// ``normalizeIdentifiers(_:access:schema:)``, saying which input a refusal is about.
func presentedIdentifiers(
    _ raw: [Identifier], access: [String], schema: Schema
) throws(IdentifierProblem) -> PresentedIdentifiers {
    // The declared access types first: an import row names their column, whatever else it lacks.
    for (index, name) in access.enumerated() {
        guard let type = schema.type(named: name) else { throw IdentifierProblem(error: .unknownIdentifierType(type: name), accessType: index) }
        guard type.mayGrantAccess else { throw IdentifierProblem(error: .accessNotAllowedForType(type: name), accessType: index) }
    }
    guard !raw.isEmpty else { throw IdentifierProblem(error: .noIdentifiers()) }
    let accessTypes = Set(access)
    var seen = Set<Identifier>()
    var presented: [(priority: Int, PresentedIdentifier)] = []
    var blocked: [Identifier] = []
    var firstBlocked: Int?
    for (index, identifier) in raw.enumerated() {
        guard let type = schema.type(named: identifier.type), let priority = schema.priority(of: identifier.type) else {
            throw IdentifierProblem(error: .unknownIdentifierType(type: identifier.type), identifier: index)
        }
        let normalized: Identifier
        do throws(LedgerError) {
            normalized = Identifier(type: type.name, value: try type.normalizeValue(identifier.value))
        } catch {
            throw IdentifierProblem(error: error, identifier: index)
        }
        guard seen.insert(normalized).inserted else { continue }
        // Junk never reaches resolution; only its warning says it was sent.
        if type.isBlocked(normalized.value) {
            blocked.append(normalized)
            firstBlocked = firstBlocked ?? index
            continue
        }
        presented.append((priority, PresentedIdentifier(identifier: normalized, access: accessTypes.contains(type.name))))
    }
    for type in schema.types where type.kind == .unique {
        let values = presented.map(\.1.identifier).filter { $0.type == type.name }.map(\.value)
        if values.count > 1 {
            throw IdentifierProblem(
                error: .multipleValuesForUniqueType(type: type.name, values: values.sorted()),
                identifier: raw.firstIndex { $0.type == type.name })
        }
    }
    guard !presented.isEmpty else {
        throw IdentifierProblem(error: .noIdentifiers(blocked: blocked), identifier: firstBlocked)
    }
    let values = presented
        .sorted { ($0.priority, $0.1.identifier) < ($1.priority, $1.1.identifier) }
        .map(\.1)
    return PresentedIdentifiers(values: values, blocked: blocked)
}

private func < (lhs: (Int, Identifier), rhs: (Int, Identifier)) -> Bool {
    lhs.0 != rhs.0 ? lhs.0 < rhs.0 : lhs.1 < rhs.1
}

/// A customer found through the command's values (behaviour §5.1 step 2).
struct Candidate {
    let id: CustomerID
    /// Every value of the command that reached this customer, in priority order.
    var reaches: [Identifier] = []
    var reachedOnlyBySoft = true
    /// Reached through a unique value, as access owner or current holder, or through
    /// a value no other customer holds.
    var decisive = false

    /// The refusal when this, the first candidate, is not decisive and shares a value with
    /// one of `others`: the value could mean either customer (behaviour §5.1 step 4).
    func ambiguity(with others: some Sequence<Candidate>) -> LedgerError? {
        guard !decisive else { return nil }
        for other in others {
            if let shared = reaches.first(where: other.reaches.contains) {
                return .ambiguousCustomer(identifier: shared, candidates: [id, other.id].sorted())
            }
        }
        return nil
    }
}

/// The first presented unique value whose holder `counts`, with that holder: a value the
/// command cannot take from its owner.
func firstOwnedUniqueValue(
    _ presented: [PresentedIdentifier], schema: Schema, in view: some LedgerView, counts: (CustomerID) -> Bool
) throws -> (identifier: Identifier, owner: CustomerID)? {
    for value in presented where schema.type(named: value.identifier.type)?.kind == .unique {
        if let owner = try view.holders(of: value.identifier).first?.customer, counts(owner) { return (value.identifier, owner) }
    }
    return nil
}

/// The first value the command declares access-granting whose access owner `counts`, with
/// that owner: a login the command cannot hand to another customer.
func firstOwnedAccessValue(
    _ presented: [PresentedIdentifier], in view: some LedgerView, counts: (CustomerID) -> Bool
) throws -> (identifier: Identifier, owner: CustomerID)? {
    for value in presented where value.access {
        if let owner = try view.accessOwner(of: value.identifier), counts(owner) { return (value.identifier, owner) }
    }
    return nil
}

/// Collects candidates for the presented values, in priority order (behaviour §5.1 step 2). A value
/// held by its type's `maxHolders` customers or more reaches none.
func findCandidates(_ presented: [PresentedIdentifier], schema: Schema, in view: some LedgerView) throws -> [Candidate] {
    var candidates: [Candidate] = []
    var index: [CustomerID: Int] = [:]
    func reach(_ id: CustomerID, via identifier: Identifier, soft: Bool, decisive: Bool) {
        let position = index[id] ?? {
            candidates.append(Candidate(id: id))
            index[id] = candidates.count - 1
            return candidates.count - 1
        }()
        candidates[position].reaches.append(identifier)
        candidates[position].reachedOnlyBySoft = candidates[position].reachedOnlyBySoft && soft
        candidates[position].decisive = candidates[position].decisive || decisive
    }
    for value in presented {
        let identifier = value.identifier
        guard let type = schema.type(named: identifier.type) else { continue }
        guard let state = try view.valueState(identifier), !state.holders.isEmpty else { continue }
        // Shared junk (`maxHolders`): attached to the customer, but no match path. Holders are
        // active customers (a merge repoints the value), so this counts active holders.
        let shared = type.holderCutoff.map { state.holders.count >= $0 } ?? false
        let holders = state.holders.map(\.customer)
        let only = holders.count == 1
        switch type.kind {
        case .unique:
            reach(holders[0], via: identifier, soft: false, decisive: true)
        case .contact:
            // A credential stays its account's match path however many others hold the value:
            // otherwise the guards would never see the account, and a second customer could be
            // given access to the same value.
            let owner = state.accessOwner
            if let owner { reach(owner, via: identifier, soft: false, decisive: true) }
            if shared { continue }
            for holder in holders where holder != owner { reach(holder, via: identifier, soft: false, decisive: only) }
        case .soft:
            if shared { continue }
            let current = state.claimedHolder ?? holders[0]
            reach(current, via: identifier, soft: true, decisive: true)
            for holder in holders where holder != current { reach(holder, via: identifier, soft: true, decisive: only) }
        }
    }
    return candidates
}

/// The soft values an attach to `customer` releases (behaviour §2.7): for each soft type with
/// ``IdentifierType/maxValues``, the customer's values past the limit once `presented` are
/// attached, least recently presented first (by the last position at which the customer
/// presented or got it, ties by value bytes), never one of `presented`. `absorbed`: the
/// customers the command merges into it, each with its merge's position, from which their
/// values the customer did not hold count as got (as the projection will say). Sorted.
func softReleases(
    of customer: CustomerID, absorbing absorbed: [(customer: CustomerID, seq: UInt64)] = [],
    presented: [PresentedIdentifier], schema: Schema, in view: some LedgerView
) throws -> [Identifier] {
    let limits = Dictionary(uniqueKeysWithValues: schema.types.compactMap { type in type.releaseLimit.map { (type.name, $0) } })
    guard !limits.isEmpty else { return [] }
    let types = Set(limits.keys)
    var last = try view.lastPresented(of: customer, types: types)
    for (id, seq) in absorbed {
        for value in try view.lastPresented(of: id, types: types).keys where last[value] == nil { last[value] = seq }
    }
    let kept = Set(presented.map(\.identifier).filter { types.contains($0.type) })
    for value in kept { last[value] = nil }
    var released: [Identifier] = []
    for (type, limit) in limits {
        let others = last.filter { $0.key.type == type }
        let excess = kept.count(where: { $0.type == type }) + others.count - limit
        guard excess > 0 else { continue }
        let oldestFirst = others.sorted { a, b in
            a.value != b.value ? a.value < b.value : Array(a.key.value.utf8).lexicographicallyPrecedes(b.key.value.utf8)
        }
        released += oldestFirst.prefix(excess).map(\.key)
    }
    return released.sorted()
}

/// What the guards read of a customer: its ID and the identifiers it holds, sorted.
protocol GuardSubject {
    var id: CustomerID { get }
    var identifiers: [HeldIdentifier] { get }
}

extension CustomerRecord: GuardSubject {}

/// A customer as the guards see it: its identifiers except soft ones, read without its
/// header, properties and absorbed customers (identify reads every candidate this way).
/// No guard looks at soft identifiers: they are never unique, never grant access, and do
/// not make a customer known; a frequent web customer holds dozens of them.
struct CustomerHoldings: GuardSubject {
    let id: CustomerID
    let identifiers: [HeldIdentifier]
}

/// The side being built (X in behaviour §4): the command's identifiers plus every
/// customer accepted so far.
struct Cluster {
    let schema: Schema
    /// Values of merge-blocking unique types, by type.
    private var blockingValues: [String: Set<String>] = [:]
    /// The values the command declares access-granting.
    private let declaredAccess: Set<Identifier>
    /// Access-granting values of accepted customers, with their owner (for evidence).
    private var acceptedAccess: [(CustomerID, Identifier)] = []
    /// Values of types with a ``IdentifierType/maxValues``, by type.
    private var limitedValues: [String: Set<String>] = [:]
    /// Whether a customer was accepted, so that the next one would be merged into it.
    private var merging = false
    private(set) var known: Bool

    init(presented: [PresentedIdentifier], schema: Schema) {
        self.schema = schema
        declaredAccess = Set(presented.filter(\.access).map(\.identifier))
        known = presented.contains { schema.type(named: $0.identifier.type)?.kind != .soft }
        for value in presented { add(value.identifier) }
    }

    /// For a manual merge: X is the surviving customer.
    init(customer: some GuardSubject, schema: Schema) {
        self.schema = schema
        declaredAccess = []
        known = false
        accept(customer)
    }

    private mutating func add(_ identifier: Identifier) {
        guard let type = schema.type(named: identifier.type) else { return }
        if type.kind == .unique, type.blockMergeOnConflict {
            blockingValues[type.name, default: []].insert(identifier.value)
        }
        if type.valueLimit != nil { limitedValues[type.name, default: []].insert(identifier.value) }
    }

    func isKnown(_ record: some GuardSubject) -> Bool {
        record.identifiers.contains { schema.type(named: $0.type)?.kind != .soft }
    }

    mutating func accept(_ record: some GuardSubject) {
        merging = true
        for held in record.identifiers {
            add(held.identifier)
            if held.access { acceptedAccess.append((record.id, held.identifier)) }
        }
        known = known || isKnown(record)
    }

    /// Merging `y` into `x` as an operator or an auditor pairs them: the values they share
    /// and every guard, judged with `x` as the side being built.
    static func compare(_ x: CustomerRecord, _ y: CustomerRecord, schema: Schema) -> PairComparison {
        let shared = y.identifiers.filter { x.holds($0.identifier) != nil }.map(\.identifier)
        let onlySoft = !shared.isEmpty && shared.allSatisfy { schema.type(named: $0.type)?.kind == .soft }
        let guards = Cluster(customer: x, schema: schema).evaluate(y, reachedOnlyBySoft: onlySoft, reachedBy: shared)
        return PairComparison(shared: shared, onlySoft: onlySoft, guards: guards)
    }

    /// Every guard, each with its evidence; never short-circuited (``GuardName`` says when
    /// `valueLimit` is among them). `reachedBy`: the values linking Y to this side (the
    /// evidence of `softIdOnly`).
    func evaluate(_ y: some GuardSubject, reachedOnlyBySoft: Bool, reachedBy: [Identifier] = []) -> [GuardResult] {
        let guards = [uniqueIdConflict(y), accessContactsDiffer(y), softIdOnly(y, reachedOnlyBySoft: reachedOnlyBySoft, reachedBy: reachedBy)]
        return schema.limitsValues ? guards + [valueLimit(y)] : guards
    }

    private func valueLimit(_ y: some GuardSubject) -> GuardResult {
        // The first customer found takes the command's values: that is attaching, not merging.
        guard merging else { return GuardResult(guard: .valueLimit, passed: true, finding: .firstFound(candidate: y.id)) }
        var counts: [GuardFinding.Count] = []
        for type in schema.types {
            guard let limit = type.valueLimit else { continue }
            let mine = limitedValues[type.name] ?? []
            let added = Set(y.identifiers.filter { $0.type == type.name }.map(\.value)).subtracting(mine)
            let count = GuardFinding.Count(type: type.name, count: UInt64(mine.count + added.count), limit: UInt64(limit))
            if count.count > count.limit {
                return GuardResult(guard: .valueLimit, passed: false, finding: .overLimit(count),
                                   evidence: Self.evidence(type.name, added, .candidate))
            }
            counts.append(count)
        }
        return GuardResult(guard: .valueLimit, passed: true, finding: .withinLimits(counts))
    }

    private func uniqueIdConflict(_ y: some GuardSubject) -> GuardResult {
        for type in schema.types where type.kind == .unique && type.blockMergeOnConflict {
            let mine = blockingValues[type.name] ?? []
            let theirs = Set(y.identifiers.filter { $0.type == type.name }.map(\.value))
            if !mine.isEmpty, !theirs.isEmpty, mine.isDisjoint(with: theirs) {
                return GuardResult(guard: .uniqueIdConflict, passed: false, finding: .uniqueDiffers(type: type.name, candidate: y.id),
                                   evidence: Self.evidence(type.name, mine, .cluster) + Self.evidence(type.name, theirs, .candidate))
            }
        }
        return GuardResult(guard: .uniqueIdConflict, passed: true, finding: .noUniqueConflict)
    }

    /// One type's values of one side, sorted.
    private static func evidence(_ type: String, _ values: Set<String>, _ side: GuardEvidence.Side) -> [GuardEvidence] {
        values.sorted().map { GuardEvidence(Identifier(type: type, value: $0), side: side) }
    }

    private func accessContactsDiffer(_ y: some GuardSubject) -> GuardResult {
        let theirs = y.identifiers.filter(\.access).map { GuardEvidence($0.identifier, side: .candidate) }
        guard !theirs.isEmpty else {
            return GuardResult(guard: .accessContactsDiffer, passed: true, finding: .noAccessContact(candidate: y.id))
        }
        if let (owner, _) = acceptedAccess.first {
            return GuardResult(guard: .accessContactsDiffer, passed: false, finding: .accessHeldElsewhere(candidate: y.id, owner: owner),
                               evidence: acceptedAccess.map { GuardEvidence($0.1, side: .cluster) } + theirs)
        }
        if !declaredAccess.isEmpty, declaredAccess.isDisjoint(with: theirs.map(\.identifier)) {
            return GuardResult(guard: .accessContactsDiffer, passed: false, finding: .accessDeclaredElsewhere(candidate: y.id),
                               evidence: declaredAccess.sorted().map { GuardEvidence($0, side: .cluster) } + theirs)
        }
        return GuardResult(guard: .accessContactsDiffer, passed: true, finding: .accessAgrees, evidence: theirs)
    }

    private func softIdOnly(_ y: some GuardSubject, reachedOnlyBySoft: Bool, reachedBy: [Identifier]) -> GuardResult {
        // The values linking the pair are held by both: the candidate's side names them.
        let evidence = reachedBy.map { GuardEvidence($0, side: .candidate) }
        if reachedOnlyBySoft, known, isKnown(y) {
            return GuardResult(guard: .softIdOnly, passed: false, finding: .onlySoftBothKnown(candidate: y.id), evidence: evidence)
        }
        return GuardResult(guard: .softIdOnly, passed: true, finding: .reached(onlySoft: reachedOnlyBySoft), evidence: evidence)
    }
}

/// Two customers compared by ``Cluster/compare(_:_:schema:)``.
struct PairComparison {
    /// The values both hold.
    let shared: [Identifier]
    /// Whether they share values and every one is soft.
    let onlySoft: Bool
    let guards: [GuardResult]
}
