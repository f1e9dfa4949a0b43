/// The checks every automatic merge candidate must pass (behaviour §4). ``valueLimit`` is
/// evaluated only under a schema where some type sets ``IdentifierType/maxValues``, so that
/// the guard results of every other store are the three they always were.
///
/// Each guard has a fixed bit (`bit`) under which stored events and recorded declines name
/// it; the order of the cases means nothing to the store.
public enum GuardName: String, Sendable, Hashable, Codable, CaseIterable {
    /// Both sides hold values of a type with `blockMergeOnConflict` and share none (the fitness-club couple, behaviour §10.1).
    case uniqueIdConflict
    /// The candidate's access-granting contacts differ from the account being built (the till and web customers, behaviour §10.2).
    case accessContactsDiffer
    /// The candidate was reached only through soft values and both sides are known (a shared browser).
    case softIdOnly
    /// The merge would leave one customer with more distinct values of a type than its
    /// ``IdentifierType/maxValues`` (a mega-profile built from junk values).
    case valueLimit

    /// The guard's bit in a stored failing-guard set (an event's declined candidates, the
    /// `declines` key) and in a stored guard result. Written out per guard, never derived from
    /// the order of the cases, so that stored events keep their meaning: a guard added later
    /// takes a bit none has had, wherever it is listed, and a bit is never reused.
    var bit: UInt8 {
        switch self {
        case .uniqueIdConflict: 1
        case .accessContactsDiffer: 2
        case .softIdOnly: 4
        case .valueLimit: 8
        }
    }

    /// The guard stored under `bit`; nil for a bit no guard has.
    init?(bit: UInt8) {
        guard let name = GuardName.allCases.first(where: { $0.bit == bit }) else { return nil }
        self = name
    }
}

/// One guard's verdict on one candidate, with the evidence that decided it.
public struct GuardResult: Sendable, Hashable, Codable {
    public var `guard`: GuardName
    public var passed: Bool
    /// A sentence that names the values involved.
    public var detail: String
    /// The identifier values the verdict rests on.
    public var evidence: [Identifier]

    public init(guard: GuardName, passed: Bool, detail: String, evidence: [Identifier] = []) {
        self.guard = `guard`
        self.passed = passed
        self.detail = detail
        self.evidence = evidence
    }
}

extension [GuardResult] {
    /// The failing guards as a bit set (the key of a recorded decline).
    var failingMask: UInt8 {
        reduce(0) { $1.passed ? $0 : $0 | $1.guard.bit }
    }

    var allPassed: Bool { allSatisfy(\.passed) }

    var failing: [GuardName] { filter { !$0.passed }.map(\.guard) }
}
