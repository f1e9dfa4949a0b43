import Foundation
import IdentityLedger

/// Short human-readable renderings, printed without `--json`.
enum Rendering {
    static func ids(_ ids: [CustomerID]) -> String {
        ids.map(String.init).joined(separator: ", ")
    }

    static func failing(_ guards: [GuardResult]) -> String {
        guards.filter { !$0.passed }.map { "\($0.guard.rawValue) — \($0.detail)" }.joined(separator: "; ")
    }

    /// `customer 7 (created) merged 3; declined 9: accessContactsDiffer — …; warning identifierInProperties: …`
    static func result(_ result: CommandResult) -> String {
        var text = "customer \(result.customer)"
        if result.created { text += " (created)" }
        if !result.merged.isEmpty { text += " merged \(ids(result.merged))" }
        for declined in result.declined {
            text += "; declined \(declined.customer): \(failing(declined.guards))"
        }
        if result.declinedNotListed > 0 { text += "; \(result.declinedNotListed) more declined (see history)" }
        for warning in result.warnings {
            text += "; warning \(warning.code): \(warning.message)"
        }
        if result.seq.isEmpty { text += " (nothing written)" }
        return text
    }

    /// A manual merge: `customer 7 absorbed 3 (forced past accessContactsDiffer — …)`.
    static func merge(_ result: CommandResult) -> String {
        var text = "customer \(result.customer) absorbed \(ids(result.merged))"
        let failing = failing(result.guards)
        if !failing.isEmpty { text += " (forced past \(failing))" }
        if result.seq.isEmpty { text += " (nothing written)" }
        return text
    }

    static func held(_ identifier: HeldIdentifier) -> String {
        "\(identifier.type)=\(identifier.value)" + (identifier.access ? " (access)" : "")
    }

    /// Several lines: status, redirect, identifiers, properties.
    static func customer(_ customer: Customer) -> String {
        var lines = ["customer \(customer.id) (\(customer.status.rawValue)), created \(Output.timestamp(customer.createdAt))"]
        if let redirect = customer.resolvedFrom {
            lines.append("  asked for \(redirect.id): merged into \(redirect.mergedInto) at \(Output.timestamp(redirect.mergedAt)) (seq \(redirect.mergeSeq))")
        }
        if !customer.mergedFrom.isEmpty { lines.append("  merged from \(ids(customer.mergedFrom))") }
        for identifier in customer.identifiers { lines.append("  \(held(identifier))") }
        for key in customer.properties.keys.sorted() { lines.append("  \(key) = \(customer.properties[key]!)") }
        return lines.joined(separator: "\n")
    }

    /// One line per customer, for `export`.
    static func customerLine(_ customer: Customer) -> String {
        var text = "\(customer.id)  " + customer.identifiers.map(held).joined(separator: ", ")
        if !customer.properties.isEmpty { text += "  " + JSONValue.object(customer.properties).description }
        return text
    }

    static func properties(_ writes: [PropertyWrite]) -> String {
        writes.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// One line per event, for `log`.
    static func event(_ event: Event) -> String {
        var text = "\(event.seq)  \(Output.timestamp(milliseconds: event.recordedAt))  \(event.kind)"
        switch event.body {
        case .schemaChanged(let schema):
            text += " " + schema.types.map(\.name).joined(separator: ", ")
        case .identified(let customer, let created, let identifiers, let properties, let declined, let released):
            text += " customer \(customer)" + (created ? " (created)" : "")
            text += " " + identifiers.map { $0.identifier.description + ($0.access ? " (access)" : "") }.joined(separator: ", ")
            if !properties.isEmpty { text += " " + Self.properties(properties) }
            if !declined.isEmpty { text += "; declined \(ids(declined.map(\.customer)))" }
            if !released.isEmpty { text += "; released " + released.map(\.description).joined(separator: ", ") }
        case .updated(let customer, let created, let identifiers, let properties):
            text += " customer \(customer)" + (created ? " (created with \(identifiers.map(\.description).joined(separator: ", ")))" : "")
            text += " " + Self.properties(properties)
        case .detached(let customer, let identifier, let accessOnly):
            text += " customer \(customer) " + (accessOnly ? "access flag of " : "") + identifier.description
        case .merged(let survivor, let absorbed, let trigger, let guards, let forced):
            text += " \(absorbed) into \(survivor)"
            if !trigger.isEmpty { text += " via " + trigger.map(\.description).joined(separator: ", ") }
            if forced {
                let failing = failing(guards)
                text += failing.isEmpty ? " (manual; every guard passed)" : " (forced past \(failing))"
            }
        case .mergeDeclined(let customer, let candidate, let guards):
            text += " \(customer) / \(candidate): \(failing(guards))"
        case .importStarted(let start):
            text += " \(start.importId) from \(start.sourceName) matching by \(start.matchBy)"
            if let source = start.source { text += ", source \(source)" }
        case .importFinished(let importId, let counts):
            text += " \(importId): read \(counts.read), created \(counts.created), updated \(counts.updated), rejected \(counts.rejected)"
            if counts.withBlockedValues > 0 { text += ", \(counts.withBlockedValues) with blocked values dropped" }
        }
        var context: [String] = []
        if let source = event.source { context.append("source \(source)") }
        if let eventId = event.eventId { context.append("eventId \(eventId)") }
        if let actor = event.actor { context.append("by \(actor)") }
        if let note = event.note { context.append("note \"\(note)\"") }
        if !context.isEmpty { text += "  [" + context.joined(separator: ", ") + "]" }
        return text
    }

    static func schema(_ schema: Schema) -> String {
        schema.types.enumerated().map { index, type in
            var flags: [String] = [type.kind.rawValue, type.normalize.rawValue]
            if type.blockMergeOnConflict { flags.append("blockMergeOnConflict") }
            if type.canGrantAccess { flags.append("canGrantAccess") }
            if let code = type.defaultCallingCode { flags.append("defaultCallingCode \(code)") }
            if type.kind != .unique {
                let limit = type.maxHolders ?? IdentifierType.defaultMaxHolders
                flags.append(limit == 0 ? "maxHolders 0 (no cutoff)" : "maxHolders \(limit)\(type.maxHolders == nil ? " (default)" : "")")
            }
            if let limit = type.maxValues { flags.append("maxValues \(limit)") }
            if !type.blockedValues.isEmpty { flags.append("blockedValues " + type.blockedValues.map(LedgerError.quoted).joined(separator: " ")) }
            if !type.blockedPatterns.isEmpty { flags.append("blockedPatterns " + type.blockedPatterns.map(LedgerError.quoted).joined(separator: " ")) }
            return "\(index + 1). \(type.name)  " + flags.joined(separator: ", ")
        }.joined(separator: "\n")
    }
}
