import ArgumentParser
import IdentityLedger

/// `--as-of SEQ|ISO8601`: all digits is a log position, anything else an ISO 8601 time.
struct AsOfOption: ParsableArguments {
    @Option(name: .customLong("as-of"), help: ArgumentHelp(
        "Answer as of a past point: a log position (digits, no sign or leading zeros) or an ISO 8601 time.", valueName: "seq|iso8601"))
    var text: String?

    func validate() throws { _ = try value }

    var value: AsOf? {
        get throws {
            guard let text else { return nil }
            guard let asOf = AsOf(parsing: text) else {
                throw ValidationError("--as-of expects a log position (digits, without sign or leading zeros) or an ISO 8601 time, got \(LedgerError.quoted(text))")
            }
            return asOf
        }
    }
}
