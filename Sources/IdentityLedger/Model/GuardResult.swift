/// The three checks every automatic merge candidate must pass (behaviour §4).
public enum GuardName: String, Sendable, Hashable, Codable, CaseIterable {
    /// Both sides hold values of a type with `blockMergeOnConflict` and share none (the fitness-club couple, behaviour §10.1).
    case uniqueIdConflict
    /// The candidate's access-granting contacts differ from the account being built (the till and web customers, behaviour §10.2).
    case accessContactsDiffer
    /// The candidate was reached only through soft values and both sides are known (a shared browser).
    case softIdOnly

    /// Bit used in a failing-guard set.
    var bit: UInt8 { UInt8(1) << UInt8(GuardName.allCases.firstIndex(of: self)!) }
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
