import Foundation

/// Parses the common ISO 8601 shapes of an import's `at` column without a date
/// formatter (creating one per row dominated the import's profile):
/// `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`. Anything else goes to ``parseTimestamp(_:)``.
func parseImportTimestamp(_ text: String) -> Int64? {
    if let ms = fastISO8601(Array(text.utf8)) { return ms }
    return parseTimestamp(text)?.millisecondsSince1970
}

private func fastISO8601(_ b: [UInt8]) -> Int64? {
    func number(_ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var value = 0
        for byte in b[start..<start + count] {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
    guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74, b[13] == 0x3A, b[16] == 0x3A,
          let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
          let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
          (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
    var index = 19
    var millis = 0
    if b[index] == 0x2E {
        index += 1
        var digits = 0
        while index < b.count, (0x30...0x39).contains(b[index]) {
            if digits < 3 { millis = millis * 10 + Int(b[index] - 0x30) }
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        for _ in 0..<max(0, 3 - digits) { millis *= 10 }
    }
    var offset = 0
    guard index < b.count else { return nil }
    switch b[index] {
    case 0x5A, 0x7A:
        index += 1
    case 0x2B, 0x2D:
        guard let h = number(index + 1, 2), index + 3 < b.count, b[index + 3] == 0x3A, let m = number(index + 4, 2) else { return nil }
        offset = (h * 60 + m) * 60 * (b[index] == 0x2B ? 1 : -1)
        index += 6
    default:
        return nil
    }
    guard index == b.count else { return nil }
    // Days from 1970-01-01 (proleptic Gregorian), Howard Hinnant's days_from_civil.
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146097 + doe - 719468
    let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return Int64(seconds) * 1000 + Int64(millis)
}
