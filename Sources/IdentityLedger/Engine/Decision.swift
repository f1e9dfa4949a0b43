/// What a decider decided: the events to append, in order and with their log positions,
/// and what the caller is told. Committing it appends and projects the events in one
/// transaction; a dry run returns `outcome` and drops the rest.
struct Decision<Outcome> {
    var events: [Event]
    var outcome: Outcome
}

/// The events one decision appends after the end of the log, each stamped with its
/// command's context. A store's first write records the default schema first.
struct PendingLog {
    /// What every event of one command carries besides its body.
    struct Header {
        var recordedAt: Int64
        var occurredAt: Int64
        var source: String?
        var eventId: String?
        var payloadDigest: [UInt8]?
        var actor: String?
        var note: String?
        var importId: String?
        var row: UInt64?
        /// ``Event/droppedBlocked``.
        var droppedBlocked = false
    }

    private(set) var events: [Event] = []
    private(set) var nextSeq: UInt64
    private var commandSeq: UInt64
    var header: Header

    /// A log that continues `view`'s, with a clock that never goes back: `recordedAt` is
    /// `now`, or the last event's if that is later.
    init(after view: some LedgerView, now: Int64, seedingDefaultSchema: Bool = true) throws {
        let last = try view.lastPosition()
        let recordedAt = max(now, last?.recordedAt ?? now)
        nextSeq = (last?.seq ?? 0) + 1
        commandSeq = nextSeq
        header = Header(recordedAt: recordedAt, occurredAt: recordedAt)
        if last == nil, seedingDefaultSchema {
            append(.schemaChanged(.default))
            beginCommand(header)
        }
    }

    /// The positions of the current command's events.
    var written: [UInt64] { Array(commandSeq..<nextSeq) }

    /// Starts a new command: later events group under the next position.
    mutating func beginCommand(_ header: Header) {
        commandSeq = nextSeq
        self.header = header
    }

    mutating func append(_ body: EventBody) {
        let first = nextSeq == commandSeq
        events.append(Event(
            seq: nextSeq, commandSeq: commandSeq,
            recordedAt: header.recordedAt, occurredAt: header.occurredAt, source: header.source,
            // The idempotency key is recorded once, on the command's first event.
            eventId: first ? header.eventId : nil, payloadDigest: first ? header.payloadDigest : nil,
            actor: header.actor, note: header.note, importId: header.importId, row: header.row,
            body: body, droppedBlocked: header.droppedBlocked
        ))
        nextSeq += 1
    }

    func decision<Outcome>(_ outcome: Outcome) -> Decision<Outcome> {
        Decision(events: events, outcome: outcome)
    }
}
