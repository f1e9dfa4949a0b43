import Foundation

/// A past point of the log for time-travel queries.
public enum AsOf: Sendable, Hashable {
    /// After the event at this log position (0: before the first event).
    case seq(UInt64)
    /// After the last event with `recordedAt` ≤ this time.
    case time(Date)

    /// The CLI form: a plain decimal number (no sign, no leading zero) is a log position, anything
    /// else ISO 8601, or a date alone (`2026-12-01`), which is the start of that day in UTC.
    public init?(parsing text: String) {
        if let seq = parseDecimal(text) {
            self = .seq(seq)
        } else if let date = parseTimestamp(text) ?? (text.utf8.count == 10 ? parseTimestamp(text + "T00:00:00Z") : nil) {
            self = .time(date)
        } else {
            return nil
        }
    }
}

extension ProjectionReader {
    /// The log position an ``AsOf`` stands for. A time is found by binary search over
    /// the log, whose `recordedAt` never decreases: O(log N) reads, no extra index.
    func position(of asOf: AsOf) throws -> UInt64 {
        switch asOf {
        case .seq(let seq):
            return seq
        case .time(let date):
            let target = date.millisecondsSince1970
            guard let last = try lastPosition() else { return 0 }
            var low: UInt64 = 0 // invariant: event `low` (if any) has recordedAt ≤ target
            var high = last.seq + 1 // invariant: event `high` (if any) has recordedAt > target
            while high - low > 1 {
                let middle = low + (high - low) / 2
                guard let recordedAt = try recordedAt(middle) else { throw LedgerError.corruptEvent(seq: middle, reason: "missing from the log") }
                if recordedAt <= target { low = middle } else { high = middle }
            }
            return low
        }
    }
}
