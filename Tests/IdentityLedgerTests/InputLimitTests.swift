import Foundation
import Testing
@testable import IdentityLedger

/// The limits of behaviour §5.8 on every path into the engine: a property value at most 64 KiB as the
/// engine encodes it, a command (and an ingest line, an import row) at most 1 MiB; and error
/// messages that quote only the start of a long value.
struct InputLimitTests {
    /// The encoded size of a string property is its UTF-8 bytes plus a tag and a length.
    static func stringOfEncodedSize(_ size: Int) -> JSONValue {
        var writer = BinaryWriter()
        writer.write(JSONValue.string(String(repeating: "x", count: size - 4)))
        #expect(writer.bytes.count == size)
        return .string(String(repeating: "x", count: size - 4))
    }

    @Test func aPropertyOverSixtyFourKiBIsRefused() async throws {
        let ledger = try await makeLedger()
        let atLimit = Self.stringOfEncodedSize(65_536)
        try await ledger.identify("email=a@example.com", properties: ["bio": atLimit])
        let error = try await expectRefused(ledger, code: "inputTooLarge") {
            try await ledger.identify("email=a@example.com", properties: ["bio": Self.stringOfEncodedSize(65_537)])
        }
        #expect(error?.description == #"property "bio" is 65537 bytes, over the limit of 65536 bytes"#)
        // In an array, an update and a 10 MB value alike.
        try await expectRefused(ledger, code: "inputTooLarge") {
            try await ledger.update("email=a@example.com", properties: ["tags": .array(Array(repeating: "abcdefgh", count: 8_000))])
        }
        try await expectRefused(ledger, code: "inputTooLarge") {
            try await ledger.update("email=a@example.com", properties: ["bio": .string(String(repeating: "x", count: 10 << 20))])
        }
        #expect(try ledger.customer(.id(1)).properties["bio"] == atLimit)
    }

    @Test func aCommandOverOneMiBIsRefused() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=a@example.com")
        try await ledger.identify("email=b@example.com")
        // Twenty properties of 60 kB each: each under its limit, together over the command's.
        let many = Dictionary(uniqueKeysWithValues: (1...20).map { ("p\($0)", JSONValue.string(String(repeating: "x", count: 60_000))) })
        let error = try await expectRefused(ledger, code: "inputTooLarge") {
            try await ledger.identify("email=a@example.com", properties: many)
        }
        #expect(error?.description.hasPrefix("the command is ") == true && error?.description.hasSuffix("over the limit of 1048576 bytes") == true)
        try await expectRefused(ledger, code: "inputTooLarge") {
            _ = try await ledger.merge(MergeCommand(into: .id(1), from: .id(2), actor: "ops", note: String(repeating: "n", count: 2 << 20)))
        }
        // A 10 MB email is refused by its size before it is normalized, and not quoted whole.
        let huge = try await expectRefused(ledger, code: "inputTooLarge") {
            _ = try await ledger.identify(IdentifyCommand(identifiers: [Identifier(type: "email", value: String(repeating: "a", count: 10 << 20))]))
        }
        #expect((huge?.description.utf8.count ?? .max) < 200)
        // In a batch, the command over the limit fails alone.
        let results = try await ledger.execute(batch: [
            .update(UpdateCommand(identifiers: ids("email=a@example.com"), properties: many)),
            .update(UpdateCommand(identifiers: ids("email=a@example.com"), properties: ["x": 1])),
        ])
        #expect(results.map { (try? $0.get()) == nil } == [true, false])
        if case .failure(let first) = results[0] { #expect(first.code == "inputTooLarge") }
    }

    /// An invalid value's message quotes its first 64 characters and its length: the message
    /// for a 10 MB invalid email repeated the whole value.
    /// A value shared by many customers names the first 20 in an ambiguousCustomer message.
    @Test func anAmbiguousCustomerMessageListsAtMostTwentyHolders() {
        let error = LedgerError.ambiguousCustomer(identifier: Identifier(type: "phone", value: "+442000000000"), candidates: Array(1...25))
        #expect(error.description.contains("1, 2, 3"))
        #expect(error.description.contains("20 and 5 more"))
        #expect(!error.description.contains("21"))
        let few = LedgerError.ambiguousCustomer(identifier: Identifier(type: "phone", value: "+442000000000"), candidates: [3, 4])
        #expect(few.description.contains("customers 3, 4;"))
    }

    @Test func errorsQuoteOnlyTheStartOfALongValue() async throws {
        let ledger = try await makeLedger()
        let long = String(repeating: "a", count: 500_000) + "@"
        let error = try await expectRefused(ledger, code: "invalidIdentifierValue") {
            _ = try await ledger.identify(IdentifyCommand(identifiers: [Identifier(type: "email", value: long)]))
        }
        let message = error?.description ?? ""
        #expect(message.utf8.count < 300 && message.contains(String(repeating: "a", count: 64) + "…\" (500001 bytes)"), "\(message)")
        // Unknown types, ingest fields and times are quoted the same way.
        for line in [
            #"{"op":"identify","ids":{"email":"a@b.co"},"at":""# + String(repeating: "9", count: 100_000) + #""}"#,
            #"{"op":"identify","ids":{"email":"a@b.co"},""# + String(repeating: "k", count: 100_000) + #"":1}"#,
            #"{"op":""# + String(repeating: "o", count: 100_000) + #""}"#,
        ] {
            do {
                _ = try Command(jsonLine: line)
                Issue.record("accepted")
            } catch {
                #expect(error.description.utf8.count < 400, "\(error.description.prefix(200))")
            }
        }
        let unknown = try await expectRefused(ledger, code: "unknownIdentifierType") {
            _ = try await ledger.identify(IdentifyCommand(identifiers: [Identifier(type: String(repeating: "t", count: 100_000), value: "x")]))
        }
        #expect((unknown?.description.utf8.count ?? .max) < 200)
        // Invisible characters are shown escaped.
        #expect(LedgerError.unknownIdentifierType(type: "a\u{202E}b\u{0}").description == #"unknown identifier type "a\u{202E}b\u{0}""#)
    }

    // MARK: import

    /// A CSV row whose fields together pass 1 MiB is refused (each field was capped at 1 MiB,
    /// so four 800 kB cells were taken), and the rows after it are imported.
    @Test func anImportRowOverTheLimitIsRejected() async throws {
        let ledger = try await makeLedger()
        let cell = String(repeating: "x", count: 800_000)
        let file = try importFixture("big.csv", "email,a,b,c,d\nr1@example.com,1,2,3,4\nr2@example.com,\(cell),\(cell),\(cell),\(cell)\nr3@example.com,,,,\n")
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rows == 3 && summary.created == 2 && summary.rejected == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["inputTooLarge"] && found.first?.row == 2)
        #expect(found.first.map { $0.message.contains("3200014 bytes") && $0.message.utf8.count < 200 } == true, "\(found)")
        // A cell under the row's limit but over a property's is refused by the property limit.
        let wide = try importFixture("wide.csv", "email,bio\nw@example.com,\(String(repeating: "y", count: 70_000))\n")
        let second = try await ledger.importFile(at: wide, matchBy: "email", errors: wide + ".errors")
        let wideRejections = try rejections(wide + ".errors")
        #expect(second.rejected == 1 && wideRejections.map(\.code) == ["inputTooLarge"])
    }

    @Test func aJSONLinesImportLineOverTheLimitIsRejectedAndTheNextIsRead() async throws {
        let ledger = try await makeLedger()
        let big = #"{"ids":{"email":"b@example.com"},"properties":{"bio":""# + String(repeating: "x", count: 3 << 20) + #""}}"#
        let file = try importFixture("in.jsonl", [#"{"ids":{"email":"a@example.com"}}"#, big, #"{"ids":{"email":"c@example.com"}}"#].joined(separator: "\n") + "\n")
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rows == 3 && summary.created == 2 && summary.rejected == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["inputTooLarge"] && found.first?.message.contains("\(big.utf8.count) bytes") == true, "\(found)")
    }

    /// An import row's identifier that is not UTF-8 is an invalid identifier value, naming the byte.
    @Test func anImportIdentifierThatIsNotUTF8IsAnInvalidValue() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", Array("email,name\njos".utf8) + [0xE9] + Array("@x.com,Jo\nann@x.com,An".utf8) + [0xE9, 0x0A])
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rejected == 2)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["invalidIdentifierValue", "invalidUTF8"])
        #expect(found.map(\.column) == ["email", "name"])
        #expect(found.allSatisfy { $0.message.contains("(byte 4)") || $0.message.contains("(byte 3)") }, "\(found)")
    }

    /// Behaviour §9.5: an array is for contact and soft types; `"external_id":["A"]` is refused.
    @Test func anImportRowWithAnArrayForAUniqueTypeIsRejected() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.jsonl", """
            {"ids":{"email":"a@example.com","external_id":["A"]}}
            {"ids":{"email":["b@example.com"],"cookie":["c1","c2"],"external_id":"B"}}
            """)
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.created == 1 && summary.rejected == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["invalidInput"] && found.first?.column == "ids.external_id", "\(found)")
        #expect(try ledger.owner("external_id=A") == nil && ledger.owner("external_id=B") == 1)
    }

    /// Invisible characters are refused on the import path too (one normalization, every path).
    @Test func importRefusesInvisibleCharacters() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "email\nann@example.com\nann\u{200D}@example.com\n\u{FEFF}ann@example.com\n")
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        // The file's own BOM is skipped; the one at the start of a cell is not.
        #expect(summary.created == 1 && summary.rejected == 2)
        #expect(try rejections(file + ".errors").map(\.code) == ["invalidIdentifierValue", "invalidIdentifierValue"])
    }

    // MARK: numbers

    @Test func oneRuleForNumbers() {
        #expect(CustomerRef(parsing: "7") == .id(7))
        for text in ["+7", "07", "0", "-7", "7 ", " 7", "٧", "7.0", "1e1", "", "18446744073709551616"] {
            #expect(CustomerRef(parsing: text) == nil, "\(text)")
        }
        #expect(AsOf(parsing: "0") == .seq(0) && AsOf(parsing: "41") == .seq(41))
        #expect(AsOf(parsing: "041") == nil && AsOf(parsing: "+41") == nil)
    }
}
