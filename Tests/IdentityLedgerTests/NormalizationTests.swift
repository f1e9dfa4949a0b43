import Foundation
import Testing
@testable import IdentityLedger

/// Behaviour §2.6, "Normalization": one valid case per rule with its exact output,
/// and the invalid inputs each rule must reject.
struct NormalizationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let kind: Normalization
        let raw: String
        var code: String? = nil
        var expected: String? = nil   // nil: must throw
        var testDescription: String { "\(kind) \(raw.debugDescription) code=\(code ?? "nil")" }
    }

    // MARK: rules common to all kinds

    static let common: [Case] = [
        // NFC: decomposed e + U+0301 equals precomposed é.
        Case(kind: .exact, raw: "Cafe\u{301}", expected: "Caf\u{E9}"),
        Case(kind: .exact, raw: "Caf\u{E9}", expected: "Caf\u{E9}"),
        // Trimming white space and newlines, inner white space kept.
        Case(kind: .exact, raw: " \t ABC 123\n\r ", expected: "ABC 123"),
        Case(kind: .exact, raw: "\u{3000}x\u{A0}", expected: "x"),
        // 256 UTF-8 bytes is the limit: 128 two-byte characters pass.
        Case(kind: .exact, raw: String(repeating: "a", count: 256), expected: String(repeating: "a", count: 256)),
        Case(kind: .exact, raw: String(repeating: "\u{E9}", count: 128), expected: String(repeating: "\u{E9}", count: 128)),
        Case(kind: .exact, raw: "  " + String(repeating: "€", count: 85) + "a  ", expected: String(repeating: "€", count: 85) + "a"),
        // The limit applies after NFC: 384 decomposed bytes compose to 256.
        Case(kind: .exact, raw: String(repeating: "e\u{301}", count: 128), expected: String(repeating: "\u{E9}", count: 128)),
    ]

    static let commonInvalid: [Case] = [
        Case(kind: .exact, raw: ""),
        Case(kind: .exact, raw: "   \n\t "),
        Case(kind: .lowercase, raw: " "),
        Case(kind: .email, raw: "\n"),
        Case(kind: .phone, raw: "  ", code: "44"),
        Case(kind: .exact, raw: String(repeating: "a", count: 257)),
        // 129 two-byte characters = 258 bytes though only 129 characters.
        Case(kind: .exact, raw: String(repeating: "\u{E9}", count: 129)),
        // 85 three-byte characters + 2 bytes = 257 bytes.
        Case(kind: .exact, raw: String(repeating: "€", count: 85) + "ab"),
        Case(kind: .lowercase, raw: String(repeating: "A", count: 257)),
    ]

    // MARK: lowercase

    static let lowercase: [Case] = [
        Case(kind: .lowercase, raw: "  AbC-DEF ", expected: "abc-def"),
        Case(kind: .lowercase, raw: "ÉCOLE", expected: "\u{E9}cole"),
        Case(kind: .lowercase, raw: "E\u{301}COLE", expected: "\u{E9}cole"),
        Case(kind: .exact, raw: "AbC", expected: "AbC"),
    ]

    // MARK: email

    static let email: [Case] = [
        Case(kind: .email, raw: "  Jane.Doe+Shop@Example.CO.UK ", expected: "jane.doe+shop@example.co.uk"),
        Case(kind: .email, raw: "a@b.c", expected: "a@b.c"),
        // 254 characters exactly is allowed.
        Case(kind: .email, raw: String(repeating: "a", count: 242) + "@example.com",
             expected: String(repeating: "a", count: 242) + "@example.com"),
    ]

    static let emailInvalid: [(raw: String, reason: String)] = [
        ("a@b@example.com", "email must contain exactly one @"),
        ("jane.example.com", "email must contain exactly one @"),
        ("@example.com", "email local part (before @) is empty"),
        ("jane@localhost", "email domain must contain a dot"),
        ("jane@", "email domain must contain a dot"),
        ("jane doe@example.com", "email must not contain white space"),
        // White space that is not a control character (a tab is refused as one: invisibleCharactersAreRefused).
        ("jane@exa\u{3000}mple.com", "email must not contain white space"),
        ("jane@.example.com", "email domain has an empty label (leading, trailing or double dot)"),
        ("jane@example.com.", "email domain has an empty label (leading, trailing or double dot)"),
        ("jane@example..com", "email domain has an empty label (leading, trailing or double dot)"),
        (String(repeating: "a", count: 243) + "@example.com", "email is longer than 254 characters"),
    ]

    // MARK: phone

    static let phone: [Case] = [
        Case(kind: .phone, raw: "+44 (0)20 7946 0958", expected: "+442079460958"),
        // A "(0)" further inside is part of the number: only its parentheses go.
        Case(kind: .phone, raw: "+44 20 7946 (0)958", expected: "+442079460958"),
        Case(kind: .phone, raw: "0044 20 7946 0958", expected: "+442079460958"),
        Case(kind: .phone, raw: "0044 (0)20 7946 0958", expected: "+442079460958"),
        Case(kind: .phone, raw: "＋４４ ２０ ７９４６ ０９５８", expected: "+442079460958"),
        Case(kind: .phone, raw: "(555) 123-4567", code: "1", expected: "+15551234567"),
        Case(kind: .phone, raw: "020 7946 0958", code: "44", expected: "+442079460958"),
        Case(kind: .phone, raw: "+1-555.123.4567", expected: "+15551234567"),
        // A slash after the area code, as written in Germany.
        Case(kind: .phone, raw: "0171/1111111", code: "49", expected: "+491711111111"),
        Case(kind: .phone, raw: "+49 (0)171/111 11 11", expected: "+491711111111"),
        // A number already in international form ignores the default code.
        Case(kind: .phone, raw: "+33 1 23 45 67 89", code: "44", expected: "+33123456789"),
        // Bounds: 8 and 15 digits.
        Case(kind: .phone, raw: "+12345678", expected: "+12345678"),
        Case(kind: .phone, raw: "+123456789012345", expected: "+123456789012345"),
    ]

    static let phoneInvalid: [(raw: String, code: String?, reason: String)] = [
        ("020 7946 0958", nil, "phone number needs a country code (+…) or a defaultCallingCode"),
        ("(555) 123-4567", nil, "phone number needs a country code (+…) or a defaultCallingCode"),
        ("+1234567", nil, "phone number must have 8 to 15 digits after +"),
        ("+1234567890123456", nil, "phone number must have 8 to 15 digits after +"),
        ("0044 1234 5678 9012 34", nil, "phone number must have 8 to 15 digits after +"),
        ("+", nil, "phone number must have 8 to 15 digits after +"),
        ("+44 20 7946 O958", nil, "phone number may contain only digits and separators (space - . ( ) /)"),
        ("+44 20 CALL NOW", "44", "phone number may contain only digits and separators (space - . ( ) /)"),
        ("+44+2079460958", nil, "phone number may contain only digits and separators (space - . ( ) /)"),
        ("1-800-FLOWERS", "1", "phone number may contain only digits and separators (space - . ( ) /)"),
        ("020 794", "44", "phone number must have 8 to 15 digits after +"),
        // (0) is dropped only in international form; in a national number its 0 is kept as a digit.
        ("(0)20 7946 0958 1234", "44", "phone number must have 8 to 15 digits after +"),
        ("020 7946 0958", "+44", "defaultCallingCode must be 1 to 3 digits, got \"+44\""),
    ]

    // MARK: tests

    @Test(arguments: common + lowercase + email + phone)
    func validValuesNormalize(_ c: Case) throws {
        #expect(try c.kind.normalize(c.raw, defaultCallingCode: c.code) == c.expected)
    }

    @Test(arguments: commonInvalid)
    func invalidValuesThrow(_ c: Case) {
        #expect(throws: NormalizationError.self) { try c.kind.normalize(c.raw, defaultCallingCode: c.code) }
    }

    /// The byte-wise fast path for ASCII addresses gives what the general path gives:
    /// the same address or the same reason, over every short string of a small alphabet
    /// and random longer ones.
    @Test func asciiEmailsNormalizeAsTheGeneralPathDoes() {
        func outcome(_ body: () throws -> String?) -> String? {
            do { return try body() } catch { return "error: \(error)" }
        }
        var inputs = [String(repeating: "a", count: 250) + "@b.co", String(repeating: "a", count: 249) + "@b.co", "A@B.CO", "x@y"]
        let alphabet = Array("aZ@.-_")
        func all(_ length: Int) -> [String] {
            length == 0 ? [""] : all(length - 1).flatMap { prefix in alphabet.map { prefix + String($0) } }
        }
        inputs += (1...6).flatMap(all)
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            inputs.append(String((0..<Int.random(in: 1...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for input in inputs {
            let fast = outcome { try Normalization.visibleASCIIEmail(input) }
            let general = outcome { try Normalization.unicodeEmail(input) }
            #expect(fast == general, "\(input)")
        }
        // Anything else goes the general way.
        #expect(outcome { try Normalization.visibleASCIIEmail("ann @example.com") } == nil)
        #expect(outcome { try Normalization.visibleASCIIEmail("zoë@example.com") } == nil)
    }

    @Test func commonReasons() {
        #expect(throws: NormalizationError(reason: "value is empty after trimming")) {
            try Normalization.exact.normalize(" \n ", defaultCallingCode: nil)
        }
        #expect(throws: NormalizationError(reason: "value is longer than 256 UTF-8 bytes")) {
            try Normalization.exact.normalize(String(repeating: "\u{E9}", count: 129), defaultCallingCode: nil)
        }
    }

    @Test(arguments: [Normalization.exact, .lowercase, .email])
    func decomposedAndPrecomposedAreEqual(_ kind: Normalization) throws {
        let (a, b) = ("Rene\u{301}@example.com", "Ren\u{E9}@example.com")
        #expect(try kind.normalize(a, defaultCallingCode: nil) == kind.normalize(b, defaultCallingCode: nil))
        #expect(try Array(kind.normalize(a, defaultCallingCode: nil).utf8) == Array(kind.normalize(b, defaultCallingCode: nil).utf8))
    }

    @Test(arguments: emailInvalid)
    func invalidEmailsThrow(_ raw: String, _ reason: String) {
        #expect(throws: NormalizationError(reason: reason)) { try Normalization.email.normalize(raw, defaultCallingCode: nil) }
    }

    @Test(arguments: phoneInvalid)
    func invalidPhonesThrow(_ raw: String, _ code: String?, _ reason: String) {
        #expect(throws: NormalizationError(reason: reason)) { try Normalization.phone.normalize(raw, defaultCallingCode: code) }
    }

    @Test func exactAndLowercaseDoNotValidateShape() throws {
        #expect(try Normalization.exact.normalize("not an @ email", defaultCallingCode: nil) == "not an @ email")
        #expect(try Normalization.lowercase.normalize("+44 (0)20", defaultCallingCode: nil) == "+44 (0)20")
    }

    // MARK: invisible characters (behaviour §2.6.1)

    /// Characters that made look-alike accounts when appended to `ann` in `ann@example.com`,
    /// with a tab and the line and paragraph separators.
    static let invisible: [Unicode.Scalar] = [
        "\u{200C}", "\u{200D}", "\u{2060}", "\u{00AD}", "\u{FEFF}", "\u{202E}", "\u{061C}", "\u{180E}",
        "\u{0000}", "\u{0001}", "\u{007F}", "\u{0009}", "\u{2028}", "\u{2029}", "\u{200B}", "\u{0085}",
    ]

    /// A value of each kind, and where a character goes in it: in the middle, first, last.
    static let placements: [(kind: Normalization, prefix: String, suffix: String)] = [
        (.exact, "ann", "@example.com"), (.lowercase, "ANN", "@example.com"), (.email, "ann", "@example.com"),
        (.phone, "+44 20 7946", " 0958"),
    ]

    @Test(arguments: invisible)
    func invisibleCharactersAreRefused(_ scalar: Unicode.Scalar) {
        let c = String(Character(scalar))
        let code = String(format: "U+%04X", scalar.value)
        for (kind, prefix, suffix) in Self.placements {
            var cases = [(prefix + c + suffix, prefix.unicodeScalars.count + 1)]
            // At the ends only what trimming does not take: a tab, NEL and the separators are
            // surrounding white space, trimmed as before.
            if !CharacterSet.whitespacesAndNewlines.contains(scalar) {
                cases += [(c + prefix + suffix, 1), (prefix + suffix + c, (prefix + suffix).unicodeScalars.count + 1), (" " + c + prefix + suffix, 2)]
            }
            for (raw, position) in cases {
                do {
                    let value = try kind.normalize(raw, defaultCallingCode: nil)
                    Issue.record("\(kind) \(raw.debugDescription) normalized to \(value.debugDescription)")
                } catch {
                    #expect(error.reason.contains("\(code)") && error.reason.contains("at position \(position)"), "\(kind) \(raw.debugDescription): \(error.reason)")
                }
            }
        }
    }

    /// White space at the ends is still trimmed: a trailing newline or a tab is not a second value.
    @Test func surroundingWhiteSpaceIsStillTrimmed() throws {
        #expect(try Normalization.email.normalize("\tann@example.com\r\n", defaultCallingCode: nil) == "ann@example.com")
        #expect(try Normalization.exact.normalize("\u{2028}A-1\u{85}", defaultCallingCode: nil) == "A-1")
        // Visible non-ASCII stays, and NFKC still maps full-width digits.
        #expect(try Normalization.exact.normalize("Zoë", defaultCallingCode: nil) == "Zoë")
        #expect(try Normalization.phone.normalize("＋４４ ２０ ７９４６ ０９５８", defaultCallingCode: nil) == "+442079460958")
    }

    /// Through the engine: an identify with the look-alike is refused with the type and the
    /// character, and writes nothing; the plain value still finds the customer.
    @Test func lookAlikeAccountsAreNotCreated() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=ann@example.com", access: ["email"])
        for scalar in Self.invisible where !CharacterSet.whitespacesAndNewlines.contains(scalar) {
            for value in ["ann\(Character(scalar))@example.com", "\(Character(scalar))ann@example.com", "ann@example.com\(Character(scalar))"] {
                let error = try await expectRefused(ledger, code: "invalidIdentifierValue") {
                    _ = try await ledger.identify(IdentifyCommand(identifiers: [Identifier(type: "email", value: value)], access: ["email"]))
                }
                #expect(error?.description.contains(String(format: "U+%04X", scalar.value)) == true, "\(String(describing: error))")
            }
        }
        #expect(try ledger.statistics().customers == 1)
    }
}
