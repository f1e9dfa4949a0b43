import Foundation
import IdentityLedger

/// `explain --json`.
struct ExplanationOutput: Encodable {
    var a: CustomerID
    var b: CustomerID
    var verdict: String
    var guards: [GuardResult]
    var shared: [IdentifierOutput]
    var conflictingUniqueValues: [IdentifierOutput]
    var accessContacts: [String: [IdentifierOutput]]
    var softOnlyMatches: [IdentifierOutput]
    var decisions: [EventOutput]
    /// The merged IDs that were asked for, each with the survivor it now is (``Rendering/Merged``).
    var resolvedFrom: [CustomerOutput.Redirect]

    init(_ e: Explanation, merged: [Rendering.Merged]) {
        resolvedFrom = merged.map {
            CustomerOutput.Redirect(id: $0.redirect.id, mergedInto: $0.redirect.mergedInto, mergedAt: Output.timestamp($0.redirect.mergedAt), mergeSeq: $0.redirect.mergeSeq)
        }
        a = e.a
        b = e.b
        verdict = e.verdict.rawValue
        guards = e.guards
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
    var values: [JunkValueOutput]?
}

struct JunkValueOutput: Encodable {
    var type: String
    var value: String
    var reason: String
    var holders: Int

    init(_ junk: JunkValue) {
        type = junk.identifier.type
        value = junk.identifier.value
        reason = junk.reason.rawValue
        holders = junk.holders
    }
}

struct DuplicatePairOutput: Encodable {
    var a: CustomerID
    var b: CustomerID
    var shared: [IdentifierOutput]
    var keptApartBy: [String]
    var guards: [GuardResult]

    init(_ pair: DuplicatePair) {
        a = pair.a
        b = pair.b
        shared = pair.shared.map(IdentifierOutput.init)
        keptApartBy = pair.guards.filter { !$0.passed }.map(\.guard.rawValue)
        guards = pair.guards
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
        eventsBySource = Self.named(audit.eventsBySource)
        findingsBySource = Self.named(audit.findingsBySource)
    }

    /// What text and JSON both call events that came without a source (the library counts
    /// them under ""; a JSON key "" reads like a mistake).
    static let noSource = "(none)"

    private static func named(_ counts: [String: Int]) -> [String: Int] {
        Dictionary(counts.map { ($0.key.isEmpty ? noSource : $0.key, $0.value) }, uniquingKeysWith: +)
    }
}

extension Rendering {
    /// A merged ID that was asked for, and the active customer it resolved to.
    struct Merged {
        var redirect: Customer.Redirect
        var survivor: CustomerID

        /// `customer 19 is customer 18 since its merge at seq 31` (`… into 17 at …` along a chain).
        var sentence: String {
            let into = redirect.mergedInto == survivor ? "" : " into \(redirect.mergedInto)"
            return "customer \(redirect.id) is customer \(survivor) since its merge\(into) at seq \(redirect.mergeSeq)"
        }
    }

    /// `asked` are the two references as given; `merged` the merged IDs among them, which the
    /// explanation speaks of by their survivors.
    static func explanation(_ e: Explanation, asked: (CustomerRef, CustomerRef), merged: [Merged]) -> String {
        var lines = merged.map(\.sentence)
        func name(_ ref: CustomerRef) -> String {
            if case .id(let id) = ref { "customer \(id)" } else { ref.description }
        }
        switch e.verdict {
        case .sameCustomer:
            if merged.isEmpty {
                lines.append(asked.0 == asked.1
                    ? "both name \(name(asked.0)): there is nothing to compare"
                    : "\(name(asked.0)) and \(name(asked.1)) both name customer \(e.a)")
            }
            if !e.decisions.isEmpty {
                lines.append("  past decisions:")
                lines += e.decisions.map { "    " + event($0) }
            }
            return lines.joined(separator: "\n")
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
            let limited = config.types.filter { $0.maxValues != nil }.map { "\($0.name) \($0.maxValues!)" }
            // Shown only when set, so that a store without junk protection reads as it always did.
            if !limited.isEmpty { lines.append("  value limits (maxValues): " + limited.joined(separator: ", ")) }
            let blocking = config.types.filter { !$0.blockedValues.isEmpty || !$0.blockedPatterns.isEmpty }
                .map { "\($0.name) (\($0.blockedValues.count) value(s), \($0.blockedPatterns.count) pattern(s))" }
            if !blocking.isEmpty { lines.append("  blocked values: " + blocking.joined(separator: ", ")) }
        }
        if let quality = audit.quality {
            lines.append("integration quality: \(quality.identifierInProperties.count) identifier(s) sent as properties")
            for finding in quality.identifierInProperties {
                lines.append("  event \(finding.seq): customer \(finding.customer) property \(finding.key)=\(finding.value) from \(finding.source ?? QualityOutput.noSource)")
            }
            lines.append("  events by source: " + quality.eventsBySource.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let values = audit.values {
            lines.append("junk values: \(values.count) stored value(s) set apart")
            for junk in values {
                lines.append("  \(junk.type)=\(junk.value): \(junk.reason), \(junk.holders) holder(s)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func list(_ identifiers: [Identifier]) -> String {
        identifiers.isEmpty ? "none" : identifiers.map(\.description).joined(separator: ", ")
    }
}
