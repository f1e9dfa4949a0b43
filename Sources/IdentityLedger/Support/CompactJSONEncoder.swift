import Foundation

/// Encodes an `Encodable` value as compact JSON with sorted keys and unescaped slashes: the
/// bytes `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]`, without its
/// boxing of every value, which was most of `log --json`'s and `export --json`'s CPU.
/// Floating-point numbers and the Foundation types `JSONEncoder` treats specially (`Date`,
/// `Data`, `Decimal`, `URL`) are still written by `JSONEncoder`: they are rare in the
/// output, and its choice is the reference. A test compares both on the CLI's outputs.
///
/// The one JSON writer: the CLI's output, ``JSONValue``'s description and the strings of the
/// import errors file. `package`: the CLI writes with it.
package struct CompactJSONEncoder {
    package init() {}

    package func encode<T: Encodable>(_ value: T) throws -> String {
        let tree = try Self.tree(value)
        if case .deferred(let encoder) = tree, encoder.result == nil {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        var out = ""
        tree.write(to: &out)
        return out
    }

    fileprivate static func tree<T: Encodable>(_ value: T) throws -> Tree {
        switch value {
        case let string as String: return .scalar(quoted(string))
        case let bool as Bool: return .scalar(bool ? "true" : "false")
        // Every integer type: their own `encode(to:)` would come back here through a
        // single-value container, forever.
        case let int as any BinaryInteger: return .scalar(String(describing: int))
        case is Double, is Float, is Date, is Data, is Decimal, is URL: return .scalar(try viaJSONEncoder(value))
        default:
            let encoder = TreeEncoder()
            try value.encode(to: encoder)
            return .deferred(encoder)
        }
    }

    /// `value` as ``encode(_:)`` writes it, without building its tree: the import's errors file
    /// writes one per rejected row, and the tree made a file of rejections twice as slow.
    package static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let bool): out += bool ? "true" : "false"
        case .int(let int): out += String(int)
        case .double: out += (try? viaJSONEncoder(value)) ?? "null"
        case .string(let string): out += quoted(string)
        case .array(let elements):
            out += "["
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out += "," }
                write(element, to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            // Sorted as the tree sorts them (by UTF-8 bytes).
            for (offset, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if offset > 0 { out += "," }
                out += quoted(member.key) + ":"
                write(member.value, to: &out)
            }
            out += "}"
        }
    }

    fileprivate static func viaJSONEncoder<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A JSON string literal, escaped as `JSONEncoder` escapes it (by UTF-8 byte: every
    /// byte to escape is ASCII, and most strings have none).
    static func quoted(_ string: String) -> String {
        func escaped(_ byte: UInt8) -> Bool { byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
        guard string.utf8.contains(where: escaped) else { return "\"" + string + "\"" }
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(string.utf8.count + 8)
        for byte in string.utf8 {
            guard escaped(byte) else { out.append(byte); continue }
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case 0x08: out += Array(#"\b"#.utf8)
            case 0x0C: out += Array(#"\f"#.utf8)
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x0D: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            default:
                out += Array(#"\u00"#.utf8) + Array([byte].hexString.utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }
}

/// What the containers fill in; objects and arrays are classes because a nested container
/// keeps adding to its part after it was attached.
fileprivate enum Tree {
    case scalar(String)
    case object(Members)
    case array(Elements)
    /// Whatever an encoder handed out (a value's own, a super encoder) has put in it by the
    /// time the whole is written; an empty object if nothing.
    case deferred(TreeEncoder)

    func write(to out: inout String) {
        switch self {
        case .scalar(let text):
            out += text
        case .deferred(let encoder):
            (encoder.result ?? .object(Members())).write(to: &out)
        case .object(let members):
            out += "{"
            // By UTF-8 bytes, as JSONEncoder sorts: String's `<` would put "e\u{301}" with "é".
            for (offset, member) in members.values.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if offset > 0 { out += "," }
                out += CompactJSONEncoder.quoted(member.key) + ":"
                member.value.write(to: &out)
            }
            out += "}"
        case .array(let elements):
            out += "["
            for (offset, element) in elements.values.enumerated() {
                if offset > 0 { out += "," }
                element.write(to: &out)
            }
            out += "]"
        }
    }
}

fileprivate final class Members {
    var values: [String: Tree] = [:]
}

fileprivate final class Elements {
    var values: [Tree] = []
}

fileprivate final class TreeEncoder: Encoder {
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] = [:]
    var result: Tree?

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let members)? = result { return KeyedEncodingContainer(KeyedContainer(members: members)) }
        let members = Members()
        result = .object(members)
        return KeyedEncodingContainer(KeyedContainer(members: members))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let elements)? = result { return UnkeyedContainer(elements: elements) }
        let elements = Elements()
        result = .array(elements)
        return UnkeyedContainer(elements: elements)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueContainer(encoder: self) }
}

fileprivate struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let members: Members
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { members.values[key.stringValue] = .scalar("null") }
    // The common kinds without the generic path's dynamic casts.
    mutating func encode(_ value: String, forKey key: Key) throws { members.values[key.stringValue] = .scalar(CompactJSONEncoder.quoted(value)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { members.values[key.stringValue] = .scalar(value ? "true" : "false") }
    mutating func encode(_ value: Int, forKey key: Key) throws { members.values[key.stringValue] = .scalar(String(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { members.values[key.stringValue] = .scalar(String(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { members.values[key.stringValue] = .scalar(String(value)) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        members.values[key.stringValue] = try CompactJSONEncoder.tree(value)
    }

    // A container opened twice for one key adds to the first, as with JSONEncoder.
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        if case .object(let nested)? = members.values[key.stringValue] { return KeyedEncodingContainer(KeyedContainer<NestedKey>(members: nested)) }
        let nested = Members()
        members.values[key.stringValue] = .object(nested)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(members: nested))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        if case .array(let nested)? = members.values[key.stringValue] { return UnkeyedContainer(elements: nested) }
        let nested = Elements()
        members.values[key.stringValue] = .array(nested)
        return UnkeyedContainer(elements: nested)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named name: String) -> any Encoder {
        let encoder = TreeEncoder()
        members.values[name] = .deferred(encoder)
        return encoder
    }
}

fileprivate struct UnkeyedContainer: UnkeyedEncodingContainer {
    let elements: Elements
    var codingPath: [any CodingKey] { [] }
    var count: Int { elements.values.count }

    mutating func encodeNil() throws { elements.values.append(.scalar("null")) }

    mutating func encode<T: Encodable>(_ value: T) throws { elements.values.append(try CompactJSONEncoder.tree(value)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = Members()
        elements.values.append(.object(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(members: nested))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = Elements()
        elements.values.append(.array(nested))
        return UnkeyedContainer(elements: nested)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = TreeEncoder()
        elements.values.append(.deferred(encoder))
        return encoder
    }
}

fileprivate struct SingleValueContainer: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { encoder.result = .scalar("null") }

    mutating func encode<T: Encodable>(_ value: T) throws { encoder.result = try CompactJSONEncoder.tree(value) }
}
