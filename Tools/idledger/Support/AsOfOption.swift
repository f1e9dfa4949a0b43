import ArgumentParser
import Foundation
import IdentityLedger

/// `--as-of SEQ|ISO8601|DATE`: all digits is a log position, anything else a time
/// (``AsOf/init(parsing:)``).
struct AsOfOption: ParsableArguments {
    @Option(name: .customLong("as-of"), help: ArgumentHelp(
        "Answer as of a past point: a log position (digits, no sign or leading zeros), an ISO 8601 time, "
            + "or a date alone (2026-12-01: the start of that day, UTC). Times are the engine's recorded times "
            + "(recordedAt in log), not the clients' --at times.",
        valueName: "seq|iso8601|date"))
    var text: String?

    func validate() throws { _ = try value }

    var value: AsOf? {
        get throws {
            guard let text else { return nil }
            guard let asOf = AsOf(parsing: text) else {
                throw ValidationError("--as-of expects a log position (digits, without sign or leading zeros), an ISO 8601 time or a date such as 2026-12-01, got \(LedgerError.quoted(text))")
            }
            return asOf
        }
    }

    /// Warns on stderr when the point lies past the end of the log (a position not written yet,
    /// or a time later than now): the answer is then the state at the end, which a user who
    /// mistyped the point would otherwise take for the state they asked for.
    func warnIfPastTheEnd(_ ledger: Ledger, json: Bool) throws {
        switch try value {
        case .seq(let seq)? where seq > 0:
            guard try ledger.events(from: seq, limit: 1).isEmpty else { return }
            let end = try Self.lastPosition(ledger)
            Diagnostics.reportWarning(
                code: "asOfPastTheEnd",
                message: "--as-of \(seq) is past the end of the log, which ends at seq \(end): this is the state at its end",
                json: json)
        case .time(let date)? where date > Date():
            Diagnostics.reportWarning(
                code: "asOfPastTheEnd",
                message: "--as-of \(Output.timestamp(date)) is later than now: this is the state now",
                json: json)
        default:
            return
        }
    }

    /// The last position of the log (0 when it is empty), found with O(log N) one-event reads
    /// (the log is dense from 1): the library has no cheaper public way to ask.
    private static func lastPosition(_ ledger: Ledger) throws -> UInt64 {
        func exists(_ seq: UInt64) throws -> Bool { try !ledger.events(from: seq, limit: 1).isEmpty }
        var low: UInt64 = 0 // 0, or a position that exists
        var high: UInt64 = 1
        while try exists(high) { low = high; high *= 2 }
        // Now `high` does not exist.
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if try exists(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// Runs a query of `ref` as of this point; when nothing is found then but the customer
    /// is found now, the error says so and when it was created.
    func explainingAbsence<T>(of ref: CustomerRef, in ledger: Ledger, _ query: () throws -> T) throws -> T {
        do {
            return try query()
        } catch let error as LedgerError {
            guard case .customerNotFound = error, let text, let now = try? ledger.customer(ref) else { throw error }
            switch ref {
            case .id(let id):
                // A merged ID answers its survivor now; just before its merge, it answered itself.
                let own = try now.resolvedFrom.map { try ledger.customer(ref, asOf: .seq($0.mergeSeq - 1)) } ?? now
                throw CLIError(code: "customerNotFound", message: "customer \(id) did not exist yet as of \(text): it was created at seq \(own.createdSeq) (\(Output.timestamp(own.createdAt)))")
            case .identifier(let identifier):
                throw CLIError(
                    code: "customerNotFound",
                    message: "no customer held \(identifier) as of \(text); customer \(now.id) holds it now (created at seq \(now.createdSeq), \(Output.timestamp(now.createdAt)))")
            }
        }
    }
}
