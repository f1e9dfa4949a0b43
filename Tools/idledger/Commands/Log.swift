import ArgumentParser
import Foundation
import IdentityLedger

struct Log: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Print events of the log, in order (JSON Lines with --json).",
        discussion: """
            Each JSON line holds seq, commandSeq, kind, recordedAt and occurredAt (ISO 8601, UTC, \
            milliseconds), source, eventId, actor, note, and the event's own fields.
            The filters combine: --kind (repeatable) keeps events of those kinds, --customer the \
            events that name that customer (as its customer, survivor, absorbed customer or \
            candidate; `history` also follows the customers merged into it), --since the events \
            recorded at or after a time. --limit counts the events printed. --follow goes on \
            printing events as they commit (from any process), until interrupted or --limit is reached.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("from"), help: ArgumentHelp("The first log position to print.", valueName: "seq"))
    var fromNumber = Number(1)

    @Option(name: .customLong("limit"), help: ArgumentHelp("At most this many events (default: all).", valueName: "n"))
    var limitNumber: Number?

    @Option(help: ArgumentHelp("Only events of this kind (repeatable): \(EventBody.kinds.joined(separator: ", ")).", valueName: "kind"))
    var kind: [String] = []

    @Option(help: ArgumentHelp("Only events that name this customer: an ID, or TYPE=VALUE for the customer holding it now.", valueName: "customer"))
    var customer: String?

    @Option(help: ArgumentHelp(
        "Only events recorded at or after this time: ISO 8601, or a date alone for the start of that day UTC "
            + "(the engine's recorded times, not the clients' --at times).",
        valueName: "time"))
    var since: String?

    @Flag(help: "After the last event, wait for new ones and print each as it commits, until interrupted.")
    var follow = false

    var from: UInt64 { fromNumber.value }
    var limit: Int? { limitNumber.map { Int(clamping: $0.value) } }

    var identifierArguments: [String] { customer.map { [$0] } ?? [] }

    func validate() throws {
        try global.validateStore()
        guard from >= 1 else { throw ValidationError("--from must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let unknown = kind.first(where: { !EventBody.kinds.contains($0) }) {
            throw ValidationError("--kind \(LedgerError.quoted(unknown)) is not an event kind; the kinds are \(EventBody.kinds.joined(separator: ", "))")
        }
        if let customer { _ = try ArgumentParsing.customer(customer, argument: "--customer") }
        if let since { _ = try ArgumentParsing.time(since, option: "--since") }
    }

    func run() async throws {
        try await global.run {
            let ledger = try global.openLedger()
            let kinds = Set(kind)
            // A TYPE=VALUE is resolved once, now; an ID is taken as it is, merged or not.
            let id: CustomerID? = try customer.map { text in
                switch try ArgumentParsing.customer(text, argument: "--customer") {
                case .id(let id): id
                case let ref: try ledger.customer(ref).id
                }
            }
            let sinceDate = try since.map { try ArgumentParsing.time($0, option: "--since") }
            func wanted(_ event: Event) -> Bool {
                (kinds.isEmpty || kinds.contains(event.kind))
                    && (id.map(event.customers.contains) ?? true)
                    && (sinceDate.map { event.recordedDate >= $0 } ?? true)
            }
            var next = from
            var remaining = limit ?? Int.max
            // Pages keep memory flat on a long log; each page is its own snapshot, which
            // is consistent because the log is append-only.
            while remaining > 0 {
                let pageSize = kinds.isEmpty && id == nil && sinceDate == nil ? min(remaining, 1000) : 1000
                let page = try ledger.events(from: next, limit: pageSize)
                for event in page where remaining > 0 && wanted(event) {
                    print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
                    remaining -= 1
                }
                guard let last = page.last else { break }
                next = last.seq + 1
                guard page.count == pageSize else { break }
            }
            guard follow, remaining > 0 else { return }
            fflush(nil)
            for try await event in ledger.events(after: next - 1) where wanted(event) {
                print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
                // Each line as it commits: not held back in a pipe buffer.
                fflush(nil)
                remaining -= 1
                if remaining == 0 { break }
            }
        }
    }
}
