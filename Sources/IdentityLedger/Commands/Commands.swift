import Foundation

/// How a command line or an API call names a customer: by ID, or by an identifier
/// value that must name exactly one customer.
public enum CustomerRef: Sendable, Hashable, CustomStringConvertible {
    case id(CustomerID)
    case identifier(Identifier)

    /// `7` or `email=ann@example.com`. An ID is a plain decimal number
    /// (`+7` and `007` are not IDs), and is at least 1.
    public init?(parsing text: String) {
        if let id = parseDecimal(text), id > 0 {
            self = .id(id)
        } else if let identifier = Identifier(parsing: text) {
            self = .identifier(identifier)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .id(let id): String(id)
        case .identifier(let identifier): identifier.description
        }
    }
}

/// Fields every command may carry (behaviour §5).
public struct CommandContext: Sendable, Hashable {
    /// Client time; defaults to, and is capped at, the time the engine records the event.
    public var occurredAt: Date?
    /// Channel name, e.g. `pos`, `web`.
    public var source: String?
    /// Idempotency key: a repeat with the same payload returns the first result.
    public var eventId: String?

    public init(occurredAt: Date? = nil, source: String? = nil, eventId: String? = nil) {
        self.occurredAt = occurredAt
        self.source = source
        self.eventId = eventId
    }
}

/// Identify a customer by trusted identifiers, merging and attaching as the guards allow (behaviour §5.1).
public struct IdentifyCommand: Sendable, Hashable {
    public var identifiers: [Identifier]
    /// Types whose values in this command grant access to the account.
    public var access: [String]
    public var properties: [String: JSONValue]
    public var context: CommandContext
    /// Types whose values a JSON line gave as an array, which only contact and soft types
    /// may have (behaviour §9.5); checked against the schema in force when the command runs.
    var typesGivenAsArrays: Set<String> = []

    public init(identifiers: [Identifier], access: [String] = [], properties: [String: JSONValue] = [:], context: CommandContext = .init()) {
        self.identifiers = identifiers
        self.access = access
        self.properties = properties
        self.context = context
    }
}

/// Write properties to the customer the identifiers point at, without merging or attaching (behaviour §5.2).
public struct UpdateCommand: Sendable, Hashable {
    public var identifiers: [Identifier]
    /// `.null` is a tombstone that hides the key.
    public var properties: [String: JSONValue]
    public var context: CommandContext
    /// As ``IdentifyCommand``'s: types a JSON line gave as an array.
    var typesGivenAsArrays: Set<String> = []

    public init(identifiers: [Identifier], properties: [String: JSONValue], context: CommandContext = .init()) {
        self.identifiers = identifiers
        self.properties = properties
        self.context = context
    }
}

/// An operator's merge of two profiles confirmed to be one person (behaviour §5.3). Cannot be undone.
public struct MergeCommand: Sendable, Hashable {
    public var into: CustomerRef
    public var from: CustomerRef
    public var actor: String
    public var note: String?
    /// Fail with `mergeBlocked` instead of forcing the merge when a guard fails.
    public var requireGuards: Bool
    public var context: CommandContext

    public init(into: CustomerRef, from: CustomerRef, actor: String, note: String? = nil, requireGuards: Bool = false, context: CommandContext = .init()) {
        self.into = into
        self.from = from
        self.actor = actor
        self.note = note
        self.requireGuards = requireGuards
        self.context = context
    }
}

/// Remove one identifier from a customer, or with `accessOnly` only its access flag (behaviour §5.4).
public struct DetachCommand: Sendable, Hashable {
    public var customer: CustomerRef
    public var identifier: Identifier
    public var actor: String
    public var note: String?
    public var accessOnly: Bool
    public var context: CommandContext

    public init(customer: CustomerRef, identifier: Identifier, actor: String, note: String? = nil, accessOnly: Bool = false, context: CommandContext = .init()) {
        self.customer = customer
        self.identifier = identifier
        self.actor = actor
        self.note = note
        self.accessOnly = accessOnly
        self.context = context
    }
}

/// Any command, as `ingest` reads them.
public enum Command: Sendable, Hashable {
    case identify(IdentifyCommand)
    case update(UpdateCommand)
    case merge(MergeCommand)
    case detach(DetachCommand)

    var context: CommandContext {
        switch self {
        case .identify(let command): command.context
        case .update(let command): command.context
        case .merge(let command): command.context
        case .detach(let command): command.context
        }
    }
}

/// A warning attached to a successful command.
public struct Warning: Sendable, Hashable, Codable {
    public var code: String
    public var message: String
}

/// What a command did.
public struct CommandResult: Sendable, Hashable {
    /// The customer the command resolved to (the survivor after merges).
    public var customer: CustomerID
    public var created: Bool
    /// Customers merged into `customer` by this command.
    public var merged: [CustomerID]
    /// Log positions written.
    public var seq: [UInt64]
    /// Candidates the guards kept apart, with every guard's result: the first
    /// ``declinedListLimit`` in candidate order; ``declinedNotListed`` counts the rest.
    /// Every decline is in the log either way (`history`, `explain`).
    public var declined: [DeclinedResult]
    /// For `merge`: the guard results recorded with the merge.
    public var guards: [GuardResult]
    public var warnings: [Warning]
    /// Declined candidates beyond the first ``declinedListLimit``, which ``declined`` leaves
    /// out so that a result stays small when a value is shared by very many customers.
    public var declinedNotListed: Int = 0

    /// At most this many declined candidates are listed in ``declined``.
    public static let declinedListLimit = 20

    /// Keeps the first ``declinedListLimit`` of `declined` and counts the rest.
    mutating func listDeclined(_ all: [DeclinedResult]) {
        declined = Array(all.prefix(Self.declinedListLimit))
        declinedNotListed = all.count - declined.count
    }
}

/// One declined candidate of an identify.
public struct DeclinedResult: Sendable, Hashable {
    public var customer: CustomerID
    public var guards: [GuardResult]
}
