/// Reads one JSON document (RFC 8259) straight into a ``JSONValue``.
///
/// Written out because `JSONDecoder` into an enum must try each case in turn, and every
/// miss builds a `DecodingError`: that was a fifth of `idledger ingest`'s CPU. It is also
/// stricter than `JSONDecoder`, which took trailing commas and kept the first of two equal
/// keys; both are refused here (docs/decisions.md, "JSON input").
///
/// A number whose exact value is an integer in `Int64`'s range is `.int` (`1.0` and `1e2`
/// too, as with `JSONDecoder`), anything else the nearest `.double`.
struct JSONReader {
    struct Failure: Error {
        /// Offset of the offending byte in the UTF-8 text.
        var offset: Int
        var reason: String
    }

    /// Deeper nesting is refused rather than risking the stack (as `JSONDecoder` does).
    static let maxDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private var depth = 0

    static func read(_ text: String) -> Result<JSONValue, Failure> {
        var text = text
        return text.withUTF8 { utf8 in
            var reader = JSONReader(bytes: UnsafeRawBufferPointer(utf8))
            return Result { () throws(Failure) in try reader.document() }
        }
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func document() throws(Failure) -> JSONValue {
        // A byte-order mark, as an editor may leave at the start of a file.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        let value = try self.value()
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected text after the value") }
        return value
    }

    private mutating func value() throws(Failure) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw failure("expected a value, found the end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("expected a value")
        }
    }

    private mutating func object() throws(Failure) -> JSONValue {
        try enter()
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return leave(.object(members)) }
        repeat {
            skipWhitespace()
            let keyOffset = index
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                let trailingComma = !members.isEmpty && index < bytes.count && bytes[index] == UInt8(ascii: "}")
                throw failure(trailingComma ? "expected a key after ',' (a trailing comma is not JSON)" : "expected a key in quotes")
            }
            let key = try string()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw failure("expected ':' after the key") }
            let value = try self.value()
            if let earlier = members.index(forKey: key).map({ members[$0].key }) {
                index = keyOffset
                // Swift's String equality is Unicode's canonical equivalence: "é" and "e\u0301" are one key.
                let sameBytes = earlier.utf8.elementsEqual(key.utf8)
                throw failure("duplicate key \(LedgerError.quoted(key))" + (sameBytes ? "" : " (an earlier key is the same text in another Unicode form)"))
            }
            members[key] = value
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")) else { throw failure("expected ',' or '}'") }
        return leave(.object(members))
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try enter()
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return leave(.array(elements)) }
        repeat {
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { throw failure("expected a value after ',' (a trailing comma is not JSON)") }
            elements.append(try value())
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "]")) else { throw failure("expected ',' or ']'") }
        return leave(.array(elements))
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested deeper than \(Self.maxDepth) levels") }
        index += 1
    }

    private mutating func leave(_ value: JSONValue) -> JSONValue {
        depth -= 1
        return value
    }

    // MARK: Scalars

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let expected = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= expected.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
            throw failure("expected \(word)")
        }
        index += expected.count
    }

    /// The string starting at the opening quote at `index`; runs without escapes are copied as they are.
    private mutating func string() throws(Failure) -> String {
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                defer { index += 1 }
                return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            guard byte >= 0x20 else { throw failure("control character in a string (escape it)") }
            index += 1
        }
        throw failure("unterminated string")
    }

    private mutating func escapedString(from start: Int) throws(Failure) -> String {
        var utf8 = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw failure("unterminated string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): utf8.append(contentsOf: String(try unicodeEscape()).utf8)
                default:
                    index -= 2
                    throw failure("unknown escape")
                }
            default:
                guard byte >= 0x20 else { throw failure("control character in a string (escape it)") }
                utf8.append(byte)
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    /// The four hex digits after `\u`, or a UTF-16 surrogate pair written as two such escapes.
    private mutating func unicodeEscape() throws(Failure) -> Character {
        let escapeStart = index - 2
        let unit = try hex4()
        var scalar: Unicode.Scalar?
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { break }
            index += 2
            let low = try hex4()
            if (0xDC00...0xDFFF).contains(low) {
                scalar = Unicode.Scalar(0x10000 + (UInt32(unit - 0xD800) << 10 | UInt32(low - 0xDC00)))
            }
        default:
            scalar = Unicode.Scalar(unit)
        }
        guard let scalar else {
            index = escapeStart
            throw failure("unpaired UTF-16 surrogate")
        }
        return Character(scalar)
    }

    private mutating func hex4() throws(Failure) -> UInt16 {
        guard bytes.count - index >= 4 else { throw failure("expected four hex digits") }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("expected four hex digits")
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        let negative = consume(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("expected a digit") }
        if bytes[index] == UInt8(ascii: "0"), index + 1 < bytes.count, isDigit(bytes[index + 1]) {
            index += 1
            throw failure("leading zero in a number")
        }
        let integerPart = try digits()
        var fractionPart = index..<index
        if consume(UInt8(ascii: ".")) { fractionPart = try digits() }
        var exponent = 0
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            let sign = consume(UInt8(ascii: "-")) ? -1 : 1
            if sign > 0 { _ = consume(UInt8(ascii: "+")) }
            for digit in bytes[try digits()] {
                // An exponent larger than the number has digits (20 to spare) makes it either
                // out of `Int64`'s range or not an integer, whatever it is exactly; the double
                // is parsed from the text.
                exponent = min(exponent * 10 + Int(digit - UInt8(ascii: "0")), bytes.count + 20)
            }
            exponent *= sign
        }
        if let integer = exactInteger(integerPart, fractionPart, exponent: exponent, negative: negative) {
            return .int(integer)
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            index = start
            throw failure("number out of range")
        }
        return .double(double)
    }

    /// The number's value when it is exactly an integer in `Int64`'s range: its digits (integer
    /// part, then fraction) times 10^(`exponent` − fraction digits).
    private func exactInteger(_ integerPart: Range<Int>, _ fractionPart: Range<Int>, exponent: Int, negative: Bool) -> Int64? {
        // A plain integer, the common case, is read in place.
        guard !fractionPart.isEmpty else { return Self.integer(bytes[integerPart], scale: exponent, negative: negative) }
        let digits = Array(bytes[integerPart]) + Array(bytes[fractionPart])
        return Self.integer(digits[...], scale: exponent - fractionPart.count, negative: negative)
    }

    private static func integer<Digits: BidirectionalCollection<UInt8>>(_ digits: Digits, scale: Int, negative: Bool) -> Int64?
    where Digits.SubSequence == Digits {
        var digits = digits
        var scale = scale
        while digits.count > 1 || scale < 0, digits.last == UInt8(ascii: "0") {
            digits = digits.dropLast()
            scale += 1
        }
        while digits.first == UInt8(ascii: "0") { digits = digits.dropFirst() }
        if digits.isEmpty { return 0 }
        // 10^19 is past Int64's range, so a value of more than 19 digits never fits.
        guard scale >= 0, digits.count + scale <= 19 else { return nil }
        var value: UInt64 = 0
        for digit in digits { value = value * 10 + UInt64(digit - UInt8(ascii: "0")) }
        for _ in 0..<scale { value *= 10 }
        if negative { return value <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- value) : nil }
        return value <= UInt64(Int64.max) ? Int64(value) : nil
    }

    /// A run of one or more digits; returns where it is.
    private mutating func digits() throws(Failure) -> Range<Int> {
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("expected a digit") }
        let start = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        return start..<index
    }

    // MARK: Bytes

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private func failure(_ reason: String) -> Failure {
        Failure(offset: index, reason: reason)
    }
}
