import Foundation

/// How the values of an identifier type are normalized before they are stored or matched.
///
/// Two raw values that normalize to the same string are the same identifier, so the
/// rules decide which spellings of an email or phone number match (behaviour §2.6).
public enum Normalization: String, Sendable, Codable, CaseIterable {
    /// Only the rules common to all kinds (NFC, trimming, length, nothing invisible).
    case exact
    /// Also lower-cased, for case-insensitive identifiers.
    case lowercase
    /// Lower-cased and checked for a plausible address shape.
    case email
    /// Rewritten to E.164 (`+` and 8 to 15 digits).
    case phone
}

/// Why a raw value failed normalization (a human-readable reason such as
/// "phone number must have 8 to 15 digits after +").
struct NormalizationError: Error, Equatable, Sendable {
    let reason: String
}

extension Normalization {
    /// Upper bound on a stored value, in UTF-8 bytes (keeps LMDB keys small).
    static let maxValueBytes = 256
    /// RFC 5321 limit on an address, applied to the lower-cased address in characters.
    static let maxEmailCharacters = 254

    /// Returns the normalized form of `raw`, or throws with a reason.
    ///
    /// `defaultCallingCode` (digits, e.g. `"44"`) is used only by `.phone`, for numbers
    /// written without an international prefix.
    func normalize(_ raw: String, defaultCallingCode: String?) throws(NormalizationError) -> String {
        // Before anything else, so that every kind refuses them and names them (the phone
        // rules would otherwise call U+200D "not a digit", and email and exact kept it).
        try Self.refuseInvisibleCharacters(raw)
        // NFC first so that composed and decomposed spellings compare equal byte for byte.
        let trimmed = raw.nfc.trimmedOfWhitespace
        guard !trimmed.isEmpty else { throw NormalizationError(reason: "value is empty after trimming") }

        let result: String
        switch self {
        case .exact: result = trimmed
        // Case mapping can leave a string that is not NFC, so compose again.
        case .lowercase: result = trimmed.lowercased().nfc
        case .email: result = try Self.normalizeEmail(trimmed)
        case .phone: result = try Self.normalizePhone(trimmed, defaultCallingCode: defaultCallingCode)
        }

        // The limit applies to what is stored, i.e. the final normalized form.
        guard result.utf8.count <= Self.maxValueBytes else {
            throw NormalizationError(reason: "value is longer than \(Self.maxValueBytes) UTF-8 bytes")
        }
        return result
    }

    /// Whether `scalar` is a control or invisible format character, or a line or paragraph
    /// separator (general categories Cc, Cf, Zl, Zp): characters that do not show, or not as
    /// themselves, so that two values with and without one look the same.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        // ASCII: only C0 controls and DEL; the category lookup is for the rest.
        if scalar.value < 0x80 { return scalar.value < 0x20 || scalar.value == 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// Refuses a value holding an invisible character (``isInvisible(_:)``) anywhere but in the
    /// white space trimmed from its ends: appended to `ann` in `ann@example.com`, a zero-width
    /// joiner, a BOM or a NUL made a second account that looks like the first (behaviour §2.6.1).
    /// White space at the ends (a tab, a trailing newline) is trimmed as before, then whatever
    /// is left must be visible. The position counts Unicode scalars of the value as given, from 1.
    static func refuseInvisibleCharacters(_ raw: String) throws(NormalizationError) {
        // Nearly every value is visible ASCII.
        if raw.utf8.allSatisfy({ (0x20..<0x7F).contains($0) }) { return }
        let scalars = Array(raw.unicodeScalars)
        let trimmable = CharacterSet.whitespacesAndNewlines
        guard let first = scalars.firstIndex(where: { !trimmable.contains($0) }),
              let last = scalars.lastIndex(where: { !trimmable.contains($0) }) else { return }
        for index in first...last where isInvisible(scalars[index]) {
            let scalar = scalars[index]
            let kind = switch scalar.properties.generalCategory {
            case .control: "a control character"
            case .format: "an invisible format character"
            default: "a line or paragraph separator"
            }
            let code = "U+" + String(repeating: "0", count: max(0, 4 - String(scalar.value, radix: 16).count)) + String(scalar.value, radix: 16, uppercase: true)
            let name = scalar.properties.name ?? scalar.properties.nameAlias
            throw NormalizationError(reason: "contains \(code)\(name.map { " (\($0))" } ?? "") at position \(index + 1), \(kind); "
                + "a value must not hold characters that do not show")
        }
    }

    /// Lower-cases an address and checks it has the shape `local@domain.tld`.
    /// Deliberately loose: it rejects obvious garbage, not every RFC 5322 oddity.
    private static func normalizeEmail(_ value: String) throws(NormalizationError) -> String {
        if let email = try visibleASCIIEmail(value) { return email }
        return try unicodeEmail(value)
    }

    /// `normalizeEmail` for an address of visible ASCII (nearly every one): the checks of
    /// ``unicodeEmail(_:)`` in the same order, on bytes. Unicode case mapping and splitting
    /// into substrings were a tenth of an identify's CPU. `nil` for any other input.
    static func visibleASCIIEmail(_ value: String) throws(NormalizationError) -> String? {
        guard value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        var bytes = Array(value.utf8)
        var at: Int?
        for i in bytes.indices {
            if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[i]) {
                bytes[i] |= 0x20
            } else if bytes[i] == UInt8(ascii: "@") {
                guard at == nil else { throw EmailProblem.oneAt }
                at = i
            }
        }
        guard let at else { throw EmailProblem.oneAt }
        guard at > 0 else { throw EmailProblem.emptyLocal }
        let dot = UInt8(ascii: ".")
        let domain = bytes[(at + 1)...]
        guard domain.contains(dot) else { throw EmailProblem.noDot }
        guard domain.first != dot, domain.last != dot, !zip(domain, domain.dropFirst()).contains(where: { $0 == dot && $1 == dot }) else {
            throw EmailProblem.emptyLabel
        }
        guard bytes.count <= maxEmailCharacters else { throw EmailProblem.tooLong }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `normalizeEmail` for any input, by characters.
    static func unicodeEmail(_ value: String) throws(NormalizationError) -> String {
        let email = value.lowercased().nfc
        if email.utf8.contains(where: { $0 >= 0x80 || $0 <= 0x20 || $0 == 0x7F }),
           email.unicodeScalars.contains(where: { CharacterSet.whitespacesAndNewlines.contains($0) }) {
            throw NormalizationError(reason: "email must not contain white space")
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw EmailProblem.oneAt }
        let (local, domain) = (parts[0], parts[1])
        guard !local.isEmpty else { throw EmailProblem.emptyLocal }
        guard domain.contains(".") else { throw EmailProblem.noDot }
        guard !domain.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw EmailProblem.emptyLabel
        }
        // Counting characters walks grapheme clusters; an ASCII address (no CR LF, refused
        // above) has one per byte.
        let characters = email.utf8.allSatisfy { $0 < 0x80 } ? email.utf8.count : email.count
        guard characters <= maxEmailCharacters else { throw EmailProblem.tooLong }
        return email
    }

    private enum EmailProblem {
        static let oneAt = NormalizationError(reason: "email must contain exactly one @")
        static let emptyLocal = NormalizationError(reason: "email local part (before @) is empty")
        static let noDot = NormalizationError(reason: "email domain must contain a dot")
        static let emptyLabel = NormalizationError(reason: "email domain has an empty label (leading, trailing or double dot)")
        static let tooLong = NormalizationError(reason: "email is longer than \(maxEmailCharacters) characters")
    }

    /// Rewrites a phone number to E.164 (`+` followed by 8 to 15 ASCII digits).
    private static func normalizePhone(_ value: String, defaultCallingCode: String?) throws(NormalizationError) -> String {
        // NFKC turns full-width digits, plus signs, parentheses and odd spaces into ASCII.
        var number = value.nfkc
        let international = number.hasPrefix("+") || number.hasPrefix("00")
        // "+44 (0)20 ..." : the (0) is the national trunk prefix, not part of the number.
        // It must go before parentheses are stripped, or its 0 would survive as a digit.
        // The regular expression is only compiled and run for numbers that contain "(0)" at all.
        if international, number.contains("(0)"),
           let trunk = number.range(of: #"^(\+|00)[ .-]*[0-9]{1,3}[ .-]*(\(0\))"#, options: .regularExpression) {
            // Only the "(0)" right after the country code: one further inside is part of the number.
            let parenthesis = number[trunk].range(of: "(0)", options: .backwards)!
            number.removeSubrange(parenthesis)
        }
        // By bytes: separators are ASCII, and removing ASCII bytes keeps UTF-8 valid. (By
        // Character, a separator carrying a combining mark stayed; either way such a number
        // fails the digit check below.)
        number = String(decoding: number.utf8.filter { !Self.phoneSeparators.contains($0) }, as: UTF8.self)
        if number.hasPrefix("00") { number = "+" + number.dropFirst(2) }

        if !number.hasPrefix("+") {
            guard let code = defaultCallingCode else {
                throw NormalizationError(reason: "phone number needs a country code (+…) or a defaultCallingCode")
            }
            guard (1...3).contains(code.utf8.count), code.utf8.allSatisfy(isASCIIDigit) else {
                throw NormalizationError(reason: "defaultCallingCode must be 1 to 3 digits, got \"\(code)\"")
            }
            // The national trunk 0 is dropped when the country code is written.
            if number.hasPrefix("0") { number.removeFirst() }
            number = "+" + code + number
        }

        let digits = number.utf8.dropFirst()
        guard digits.allSatisfy(isASCIIDigit) else {
            throw NormalizationError(reason: "phone number may contain only digits and separators (space - . ( ) /)")
        }
        guard (8...15).contains(digits.count) else {
            throw NormalizationError(reason: "phone number must have 8 to 15 digits after +")
        }
        return number
    }

    // `/` groups the area code in German and Austrian numbers (`0171/1111111`).
    private static let phoneSeparators: [UInt8] = Array(" -.()/".utf8)

    private static func isASCIIDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}

extension String {
    /// ASCII is already in every normal form: skipping Foundation's normalization for it
    /// removed about a quarter of the CPU time of a typical identify (docs/benchmark-history.md).
    fileprivate var nfc: String { utf8.allSatisfy { $0 < 0x80 } ? self : precomposedStringWithCanonicalMapping }
    fileprivate var nfkc: String { utf8.allSatisfy { $0 < 0x80 } ? self : precomposedStringWithCompatibilityMapping }
    /// Foundation's trimming is skipped when both ends are visible ASCII (nothing to trim).
    fileprivate var trimmedOfWhitespace: String {
        if let first = utf8.first, let last = utf8.last, (0x21..<0x7F).contains(first), (0x21..<0x7F).contains(last) { return self }
        return trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
