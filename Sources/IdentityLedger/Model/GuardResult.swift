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
///
/// The verdict is stored as structure (``finding`` and ``evidence``), never as prose: every
/// value in it names the side that holds it, so that it can be kept under that side's
/// customer, and ``detail`` is rendered when it is read.
public struct GuardResult: Sendable, Hashable {
    public var `guard`: GuardName
    public var passed: Bool
    /// What the guard found, with the customers and counts it names; the values are in ``evidence``.
    var finding: GuardFinding
    /// The identifier values the verdict rests on, each with the side that holds it.
    public var evidence: [GuardEvidence]

    init(guard: GuardName, passed: Bool, finding: GuardFinding, evidence: [GuardEvidence] = []) {
        self.guard = `guard`
        self.passed = passed
        self.finding = finding
        self.evidence = evidence
    }

    /// The verdict in a sentence that names the values involved.
    public var detail: String { finding.sentence(cluster: values(of: .cluster), candidate: values(of: .candidate)) }

    /// The values of one side, as the sentence lists them.
    private func values(of side: GuardEvidence.Side) -> [Identifier] {
        evidence.filter { $0.side == side }.map(\.identifier)
    }
}

extension GuardResult: Codable {
    private enum CodingKeys: String, CodingKey { case `guard`, passed, detail, evidence }

    /// A result read back from JSON (an import's errors file) keeps its sentence as written.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(guard: try c.decode(GuardName.self, forKey: .guard), passed: try c.decode(Bool.self, forKey: .passed),
                  finding: .written(try c.decode(String.self, forKey: .detail)),
                  evidence: try c.decode([GuardEvidence].self, forKey: .evidence))
    }

    /// As the JSON of results and logs shows it: the rendered ``detail`` with the structure.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.guard, forKey: .guard)
        try c.encode(passed, forKey: .passed)
        try c.encode(detail, forKey: .detail)
        try c.encode(evidence, forKey: .evidence)
    }
}

/// One value a guard's verdict rests on.
public struct GuardEvidence: Sendable, Hashable, Codable {
    /// Which side of the pair holds the value.
    public enum Side: UInt8, Sendable, Hashable, Codable {
        /// The side being built: the command's values and the customers already accepted (for a
        /// recorded decline or merge, the event's first customer).
        case cluster = 1
        /// The candidate the guard judged (a decline's `candidate`, a merge's `absorbed`).
        case candidate = 2

        public init(from decoder: any Decoder) throws {
            let name = try decoder.singleValueContainer().decode(String.self)
            switch name {
            case "cluster": self = .cluster
            case "candidate": self = .candidate
            default: throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown side \(name)"))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(self == .cluster ? "cluster" : "candidate")
        }
    }

    public var identifier: Identifier
    /// Nil in events written before guard results were structured (event format 5).
    public var side: Side?

    private enum CodingKeys: String, CodingKey { case type, value, side }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        identifier = Identifier(type: try c.decode(String.self, forKey: .type), value: try c.decode(String.self, forKey: .value))
        side = try c.decodeIfPresent(Side.self, forKey: .side)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(identifier.type, forKey: .type)
        try c.encode(identifier.value, forKey: .value)
        try c.encodeIfPresent(side, forKey: .side)
    }

    public init(_ identifier: Identifier, side: Side?) {
        self.identifier = identifier
        self.side = side
    }
}

/// What a guard found. The sentence of each case is written once, here; the values it lists
/// come from the result's evidence, by side.
enum GuardFinding: Sendable, Hashable {
    /// A type's distinct values after the merge, against its limit.
    struct Count: Sendable, Hashable {
        var type: String
        var count: UInt64
        var limit: UInt64
    }

    // valueLimit
    case firstFound(candidate: CustomerID)
    case overLimit(Count)
    case withinLimits([Count])
    // uniqueIdConflict
    case uniqueDiffers(type: String, candidate: CustomerID)
    case noUniqueConflict
    // accessContactsDiffer
    case noAccessContact(candidate: CustomerID)
    /// The candidate's access contacts against those of a customer already accepted (`owner`).
    case accessHeldElsewhere(candidate: CustomerID, owner: CustomerID)
    /// The candidate's access contacts against those the command declares.
    case accessDeclaredElsewhere(candidate: CustomerID)
    case accessAgrees
    // softIdOnly
    case onlySoftBothKnown(candidate: CustomerID)
    case reached(onlySoft: Bool)
    /// What-if: a decline the replayed store had already recorded for the pair.
    case recordedEarlier
    /// The sentence an event stored before guard results were structured (event format 5).
    case written(String)

    func sentence(cluster: [Identifier], candidate: [Identifier]) -> String {
        func list(_ identifiers: [Identifier]) -> String { identifiers.map(\.description).joined(separator: ", ") }
        func values(_ identifiers: [Identifier]) -> String { identifiers.map(\.value).joined(separator: ", ") }
        switch self {
        case .firstFound(let y): return "customer \(y) would be the first customer found, not merged"
        case .overLimit(let c): return "\(c.type): the merge would hold \(c.count) distinct values, more than maxValues \(c.limit)"
        case .withinLimits(let counts): return "within maxValues (\(counts.map { "\($0.type) \($0.count) of \($0.limit)" }.joined(separator: ", ")))"
        case .uniqueDiffers(let type, let y):
            return "\(type) differs: \(values(cluster)) here, \(values(candidate)) on customer \(y) (blockMergeOnConflict)"
        case .noUniqueConflict: return "no conflicting merge-blocking unique identifier"
        case .noAccessContact(let y): return "customer \(y) has no access-granting contact"
        case .accessHeldElsewhere(let y, let owner):
            return "customer \(y) logs in with \(list(candidate)); customer \(owner) already logs in with \(list(cluster))"
        case .accessDeclaredElsewhere(let y): return "the command logs in with \(list(cluster)); customer \(y) logs in with \(list(candidate))"
        case .accessAgrees: return "access-granting contacts agree (\(list(candidate)))"
        case .onlySoftBothKnown(let y):
            return "customer \(y) was reached only through soft identifiers (\(list(candidate))) and both sides are known customers"
        case .reached(let onlySoft):
            if candidate.isEmpty { return "no shared identifier" }
            return onlySoft ? "reached through \(list(candidate)); one side is anonymous" : "reached through \(list(candidate))"
        case .recordedEarlier: return "declined (recorded earlier)"
        case .written(let sentence): return sentence
        }
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
