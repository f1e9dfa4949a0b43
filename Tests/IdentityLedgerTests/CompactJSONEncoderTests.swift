import Foundation
import Testing
@testable import IdentityLedger
@testable import idledger

/// The CLI's JSON output encoder writes exactly what `JSONEncoder` writes with sorted keys
/// and unescaped slashes, for every kind of output and for awkward strings and numbers.
struct CompactJSONEncoderTests {
    static func reference<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func expectSame<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (mine, theirs) = (try CompactJSONEncoder().encode(value), try reference(value))
        #expect(mine == theirs, "\(mine)\n\(theirs)", sourceLocation: sourceLocation)
    }

    /// Every output of a store's life: results with merges and declines, customers, lookups,
    /// every event kind of the log, statistics.
    @Test func outputsOfARealStore() async throws {
        let ledger = try await makeLedger()
        let odd: JSONValue = ["10": 1, "9": 2.5, "B": "q\"b\\s/\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}\u{2028}é😀", "a": nil,
                              "é": [true, false, -0.0, 1e21, 1.5e-7, 0.1, 12345.678], "ａ": ["e\u{301}": 1, "😀": 3, "z": 4, "\u{E000}": 5], "😀": 1, "\u{E000}": 2]
        try await ledger.identify("email=ann@example.com", "cookie=c1", access: ["email"], properties: ["odd": odd])
        try await ledger.identify("email=ann@example.com", "phone=+447700900001", properties: ["n": 1])
        try await ledger.identify("cookie=c2", "phone=+447700900001")
        try await ledger.identify("email=bob@example.com", "cookie=c2", access: ["email"])
        let merged = try await ledger.identify("email=bob@example.com", "external_id=X-1")
        let declined = try await ledger.identify("email=ann@example.com", "external_id=X-2")
        for result in [merged, declined] {
            try Self.expectSame(ResultOutput(result, includeGuards: true, line: 7))
            try Self.expectSame(ResultOutput(result, includeGuards: false))
        }
        for id in 1...4 {
            guard let customer = try? ledger.customer(.id(CustomerID(id))) else { continue }
            try Self.expectSame(CustomerOutput(customer))
        }
        for event in try ledger.events(from: 1, limit: 1000) { try Self.expectSame(EventOutput(event)) }
        try Self.expectSame(StatsOutput(try ledger.statistics()))
        try Self.expectSame(ErrorOutput(error: ErrorBody(code: "x", message: "a \"quoted\"\tline\n")))
        try Self.expectSame(odd)
    }

    /// Random JSON values (the property values the outputs carry), keys in every order.
    @Test func randomValues() throws {
        var random = SeededGenerator(seed: 5)
        for _ in 0..<2_000 {
            let (_, value) = JSONReaderTests.document(&random, depth: 0)
            try Self.expectSame(value)
            try Self.expectSame(["k": value, "K": value, "": value])
        }
    }

    /// Objects whose keys are drawn from spellings that sort differently by UTF-8 bytes, by
    /// UTF-16 units and by Swift's `<` (canonical equivalence).
    @Test func keysInEveryUnicodeOrder() throws {
        let pool = ["e\u{301}", "é", "f", "\u{E000}", "ａ", "😀", "", "A", "a", "10", "9", "\u{7F}", "ß", "\u{1100}\u{1161}", "가"]
        var random = SeededGenerator(seed: 9)
        for _ in 0..<2_000 {
            var object: [String: JSONValue] = [:]
            for _ in 0..<(1 + random.next() % 6) { object[pool[Int(random.next() % UInt64(pool.count))]] = .int(Int64(random.next() % 100)) }
            try Self.expectSame(JSONValue.object(object))
        }
    }

    /// Integer types of every width, the Foundation types JSONEncoder treats specially, and
    /// containers used in unusual ways (a container opened twice for one key, super
    /// encoders holding a single value, an array or an object).
    @Test func everyKindOfValue() throws {
        try Self.expectSame(Integers())
        try Self.expectSame([Int8(-1), Int8(1)])
        try Self.expectSame(UInt16(9))
        try Self.expectSame(FoundationValues())
        try Self.expectSame(UnusualContainers())
        try Self.expectSame(["k": NoValue()])
        #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode(NoValue()) }
        #expect(throws: EncodingError.self) { try Self.reference(NoValue()) }
    }

    struct Integers: Encodable {
        var a: Int8 = -3, b: UInt8 = 250, c: Int16 = -300, d: UInt16 = 6000, e: UInt = 7, f: Int32 = .min, g: UInt32 = .max
    }

    struct FoundationValues: Encodable {
        var data = Data([1, 2, 255])
        var decimal = Decimal(string: "12.50")!
        var url = URL(string: "https://example.com/a?b=c")!
        var date = Date(timeIntervalSince1970: 1_790_000_000.5)
    }

    struct NoValue: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    struct UnusualContainers: Encodable {
        enum Key: String, CodingKey { case a, b, c }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            var first = container.nestedContainer(keyedBy: Key.self, forKey: .a)
            try first.encode(1, forKey: .b)
            var again = container.nestedContainer(keyedBy: Key.self, forKey: .a)
            try again.encode(2, forKey: .c)
            var single = container.superEncoder().singleValueContainer()
            try single.encode("str")
            var list = container.superEncoder(forKey: .b).unkeyedContainer()
            try list.encode(1)
            try list.encode("x")
            var array = container.nestedUnkeyedContainer(forKey: .c)
            try array.encode(true)
            var inner = array.superEncoder().container(keyedBy: Key.self)
            try inner.encode("y", forKey: .a)
        }
    }

    @Test func nonFiniteNumbersFailAsWithJSONEncoder() {
        #expect(throws: (any Error).self) { try CompactJSONEncoder().encode(JSONValue.double(.nan)) }
        #expect(throws: (any Error).self) { try Self.reference(JSONValue.double(.nan)) }
    }
}
