import Foundation
import Testing
@testable import IdentityLedger

struct TimestampTests {
    /// Every shape the parser takes, against Foundation's calendar arithmetic on the same
    /// fields (years from 1600: Foundation's Gregorian calendar is Julian before 1582).
    @Test func agreesWithTheGregorianCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var random = SeededGenerator(seed: 7)
        for _ in 0..<20_000 {
            let year = 1600 + Int(random.next() % 8400), month = 1 + Int(random.next() % 12)
            let days = try #require(calendar.range(of: .day, in: .month, for: calendar.date(from: DateComponents(year: year, month: month))!))
            let day = 1 + Int(random.next() % UInt64(days.count))
            let hour = Int(random.next() % 24), minute = Int(random.next() % 60), second = Int(random.next() % 60)
            let fraction = Int(random.next() % 1000)
            let offsetHours = Int(random.next() % 24), offsetMinutes = Int(random.next() % 60)
            let sign = random.next() % 2 == 0 ? 1 : -1

            let utc = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
            let expected = Int64(utc.timeIntervalSince1970) * 1000 + Int64(fraction) - Int64(sign * (offsetHours * 60 + offsetMinutes) * 60_000)
            let clock = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second)
            let zone = String(format: "%@%02d:%02d", sign > 0 ? "+" : "-", offsetHours, offsetMinutes)

            #expect(parseTimestampMilliseconds(clock + String(format: ".%03d", fraction) + zone) == expected)
            #expect(parseTimestampMilliseconds(clock + String(format: ".%03d999", fraction) + zone.replacingOccurrences(of: ":", with: "")) == expected)
            #expect(parseTimestampMilliseconds(clock + "Z") == Int64(utc.timeIntervalSince1970) * 1000)
        }
    }

    @Test(arguments: [
        ("2026-10-02T12:00:00Z", 1_790_942_400_000),
        ("2026-10-02t12:00:00z", 1_790_942_400_000),
        ("2026-10-02T12:00:00.5Z", 1_790_942_400_500),
        ("2026-10-02T12:00:00.12Z", 1_790_942_400_120),
        ("2026-10-02T14:00:00+02", 1_790_942_400_000),
        ("2026-10-02T06:30:00-0530", 1_790_942_400_000),
        ("2026-10-02T12:00:00-00:00", 1_790_942_400_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("1969-12-31T23:59:59.999Z", -1),
        // The year 0 is a leap year of the proleptic Gregorian calendar.
        ("0000-01-01T00:00:00Z", -62_167_219_200_000),
        ("0000-03-01T00:00:00Z", -62_162_035_200_000),
    ] as [(String, Int64)])
    func parses(_ text: String, _ milliseconds: Int64) {
        #expect(parseTimestampMilliseconds(text) == milliseconds)
        #expect(parseTimestamp(text)?.millisecondsSince1970 == milliseconds)
    }

    /// ISO8601DateFormatter took the first five (February 30 as March 2, hour 24 as the next
    /// day, the offsets as something) and the spaces.
    @Test(arguments: [
        "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
        "2026-10-02T24:00:00Z", "2026-10-02T12:00:00+24:00", "2026-10-02T12:00:00+02:60",
        "2026-10-02T12:00:60Z", "2026-10-02T12:60:00Z", "2026-00-02T12:00:00Z", "2026-13-01T00:00:00Z", "2026-10-00T12:00:00Z",
        " 2026-10-02T12:00:00Z", "2026-10-02T12:00:00Z ", "2026-10-02T12:00:00", "2026-10-02 12:00:00Z", "2026-10-02T12:00Z",
        "2026-10-02T12:00:00.Z", "2026-10-02T12:00:00+2", "2026-10-02T12:00:00+02:", "2026-10-02T12:00:00+02:0",
        "+2026-10-02T12:00:00Z", "20261002T120000Z", "2026-1O-02T12:00:00Z", "yesterday", "",
    ])
    func refuses(_ text: String) {
        #expect(parseTimestampMilliseconds(text) == nil)
        #expect(parseTimestamp(text) == nil)
    }

    /// Times read back from the log convert to the same milliseconds (before 1970, flooring
    /// the `Double` lost one).
    @Test func millisecondsSurviveADate() {
        var random = SeededGenerator(seed: 3)
        // Up to the end of the year 9999, either side of 1970.
        let samples = [0, 1, -1, 999, -999, -1000, -1001, 1_790_942_400_123, -62_167_219_200_000]
            + (0..<100_000).map { _ in Int64(bitPattern: random.next()) % 253_402_300_800_000 }
        for ms in samples {
            #expect(Date(millisecondsSince1970: ms).millisecondsSince1970 == ms)
        }
    }

    /// A time read back from the log is written in JSON as the millisecond it was, also where
    /// flooring its `Double` would write the one before (the CLI's times before this rule).
    @Test func aDateIsWrittenAsItsMillisecond() {
        var random = SeededGenerator(seed: 5)
        let samples = (0..<20_000).map { _ in Int64(bitPattern: random.next()) % 253_402_300_800_000 }
        var flooringLosesOne = 0
        for ms in samples {
            let date = Date(millisecondsSince1970: ms)
            #expect(formatTimestamp(date) == formatTimestamp(milliseconds: ms), "\(ms)")
            if Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) != ms { flooringLosesOne += 1 }
        }
        #expect(flooringLosesOne > 0)
        #expect(formatTimestamp(milliseconds: 1_792_000_000_000) == "2026-10-14T17:46:40.000Z")
        #expect(formatTimestamp(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }

    /// A clock's sub-millisecond part is dropped, rounding down on either side of 1970.
    @Test(arguments: [(0.0007, 0), (1.0009, 1000), (-0.0003, -1), (-1.0009, -1001), (1_790_942_400.1239, 1_790_942_400_123)] as [(Double, Int64)])
    func subMillisecondsRoundDown(_ seconds: Double, _ milliseconds: Int64) {
        #expect(Date(timeIntervalSince1970: seconds).millisecondsSince1970 == milliseconds)
    }

    /// A `Date` no log can hold is not a crash: a command is capped at now as always, and a
    /// time before every event is as of position 0.
    @Test func anAbsurdDateIsNotACrash() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=a@b.com", at: Date(timeIntervalSince1970: 1e300))
        try await ledger.identify("email=a@b.com", at: Date(timeIntervalSince1970: -1e300))
        // Position 1 is the new store's default schema.
        let events = try ledger.events(from: 2, limit: 10)
        #expect(events.count == 2)
        #expect(events[0].occurredAt == events[0].recordedAt)
        #expect(events[1].occurredAt == .min)
        #expect(try ledger.lookup(Identifier(type: "email", value: "a@b.com"), asOf: .time(Date(timeIntervalSince1970: -1e300))).isEmpty)
    }
}
