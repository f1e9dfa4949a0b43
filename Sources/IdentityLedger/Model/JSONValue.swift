import Foundation

/// A JSON value: what a customer property holds.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses one JSON document (any value, not only objects and arrays), strictly: no
    /// trailing commas, no key twice in one object.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` saying what is wrong and at which byte.
    public static func parse(_ text: String) throws(LedgerError) -> JSONValue {
        switch JSONReader.read(text) {
        case .success(let value): return value
        case .failure(let failure):
            throw .invalidInput(reason: "not valid JSON at byte \(failure.offset + 1): \(failure.reason)")
        }
    }

    /// Compact JSON with sorted keys.
    public var description: String {
        (try? CompactJSONEncoder().encode(self)) ?? "null"
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// Deepest nesting a stored property may have: far beyond real profile data, well
    /// within what the event decoder and the JSON printer accept.
    static let maxDepth = 64

    /// Why this value cannot be stored (too deep, or a number JSON cannot print), or `nil`.
    func storageProblem(depth: Int = 1) -> String? {
        if depth > Self.maxDepth { return "nested deeper than \(Self.maxDepth) levels" }
        let children: [JSONValue]
        switch self {
        case .double(let number) where !number.isFinite: return "\(number) is not a JSON number"
        case .array(let values): children = values
        case .object(let members): children = Array(members.values)
        default: return nil
        }
        // A plain loop: each child is checked once (a lazy first-match would check it twice per level).
        for child in children {
            if let problem = child.storageProblem(depth: depth + 1) { return problem }
        }
        return nil
    }
}
