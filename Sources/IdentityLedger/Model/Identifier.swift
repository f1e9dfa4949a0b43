/// A customer's number: positive, assigned in creation order (replay gives the same numbers).
public typealias CustomerID = UInt64

/// A typed identifier value, e.g. `email=ann@example.com`.
public struct Identifier: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var type: String
    public var value: String

    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    /// Parses `TYPE=VALUE` (the value may itself contain `=`).
    public init?(parsing text: String) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return nil }
        self.init(type: String(text[..<equals]), value: String(text[text.index(after: equals)...]))
    }

    public var description: String { "\(type)=\(value)" }

    /// By type name, then value bytes (type names are ASCII, so this is byte order throughout).
    public static func < (lhs: Identifier, rhs: Identifier) -> Bool {
        if lhs.type != rhs.type { return lhs.type < rhs.type }
        return lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}

/// An identifier as a customer holds it.
public struct HeldIdentifier: Sendable, Hashable, Codable {
    public var type: String
    public var value: String
    /// Whether this value grants access to the account (login or checkout credential).
    public var access: Bool
    /// The log position at which the customer (or a customer merged into it) got the value.
    public var since: UInt64

    public var identifier: Identifier { Identifier(type: type, value: value) }
}
