import Foundation
import IdentityLedger

/// `explain --json`.
struct ExplanationOutput: Encodable {
    var a: CustomerID
    var b: CustomerID
    var verdict: String
    var guards: [GuardOutput]
    var shared: [IdentifierOutput]
    var conflictingUniqueValues: [IdentifierOutput]
    var accessContacts: [String: [IdentifierOutput]]
    var softOnlyMatches: [IdentifierOutput]
    var decisions: [EventOutput]

    init(_ e: Explanation) {
        a = e.a
        b = e.b
        verdict = e.verdict.rawValue
        guards = e.guards.map(GuardOutput.init)
        shared = e.shared.map(IdentifierOutput.init)
        conflictingUniqueValues = e.conflictingUniqueValues.map(IdentifierOutput.init)
        accessContacts = ["a": e.accessContactsA.map(IdentifierOutput.init), "b": e.accessContactsB.map(IdentifierOutput.init)]
        softOnlyMatches = e.softOnlyMatches.map(IdentifierOutput.init)
        decisions = e.decisions.map(EventOutput.init)
    }
}

/// `audit --json`: the reports that were asked for.
struct AuditOutput: Encodable {
    var duplicates: [DuplicatePairOutput]?
    var config: ConfigurationOutput?
    var quality: QualityOutput?
}

struct DuplicatePairOutput: Encodable {
    var a: CustomerID
    var b: CustomerID
    var shared: [IdentifierOutput]
    var keptApartBy: [String]
    var guards: [GuardOutput]

    init(_ pair: DuplicatePair) {
        a = pair.a
        b = pair.b
        shared = pair.shared.map(IdentifierOutput.init)
        keptApartBy = pair.guards.filter { !$0.passed }.map(\.guard.rawValue)
        guards = pair.guards.map(GuardOutput.init)
    }
}

struct ConfigurationOutput: Encodable {
    var blockMergeOnConflict: [String]
    var canGrantAccess: [String]
    var types: [IdentifierType]

    init(_ audit: ConfigurationAudit) {
        blockMergeOnConflict = audit.blockingTypes
        canGrantAccess = audit.accessTypes
        types = audit.schema.types
    }
}

struct QualityOutput: Encodable {
    struct Finding: Encodable {
        var seq: UInt64
        var customer: CustomerID
        var key: String
        var value: String
        var source: String?
    }

    var identifierInProperties: [Finding]
    var eventsBySource: [String: Int]
    var findingsBySource: [String: Int]

    init(_ audit: QualityAudit) {
        identifierInProperties = audit.identifierInProperties.map {
            Finding(seq: $0.seq, customer: $0.customer, key: $0.key, value: $0.value, source: $0.source)
        }
        eventsBySource = audit.eventsBySource
        findingsBySource = audit.findingsBySource
    }
}

extension Rendering {
    static func explanation(_ e: Explanation) -> String {
        var lines: [String] = []
        switch e.verdict {
        case .sameCustomer: lines.append("customers \(e.a) and \(e.b) are one profile (merged)")
        case .wouldMerge: lines.append("customers \(e.a) and \(e.b) would merge: every guard passes and they share \(e.shared.map(\.description).joined(separator: ", "))")
        case .notLinked: lines.append("customers \(e.a) and \(e.b) share no identifier; every guard passes, so only a manual merge would join them")
        case .keptApart: lines.append("customers \(e.a) and \(e.b) are kept apart by \(e.guards.filter { !$0.passed }.map(\.guard.rawValue).joined(separator: " and "))")
        }
        for result in e.guards {
            lines.append("  \(result.passed ? "pass" : "FAIL") \(result.guard.rawValue): \(result.detail)")
        }
        if !e.shared.isEmpty { lines.append("  shared: \(e.shared.map(\.description).joined(separator: ", "))") }
        lines.append("  access contacts: \(e.a): \(list(e.accessContactsA)); \(e.b): \(list(e.accessContactsB))")
        if e.decisions.isEmpty {
            lines.append("  no past merge or declined merge between them")
        } else {
            lines.append("  past decisions:")
            lines += e.decisions.map { "    " + event($0) }
        }
        return lines.joined(separator: "\n")
    }

    static func audit(_ audit: AuditOutput) -> String {
        var lines: [String] = []
        if let duplicates = audit.duplicates {
            lines.append("duplicates: \(duplicates.count) pair(s) of active customers share a contact or soft value")
            for pair in duplicates {
                let verdict = pair.keptApartBy.isEmpty ? "no guard keeps them apart" : "kept apart by " + pair.keptApartBy.joined(separator: " and ")
                lines.append("  \(pair.a) / \(pair.b) share \(pair.shared.map { "\($0.type)=\($0.value)" }.joined(separator: ", ")): \(verdict)")
            }
        }
        if let config = audit.config {
            lines.append("configuration:")
            lines.append("  block merges on conflict (unique): \(config.blockMergeOnConflict.isEmpty ? "none" : config.blockMergeOnConflict.joined(separator: ", "))")
            lines.append("  can grant access: \(config.canGrantAccess.isEmpty ? "none" : config.canGrantAccess.joined(separator: ", "))")
        }
        if let quality = audit.quality {
            lines.append("integration quality: \(quality.identifierInProperties.count) identifier(s) sent as properties")
            for finding in quality.identifierInProperties {
                lines.append("  event \(finding.seq): customer \(finding.customer) property \(finding.key)=\(finding.value) from \(finding.source ?? "no source")")
            }
            lines.append("  events by source: " + quality.eventsBySource.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "(none)" : $0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    private static func list(_ identifiers: [Identifier]) -> String {
        identifiers.isEmpty ? "none" : identifiers.map(\.description).joined(separator: ", ")
    }
}
