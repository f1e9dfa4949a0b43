import ArgumentParser
import IdentityLedger

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print events of the log, in order (JSON Lines with --json).",
        discussion: """
            Each JSON line holds seq, commandSeq, kind, recordedAt and occurredAt (ISO 8601, UTC, \
            milliseconds), source, eventId, actor, note, and the event's own fields.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("from"), help: ArgumentHelp("The first log position to print.", valueName: "seq"))
    var fromNumber = Number(1)

    @Option(name: .customLong("limit"), help: ArgumentHelp("At most this many events (default: all).", valueName: "n"))
    var limitNumber: Number?

    var from: UInt64 { fromNumber.value }
    var limit: Int? { limitNumber.map { Int(clamping: $0.value) } }

    func validate() throws {
        try global.validateStore()
        guard from >= 1 else { throw ValidationError("--from must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await global.run {
            let ledger = try global.openLedger()
            var next = from
            var remaining = limit ?? Int.max
            // Pages keep memory flat on a long log; each page is its own snapshot, which
            // is consistent because the log is append-only.
            while remaining > 0 {
                let page = try ledger.events(from: next, limit: min(remaining, 1000))
                for event in page {
                    print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
                }
                guard let last = page.last, page.count == min(remaining, 1000) else { break }
                remaining -= page.count
                next = last.seq + 1
            }
        }
    }
}
