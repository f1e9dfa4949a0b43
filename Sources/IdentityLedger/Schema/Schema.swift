import Foundation

/// What an identifier type promises about its values (behaviour §2.2).
public enum IdentifierKind: String, Sendable, Codable, CaseIterable {
    /// A value belongs to at most one customer (external ID, loyalty card, CRM ID).
    case unique
    /// A value may sit on several customers (a household phone); an access-granting
    /// value is access-granting on at most one.
    case contact
    /// Weak and shareable (cookie, device ID): links anonymous activity, never merges
    /// two known customers.
    case soft
}

/// One identifier type of a ``Schema``.
///
/// Encodable only: a schema is read by ``Schema/init(json:)``, which refuses unknown keys
/// where a `Decodable` conformance would take a misspelled guard as the guard left off.
public struct IdentifierType: Sendable, Hashable, Encodable {
    public var name: String
    public var kind: IdentifierKind
    public var normalize: Normalization
    /// `unique` only: two customers holding different values of this type are never
    /// merged automatically (the fitness-club couple, behaviour §10.1).
    public var blockMergeOnConflict: Bool
    /// `unique` and `contact` only: values may be flagged as granting access to the account.
    public var canGrantAccess: Bool
    /// `phone` normalization only: the country code for numbers written without `+`.
    public var defaultCallingCode: String?
    /// `contact` and `soft` only: a value held by this many active customers is no longer a
    /// match path. It is still attached, but reaches no candidate: it is shared junk (a shop's
    /// own phone typed in at the till), and each new holder would otherwise be declined by
    /// every earlier one. `nil` is ``defaultMaxHolders``; `0` means no cutoff.
    public var maxHolders: Int?
    /// Normalized values that are never identifiers (`test@test.com`, `+10000000000`): a command
    /// presenting one drops it before resolution with a `blockedIdentifier` warning. Values
    /// stored before the block stay where they are, but no longer match.
    public var blockedValues: [String]
    /// Regular expressions a normalized value must not match as a whole (`noreply@.*`, `0+`);
    /// a value that does is dropped as a ``blockedValues`` one is.
    public var blockedPatterns: [String] {
        get { patterns.sources }
        set { patterns = BlockedPatterns(newValue) }
    }
    /// For a `unique` or `contact` type: an automatic merge whose customer would hold more
    /// distinct values of this type is declined by the guard ``GuardName/valueLimit`` (a
    /// mega-profile built by junk); attaching values to one customer is not limited.
    /// For a `soft` type: an `identify` (or an import row) that leaves its customer holding more
    /// values of this type releases the least recently presented ones, never one the command
    /// presents; the `identified` event lists them. Merges are not limited by soft values.
    public var maxValues: Int?

    /// The compiled ``blockedPatterns``, compiled once when they are set.
    private var patterns: BlockedPatterns

    /// The ``maxHolders`` of a `contact` or `soft` type that does not set it.
    public static let defaultMaxHolders = 20

    public init(
        name: String,
        kind: IdentifierKind,
        normalize: Normalization = .exact,
        blockMergeOnConflict: Bool = false,
        canGrantAccess: Bool = false,
        defaultCallingCode: String? = nil,
        maxHolders: Int? = nil,
        blockedValues: [String] = [],
        blockedPatterns: [String] = [],
        maxValues: Int? = nil
    ) {
        self.name = name
        self.kind = kind
        self.normalize = normalize
        self.blockMergeOnConflict = blockMergeOnConflict
        self.canGrantAccess = canGrantAccess
        self.defaultCallingCode = defaultCallingCode
        self.maxHolders = maxHolders
        self.blockedValues = blockedValues
        self.patterns = BlockedPatterns(blockedPatterns)
        self.maxValues = maxValues
    }

    /// Whether a command or an import row may declare this type's values access-granting.
    var mayGrantAccess: Bool { canGrantAccess && kind != .soft }

    private enum CodingKeys: String, CodingKey {
        case name, kind, normalize, blockMergeOnConflict, canGrantAccess, defaultCallingCode, maxHolders
        case blockedValues, blockedPatterns, maxValues
    }

    /// The schema document's shape; empty block lists are left out, as absent optionals are.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(kind, forKey: .kind)
        try container.encode(normalize, forKey: .normalize)
        try container.encode(blockMergeOnConflict, forKey: .blockMergeOnConflict)
        try container.encode(canGrantAccess, forKey: .canGrantAccess)
        try container.encodeIfPresent(defaultCallingCode, forKey: .defaultCallingCode)
        try container.encodeIfPresent(maxHolders, forKey: .maxHolders)
        if !blockedValues.isEmpty { try container.encode(blockedValues, forKey: .blockedValues) }
        if !blockedPatterns.isEmpty { try container.encode(blockedPatterns, forKey: .blockedPatterns) }
        try container.encodeIfPresent(maxValues, forKey: .maxValues)
    }

    /// Whether a normalized value of this type is blocked (``blockedValues``, ``blockedPatterns``).
    func isBlocked(_ value: String) -> Bool {
        blockedValues.contains(value) || patterns.matchesWhole(value)
    }

    /// The limit of ``GuardName/valueLimit`` on this type, if any.
    var valueLimit: Int? { kind == .soft ? nil : maxValues }

    /// How many values of this soft type a customer keeps before an attach releases the least
    /// recently presented ones, if any.
    var releaseLimit: Int? { kind == .soft ? maxValues : nil }

    /// The number of active holders from which a value of this type reaches no candidate,
    /// or `nil` when there is no cutoff (a `unique` value has one holder at most).
    var holderCutoff: Int? {
        guard kind != .unique else { return nil }
        let limit = maxHolders ?? Self.defaultMaxHolders
        return limit > 0 ? limit : nil
    }

    /// Normalizes a raw value of this type.
    /// - Throws: ``LedgerError/invalidIdentifierValue(type:value:reason:)``.
    func normalizeValue(_ raw: String) throws(LedgerError) -> String {
        do {
            return try normalize.normalize(raw, defaultCallingCode: defaultCallingCode)
        } catch {
            throw .invalidIdentifierValue(type: name, value: raw, reason: error.reason)
        }
    }
}

/// The ordered identifier types of a store. Order is priority: earlier types win when
/// matches point at different customers.
///
/// ```swift
/// let schema = Schema(types: [
///     IdentifierType(name: "loyalty_card", kind: .unique, blockMergeOnConflict: true),
///     IdentifierType(name: "email", kind: .contact, normalize: .email, canGrantAccess: true),
/// ])
/// ```
///
/// Encodable only, like ``IdentifierType``: ``init(json:)`` reads a schema document.
public struct Schema: Sendable, Hashable, Encodable {
    public var types: [IdentifierType]

    public init(types: [IdentifierType]) { self.types = types }

    private enum CodingKeys: String, CodingKey { case types }

    /// The schema of a new store: `technical_id` and `external_id` unique with merge
    /// blocking, `email`, `phone` and `discount_card` contacts that can grant access,
    /// and `cookie` soft.
    public static let `default` = Schema(types: [
        IdentifierType(name: "technical_id", kind: .unique, blockMergeOnConflict: true),
        IdentifierType(name: "external_id", kind: .unique, blockMergeOnConflict: true),
        IdentifierType(name: "email", kind: .contact, normalize: .email, canGrantAccess: true),
        IdentifierType(name: "phone", kind: .contact, normalize: .phone, canGrantAccess: true),
        IdentifierType(name: "discount_card", kind: .contact, canGrantAccess: true),
        IdentifierType(name: "cookie", kind: .soft),
    ])

    /// The type named `name`, if the schema has it.
    public func type(named name: String) -> IdentifierType? {
        types.first { $0.name == name }
    }

    /// The identifier as the engine stores and matches it.
    /// - Throws: ``LedgerError/unknownIdentifierType(type:)``, ``LedgerError/invalidIdentifierValue(type:value:reason:)``.
    public func normalize(_ identifier: Identifier) throws(LedgerError) -> Identifier {
        guard let type = type(named: identifier.type) else { throw .unknownIdentifierType(type: identifier.type) }
        return Identifier(type: type.name, value: try type.normalizeValue(identifier.value))
    }

    /// The position of `name` in priority order.
    func priority(of name: String) -> Int? {
        types.firstIndex { $0.name == name }
    }

    /// Checks names and the combinations of settings each kind allows, as
    /// ``Ledger/setSchema(_:)`` does; public so that a schema can be refused before a store
    /// is created for it.
    ///
    /// ```swift
    /// try Schema(types: [IdentifierType(name: "cookie", kind: .soft, canGrantAccess: true)]).validate() // throws
    /// ```
    /// - Throws: ``LedgerError/invalidSchema(reason:)``.
    public func validate() throws(LedgerError) {
        if types.isEmpty { throw .invalidSchema(reason: "a schema needs at least one identifier type") }
        var seen = Set<String>()
        for type in types {
            let name = type.name
            guard Self.isValidName(name) else {
                throw .invalidSchema(reason: "type name \(LedgerError.quoted(name)) must match [a-z][a-z0-9_]{0,62}")
            }
            guard seen.insert(name).inserted else {
                throw .invalidSchema(reason: "type \"\(name)\" is listed twice")
            }
            if type.blockMergeOnConflict && type.kind != .unique {
                throw .invalidSchema(reason: "type \"\(name)\": blockMergeOnConflict is for unique types only")
            }
            if type.canGrantAccess && type.kind == .soft {
                throw .invalidSchema(reason: "type \"\(name)\": canGrantAccess is for unique and contact types only")
            }
            if let limit = type.maxHolders {
                guard type.kind != .unique else {
                    throw .invalidSchema(reason: "type \"\(name)\": maxHolders is for contact and soft types only")
                }
                guard limit >= 0 else {
                    throw .invalidSchema(reason: "type \"\(name)\": maxHolders must be 0 (no cutoff) or more, not \(limit)")
                }
            }
            try type.validateMergeStormFields()
            if let code = type.defaultCallingCode {
                guard type.normalize == .phone else {
                    throw .invalidSchema(reason: "type \"\(name)\": defaultCallingCode needs phone normalization")
                }
                guard (1...3).contains(code.count), code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw .invalidSchema(reason: "type \"\(name)\": defaultCallingCode must be 1 to 3 digits")
                }
            }
        }
    }

    /// Whether some type limits its values, so that merges are judged by ``GuardName/valueLimit``.
    var limitsValues: Bool { types.contains { $0.valueLimit != nil } }

    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), bytes.count <= 63 else {
            return false
        }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}

extension IdentifierType {
    /// The checks of ``Schema/validate()`` for ``blockedValues``, ``blockedPatterns`` and ``maxValues``.
    fileprivate func validateMergeStormFields() throws(LedgerError) {
        for value in blockedValues {
            // A value that is not in normalized form could never be presented, so it would block nothing.
            let normalized: String
            do throws(LedgerError) { normalized = try normalizeValue(value) } catch {
                throw .invalidSchema(reason: "type \"\(name)\": blocked value \(LedgerError.quoted(value)) is not a valid value (\(error.description))")
            }
            guard normalized == value else {
                throw .invalidSchema(reason: "type \"\(name)\": blocked value \(LedgerError.quoted(value)) must be given normalized, as \(LedgerError.quoted(normalized))")
            }
        }
        if let (source, problem) = patterns.firstInvalid {
            throw .invalidSchema(reason: "type \"\(name)\": blocked pattern \(LedgerError.quoted(source)) is not a regular expression (\(problem))")
        }
        if let limit = maxValues {
            guard limit >= 1 else {
                throw .invalidSchema(reason: "type \"\(name)\": maxValues must be 1 or more, not \(limit)")
            }
        }
    }
}

/// A type's ``IdentifierType/blockedPatterns``, compiled once when set. Equal and hashed by
/// their sources, so that a schema stays a plain value.
private struct BlockedPatterns: Sendable, Hashable {
    let sources: [String]
    /// One per source, anchored to the whole value; `nil` for a source that does not compile,
    /// which `validate` refuses.
    private let compiled: [NSRegularExpression?]
    /// The first source that does not compile, with why.
    let firstInvalid: (source: String, problem: String)?

    init(_ sources: [String]) {
        self.sources = sources
        var compiled: [NSRegularExpression?] = []
        var firstInvalid: (String, String)?
        for source in sources {
            do {
                // Alone first: a source such as `a)|(b` must not escape the anchoring group.
                _ = try NSRegularExpression(pattern: source)
                compiled.append(try NSRegularExpression(pattern: "\\A(?:" + source + ")\\z"))
            } catch {
                compiled.append(nil)
                if firstInvalid == nil { firstInvalid = (source, "ICU regular expression syntax") }
            }
        }
        self.compiled = compiled
        self.firstInvalid = firstInvalid
    }

    func matchesWhole(_ value: String) -> Bool {
        let range = NSRange(value.startIndex..., in: value)
        return compiled.contains { $0?.firstMatch(in: value, range: range) != nil }
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.sources == rhs.sources }
    func hash(into hasher: inout Hasher) { hasher.combine(sources) }
}
