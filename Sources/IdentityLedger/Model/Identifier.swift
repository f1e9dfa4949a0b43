#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        let byType = compareUTF8(lhs.type, rhs.type)
        return byType != 0 ? byType < 0 : compareUTF8(lhs.value, rhs.value) < 0
    }
}

/// The order of two strings' UTF-8 bytes (negative, zero, positive), compared in place:
/// sorting a customer's identifiers runs this for every pair it compares.
func compareUTF8(_ a: String, _ b: String) -> Int {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            let common = min(x.count, y.count)
            let order = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
            return order != 0 ? Int(order) : x.count - y.count
        }
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
