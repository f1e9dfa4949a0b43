import Foundation

/// Parses an ISO 8601 time as commands, imports and `--as-of` take it:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM|±HH)`, `T` and `Z` in either case.
/// The date must exist (no February 30) and the time must be on the clock (no hour 24, no
/// leap second); the fraction is cut to milliseconds, the precision of the log.
/// Anything else is nil.
public func parseTimestamp(_ text: String) -> Date? {
    parseTimestampMilliseconds(text).map(Date.init(millisecondsSince1970:))
}

/// Milliseconds since 1970 of an ISO 8601 time (see ``parseTimestamp(_:)``).
///
/// Written out rather than with `ISO8601DateFormatter`: creating one per call was most of
/// `idledger ingest`'s and an import's CPU, and ICU's leniency let impossible dates through
/// (February 30 became March 2, hour 24 the next day).
func parseTimestampMilliseconds(_ text: String) -> Int64? {
    var text = text
    return text.withUTF8 { parseTimestampMilliseconds(UnsafeRawBufferPointer($0)) }
}

private func parseTimestampMilliseconds(_ b: UnsafeRawBufferPointer) -> Int64? {
    func digits(_ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var value = 0
        for byte in b[start..<start + count] {
            guard byte &- 0x30 < 10 else { return nil }
            value = value * 10 + Int(byte &- 0x30)
        }
        return value
    }
    guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] | 0x20 == 0x74, b[13] == 0x3A, b[16] == 0x3A,
          let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
          let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
          (1...12).contains(month), (1...daysIn(month, of: year)).contains(day), hour < 24, minute < 60, second < 60
    else { return nil }

    var index = 19
    var millis = 0
    if b[index] == 0x2E {
        index += 1
        var count = 0
        while index < b.count, b[index] &- 0x30 < 10 {
            if count < 3 { millis = millis * 10 + Int(b[index] &- 0x30) }
            count += 1
            index += 1
        }
        guard count > 0 else { return nil }
        for _ in count..<max(count, 3) { millis *= 10 }
    }

    guard index < b.count else { return nil }
    var offset = 0
    if b[index] | 0x20 == 0x7A {
        index += 1
    } else if b[index] == 0x2B || b[index] == 0x2D {
        let sign = b[index] == 0x2B ? 1 : -1
        guard let hours = digits(index + 1, 2), hours < 24 else { return nil }
        index += 3
        var minutes = 0
        if index < b.count {
            if b[index] == 0x3A { index += 1 }
            guard let value = digits(index, 2), value < 60 else { return nil }
            minutes = value
            index += 2
        }
        offset = sign * (hours * 60 + minutes) * 60
    } else {
        return nil
    }
    guard index == b.count else { return nil }

    // Days from 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    let days = era * 146_097 + dayOfEra - 719_468
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset
    return Int64(seconds) * 1_000 + Int64(millis)
}

private func daysIn(_ month: Int, of year: Int) -> Int {
    switch month {
    case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

/// ISO 8601 in UTC with milliseconds, `2026-11-01T10:00:00.000Z`: how every time is written
/// in JSON, by the library's reports and the command-line tool alike.
package func formatTimestamp(milliseconds ms: Int64) -> String {
    var seconds = time_t(ms / 1000)
    var millis = ms % 1000
    if millis < 0 { millis += 1000; seconds -= 1 }
    var parts = tm()
    gmtime_r(&seconds, &parts)
    // Written out: String(format:) was a quarter of `log --json`'s CPU.
    func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value.magnitude)
        return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - digits.count - (value < 0 ? 1 : 0))) + digits
    }
    return padded(Int(parts.tm_year) + 1900, 4) + "-" + padded(Int(parts.tm_mon) + 1, 2) + "-" + padded(Int(parts.tm_mday), 2)
        + "T" + padded(Int(parts.tm_hour), 2) + ":" + padded(Int(parts.tm_min), 2) + ":" + padded(Int(parts.tm_sec), 2)
        + "." + padded(Int(millis), 3) + "Z"
}

/// A `Date` as ``formatTimestamp(milliseconds:)`` writes it, in whole milliseconds.
package func formatTimestamp(_ date: Date) -> String {
    formatTimestamp(milliseconds: date.millisecondsSince1970)
}
