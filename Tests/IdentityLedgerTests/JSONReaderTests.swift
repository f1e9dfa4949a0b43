import Foundation
import Testing
@testable import IdentityLedger

struct JSONReaderTests {
    /// `JSONDecoder` into the same enum: what `JSONValue.parse` used before `JSONReader`.
    static func oracle(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static func read(_ text: String) -> Result<JSONValue, JSONReader.Failure> { JSONReader.read(text) }

    /// Random documents, written with random spacing and escapes: both readers give the same value.
    @Test func agreesWithJSONDecoderOnValidDocuments() throws {
        var random = SeededGenerator(seed: 11)
        for _ in 0..<3_000 {
            let (text, _) = Self.document(&random, depth: 0)
            #expect(try Self.read(text).get() == Self.oracle(text), "\(text)")
        }
    }

    /// The same documents with a few characters deleted, inserted or replaced. Whatever this
    /// reader takes, `JSONDecoder` takes with the same value; what only `JSONDecoder` takes
    /// must be one of the two refusals on purpose.
    @Test func isNeverLaxerThanJSONDecoder() {
        var random = SeededGenerator(seed: 12)
        let alphabet = Array("{}[]\",:\\ 0123456789.eE+-tfnulr\t\nu\u{1}é")
        var refusedOnPurpose = 0
        for _ in 0..<20_000 {
            var characters = Array(Self.document(&random, depth: 0).0)
            for _ in 0...(random.next() % 3) {
                let position = Int(random.next() % UInt64(characters.count + 1))
                let character = alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 3 {
                case 0 where position < characters.count: characters.remove(at: position)
                case 1 where position < characters.count: characters[position] = character
                default: characters.insert(character, at: position)
                }
            }
            let text = String(characters)
            switch Self.read(text) {
            case .success(let value):
                #expect(Self.same(Self.oracle(text), value), "\(text)")
            case .failure(let failure):
                if Self.oracle(text) != nil {
                    refusedOnPurpose += 1
                    #expect(failure.reason.contains("trailing comma") || failure.reason.contains("duplicate key"), "\(text): \(failure.reason)")
                }
            }
        }
        // The mutations do reach the two differences.
        #expect(refusedOnPurpose > 0)
    }

    @Test(arguments: [
        ("1", JSONValue.int(1)), ("1.0", .int(1)), ("1e2", .int(100)), ("-0", .int(0)), ("-0.0", .int(0)),
        ("2.5E-1", .double(0.25)), ("0.001e3", .int(1)), ("100e-2", .int(1)), ("-0e-5", .int(0)),
        ("266674557309e+7", .int(2_666_745_573_090_000_000)), ("-9223372036854775809", .double(-9.223372036854775808e18)),
        ("9223372036854775807", .int(.max)), ("-9223372036854775808", .int(.min)),
        ("9223372036854775808", .double(9.223372036854775808e18)),
        ("\"\\ud83d\\ude00 \\u00e9\\/\\\"\\\\\\b\\f\\n\\r\\t\\u0000\"", .string("😀 é/\"\\\u{8}\u{c}\n\r\t\u{0}")),
        ("\u{FEFF}[true, false, null]", .array([true, false, nil])),
        (" \r\n\t{\"a\" : {\"b\":[]} } ", .object(["a": .object(["b": .array([])])])),
    ] as [(String, JSONValue)])
    func reads(_ text: String, _ value: JSONValue) throws {
        #expect(try Self.read(text).get() == value)
        #expect(Self.oracle(text) == value)
    }

    /// Not exactly integers, so doubles; `JSONDecoder` made integers of them.
    @Test(arguments: [
        ("4.0000000000000001", 4.0), ("1e-400", 0), ("827773044070207991.8", 827773044070207991.8),
        ("95665103403031054.72", 95665103403031054.72),
    ] as [(String, Double)])
    func readsNearIntegersAsDoubles(_ text: String, _ value: Double) throws {
        #expect(try Self.read(text).get() == .double(value))
        #expect(Self.oracle(text).map { Self.same($0, .double(value)) } == true)
    }

    /// Exactly integers however written (`JSONDecoder` made a double of the first).
    @Test func readsExactIntegersAsIntegers() throws {
        #expect(try Self.read("-9223372036854775808.0").get() == .int(.min))
        #expect(try Self.read("1.000000000000000000000000e3").get() == .int(1000))
        #expect(try Self.read("92233720368547758070e-1").get() == .int(.max))
    }

    @Test(arguments: [
        ("{\"a\":1,}", 8, "expected a key after ',' (a trailing comma is not JSON)"),
        ("[1,]", 4, "expected a value after ',' (a trailing comma is not JSON)"),
        ("{\"a\":1,\"a\":2}", 8, "duplicate key \"a\""),
        ("{\"op\":\"identify\" \"ids\":{}}", 18, "expected ',' or '}'"),
        ("[1 2]", 4, "expected ',' or ']'"),
        ("{1:2}", 2, "expected a key in quotes"),
        ("\"a\\ud800b\"", 3, "unpaired UTF-16 surrogate"),
        ("\"\\udc00\"", 2, "unpaired UTF-16 surrogate"),
        ("\"\\ud800", 2, "unpaired UTF-16 surrogate"),
        ("[\"\\ud800", 3, "unpaired UTF-16 surrogate"),
        ("{\"\\u00e9\":1,\"e\u{301}\":2}", 13, "duplicate key \"e\u{301}\" (an earlier key is the same text in another Unicode form)"),
        ("\"a\\xb\"", 3, "unknown escape"),
        ("\"a\tb\"", 3, "control character in a string (escape it)"),
        ("\"abc", 5, "unterminated string"),
        ("01", 2, "leading zero in a number"),
        ("1.", 3, "expected a digit"),
        ("-", 2, "expected a digit"),
        ("1e400", 1, "number out of range"),
        ("tru", 1, "expected true"),
        ("nulls", 5, "unexpected text after the value"),
        ("", 1, "expected a value, found the end"),
        ("+1", 1, "expected a value"),
    ] as [(String, Int, String)])
    func refuses(_ text: String, _ byte: Int, _ reason: String) {
        #expect(throws: LedgerError.invalidInput(reason: "not valid JSON at byte \(byte): \(reason)")) { try JSONValue.parse(text) }
    }

    /// An exponent as long as the digits: the exact value decides, not a capped exponent.
    @Test func exponentsAsLargeAsTheDigits() throws {
        let zeros = String(repeating: "0", count: 1_000_000)
        #expect(try Self.read("1" + zeros + "e-1000005").get() == .double(1e-5))
        #expect(try Self.read("0." + zeros.dropLast() + "1e1000005").get() == .int(100_000))
        #expect(try Self.read("1" + zeros + "e-1000000").get() == .int(1))
    }

    @Test func nestingIsLimited() throws {
        let deepest = String(repeating: "[", count: JSONReader.maxDepth) + String(repeating: "]", count: JSONReader.maxDepth)
        #expect(throws: Never.self) { try JSONValue.parse(deepest) }
        let deeper = "[" + deepest + "]"
        #expect(throws: LedgerError.invalidInput(reason: "not valid JSON at byte 513: nested deeper than 512 levels")) { try JSONValue.parse(deeper) }
        #expect(Self.oracle(deeper) == nil)
    }

    /// Equal, except where `JSONDecoder` rounded a number that is not exactly an integer to
    /// one (`4.0000000000000001`, `827773044070207991.8`): this reader keeps it a double.
    static func same(_ old: JSONValue?, _ new: JSONValue?) -> Bool {
        switch (old, new) {
        case (.array(let x)?, .array(let y)?): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x)?, .object(let y)?): return x.count == y.count && x.allSatisfy { same($0.value, y[$0.key]) }
        case (.int(let x)?, .double(let y)?): return Double(x) == y
        default: return old == new
        }
    }

    // MARK: Generator

    /// A random JSON document and its value; keys of one object are distinct.
    static func document(_ random: inout SeededGenerator, depth: Int) -> (String, JSONValue) {
        func space() -> String { ["", "", " ", "\n", "\t ", "\r\n"][Int(random.next() % 6)] }
        let kind = depth >= 3 ? random.next() % 5 : random.next() % 7
        let (text, value): (String, JSONValue)
        switch kind {
        case 0: (text, value) = ("null", .null)
        case 1: let b = random.next() % 2 == 0; (text, value) = (b ? "true" : "false", .bool(b))
        case 2: (text, value) = number(&random)
        case 3, 4: let s = string(&random); (text, value) = (s.0, .string(s.1))
        case 5:
            var parts: [String] = [], values: [JSONValue] = []
            for _ in 0..<random.next() % 4 {
                let element = document(&random, depth: depth + 1)
                parts.append(space() + element.0 + space())
                values.append(element.1)
            }
            (text, value) = ("[" + parts.joined(separator: ",") + "]", .array(values))
        default:
            var parts: [String] = [], members: [String: JSONValue] = [:]
            for _ in 0..<random.next() % 4 {
                let key = string(&random)
                guard members[key.1] == nil else { continue }
                let member = document(&random, depth: depth + 1)
                parts.append(space() + key.0 + space() + ":" + space() + member.0 + space())
                members[key.1] = member.1
            }
            (text, value) = ("{" + parts.joined(separator: ",") + "}", .object(members))
        }
        return (space() + text + space(), value)
    }

    static func number(_ random: inout SeededGenerator) -> (String, JSONValue) {
        switch random.next() % 6 {
        case 0: let n = Int64(bitPattern: random.next()); return (String(n), .int(n))
        case 1: let n = Int64(random.next() % 1000) - 500; return (String(n), .int(n))
        case 2: let n = Int64(random.next() % 100); return ("\(n).0", .int(n))
        case 3: let n = Int64(random.next() % 100); return ("\(n)e2", .int(n * 100))
        case 4: let n = Double(random.next() % 100_000) / 64 + 1 / 128; return (String(n), .double(n))
        default: let n = Double(random.next() % 1000) * 1e-5 + 1e-6; return ("\(n)", .double(Double("\(n)")!))
        }
    }

    /// A quoted string with plain ASCII, UTF-8, escapes and surrogate pairs, and its value.
    static func string(_ random: inout SeededGenerator) -> (String, String) {
        var text = "\"", value = ""
        for _ in 0..<random.next() % 6 {
            switch random.next() % 7 {
            case 0: text += "\\n"; value += "\n"
            case 1: text += "\\u00e9"; value += "é"
            case 2: text += "\\ud83d\\ude00"; value += "😀"
            case 3: text += "é"; value += "é"
            case 4: text += "\\\""; value += "\""
            default: let c = Character(Unicode.Scalar(UInt8(97 + random.next() % 26))); text.append(c); value.append(c)
            }
        }
        return (text + "\"", value)
    }
}
