/// Why two customers are, or are not, one profile (behaviour §6.4): which guard keeps
/// them apart, and what was decided before.
public struct Explanation: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable {
        /// Both references resolve to the same profile (they were merged).
        case sameCustomer
        /// Every guard passes and they share a value: the next identify presenting it merges them.
        case wouldMerge
        /// Every guard passes but no value links them: only a manual merge would join them.
        case notLinked
        /// At least one guard fails: automatic merges keep them apart.
        case keptApart
    }

    /// The active customers the two references resolve to.
    public var a: CustomerID
    public var b: CustomerID
    public var verdict: Verdict
    /// All three guards, evaluated now with `a` as the side being built and `b` as the candidate
    /// (empty for ``Verdict/sameCustomer``).
    public var guards: [GuardResult]
    /// Values both customers hold.
    public var shared: [Identifier]
    /// Values of merge-blocking unique types on which they differ.
    public var conflictingUniqueValues: [Identifier]
    /// Each side's access-granting contacts.
    public var accessContactsA: [Identifier]
    public var accessContactsB: [Identifier]
    /// Shared values when every shared value is soft (a shared device).
    public var softOnlyMatches: [Identifier]
    /// Every past `merged` / `mergeDeclined` event between the two or their predecessors.
    public var decisions: [Event]
}

extension Ledger {
    /// Would these two merge now, which guard decides, and what was decided before?
    /// - Throws: `customerNotFound`, `ambiguousCustomer` for a value held by several customers.
    public func explain(_ first: CustomerRef, _ second: CustomerRef) throws(LedgerError) -> Explanation {
        try snapshot { reader in
            let schema = try reader.schema()
            let recordA = try reader.resolve(first, schema: schema)
            let recordB = try reader.resolve(second, schema: schema)
            let a = try reader.current(recordA)
            let b = try reader.current(recordB)

            let comparison = Cluster.compare(a, b, schema: schema)
            let (shared, onlySoft) = (comparison.shared, comparison.onlySoft)
            // One profile has nothing left to guard: the decisions below say how it became one.
            let guards = a.id == b.id ? [] : comparison.guards
            let verdict: Explanation.Verdict =
                a.id == b.id ? .sameCustomer : !guards.allPassed ? .keptApart : shared.isEmpty ? .notLinked : .wouldMerge

            // Predecessors: each reference's own lineage, and everything its survivor absorbed.
            let sideA = Set([recordA.id, a.id] + recordA.mergedFrom + (a.id == b.id ? [] : a.mergedFrom))
            let sideB = Set([recordB.id, b.id] + recordB.mergedFrom + (a.id == b.id ? [] : b.mergedFrom))
            var positions = Set<UInt64>()
            for id in sideA.union(sideB) { positions.formUnion(try reader.eventPositions(of: id)) }
            let decisions = try positions.sorted().compactMap(reader.event).filter { event in
                switch event.body {
                case .merged(let x, let y, _, _, _), .mergeDeclined(let x, let y, _):
                    return (sideA.contains(x) && sideB.contains(y)) || (sideB.contains(x) && sideA.contains(y))
                default:
                    return false
                }
            }
            let conflicting = guards.first { $0.guard == .uniqueIdConflict && !$0.passed }?.evidence.map(\.identifier) ?? []
            return Explanation(
                a: a.id, b: b.id, verdict: verdict, guards: guards, shared: shared,
                conflictingUniqueValues: conflicting,
                accessContactsA: a.identifiers.filter(\.access).map(\.identifier),
                accessContactsB: b.identifiers.filter(\.access).map(\.identifier),
                softOnlyMatches: onlySoft ? shared : [], decisions: decisions
            )
        }
    }
}
