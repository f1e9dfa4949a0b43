import ArgumentParser
import Foundation
import IdentityLedger

/// `--at`, `--source`, `--event-id`: the context every command may carry (behaviour §5).
struct ContextOptions: ParsableArguments {
    @Option(name: .customLong("at"), help: ArgumentHelp(
        "When it happened on the client (ISO 8601, e.g. 2026-11-01T10:00:00Z); defaults to, and is capped at, now.",
        valueName: "iso8601"))
    var occurredAt: String?

    @Option(help: ArgumentHelp("The channel, e.g. pos or web.", valueName: "name"))
    var source: String?

    @Option(help: ArgumentHelp(
        "Idempotency key: a repeat with the same payload returns the first result and writes nothing.",
        valueName: "id"))
    var eventId: String?

    func validate() throws {
        _ = try context()
    }

    func context() throws -> CommandContext {
        var date: Date?
        if let occurredAt {
            guard let parsed = parseTimestamp(occurredAt) else {
                throw ValidationError("--at expects an ISO 8601 time such as 2026-11-01T10:00:00Z, got \(LedgerError.quoted(occurredAt))")
            }
            date = parsed
        }
        return CommandContext(occurredAt: date, source: source, eventId: eventId)
    }
}

/// Parsing of the argument forms the subcommands share. Each throws a `ValidationError`
/// (exit 64) naming the option and the offending text; subcommands call them from
/// `validate()` and again from `run()`.
enum ArgumentParsing {
    /// `TYPE=VALUE`.
    static func identifier(_ text: String, option: String) throws -> Identifier {
        guard let identifier = Identifier(parsing: text), !identifier.value.isEmpty else {
            throw ValidationError("\(option) expects TYPE=VALUE, got \(LedgerError.quoted(text))")
        }
        return identifier
    }

    static func identifiers(_ texts: [String], option: String = "--id") throws -> [Identifier] {
        try texts.map { try identifier($0, option: option) }
    }

    /// A customer ID (digits, no sign or leading zero: ``parseDecimal(_:)``) or `TYPE=VALUE`.
    static func customer(_ text: String, argument: String) throws -> CustomerRef {
        guard let ref = CustomerRef(parsing: text) else {
            throw ValidationError("\(argument) expects a customer ID (digits, without sign or leading zeros) or TYPE=VALUE, got \(LedgerError.quoted(text))")
        }
        return ref
    }

    /// A time (`--since`), read as `--as-of` reads one (``AsOf/init(parsing:)``): ISO 8601 or a date alone.
    static func time(_ text: String, option: String) throws -> Date {
        guard case .time(let date)? = AsOf(parsing: text) else {
            throw ValidationError("\(option) expects an ISO 8601 time such as 2026-11-01T10:00:00Z or a date such as 2026-11-01, got \(LedgerError.quoted(text))")
        }
        return date
    }

    /// `KEY=JSON`: the value is parsed as JSON; other text is taken as a string, unless it
    /// starts like a JSON string, array or object, or is a JSON number out of range (`1e999`,
    /// which `ingest` refuses too: there is no such number to store).
    static func properties(_ texts: [String]) throws -> [String: JSONValue] {
        var properties: [String: JSONValue] = [:]
        for text in texts {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw ValidationError("--prop expects KEY=JSON, got \(LedgerError.quoted(text))")
            }
            let key = String(text[..<equals])
            let raw = String(text[text.index(after: equals)...])
            guard properties[key] == nil else { throw ValidationError("--prop \(LedgerError.quoted(key)) is given twice") }
            do throws(LedgerError) {
                properties[key] = try JSONValue.parse(raw)
            } catch {
                // Text opening like a JSON string, array or object was meant as JSON: a
                // mistake in it is reported, not stored as text.
                guard !"\"[{".contains(raw.first ?? " "), raw.wholeMatch(of: Self.jsonNumber) == nil else {
                    throw ValidationError("--prop \(LedgerError.quoted(key)): \(error.description)")
                }
                properties[key] = .string(raw)
            }
        }
        return properties
    }

    /// JSON's number syntax (RFC 8259): such text failed to parse only for being out of range.
    nonisolated(unsafe) static let jsonNumber = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/

    static let propHelp = ArgumentHelp(
        "A property, KEY=JSON (repeatable). The value is parsed as JSON (name='\"Ann\"', age=42, tags='[\"a\"]', "
            + "old=null to hide the key); other text is stored as a plain string (name=Ann), "
            + "except that a value starting with \", [ or { must be valid JSON, and a number must be in range.",
        valueName: "key=json")

    static let idHelp = ArgumentHelp("An identifier, TYPE=VALUE (repeatable).", valueName: "type=value")
}

/// A number option (`--from`, `--limit`), read as ``parseDecimal(_:)`` reads every number:
/// ArgumentParser's own `UInt64` and `Int` parsing takes `+5` and `007`.
struct Number: ExpressibleByArgument, Sendable {
    let value: UInt64

    init(_ value: UInt64) { self.value = value }

    init?(argument: String) {
        guard let value = parseDecimal(argument) else { return nil }
        self.value = value
    }

    var defaultValueDescription: String { String(value) }
}
