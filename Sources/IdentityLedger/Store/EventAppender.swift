import LMDB

/// Appends one command's events to the log and projects each at once, so the
/// command's later steps read its earlier effects. Lives inside one write transaction.
struct EventAppender {
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
    }

    let txn: WriteTransaction
    let db: Databases
    private(set) var nextSeq: UInt64
    private var commandSeq: UInt64
    var header: Header
    private(set) var written: [UInt64] = []

    init(txn: WriteTransaction, db: Databases, nextSeq: UInt64, header: Header) {
        self.txn = txn
        self.db = db
        self.nextSeq = nextSeq
        self.commandSeq = nextSeq
        self.header = header
    }

    /// Starts a new command: later events group under the next position.
    mutating func beginCommand(_ header: Header) {
        commandSeq = nextSeq
        self.header = header
        written = []
    }

    @discardableResult
    mutating func append(_ body: EventBody) throws -> Event {
        let first = nextSeq == commandSeq
        let event = Event(
            seq: nextSeq, commandSeq: commandSeq,
            recordedAt: header.recordedAt, occurredAt: header.occurredAt, source: header.source,
            // The idempotency key is recorded once, on the command's first event.
            eventId: first ? header.eventId : nil, payloadDigest: first ? header.payloadDigest : nil,
            actor: header.actor, note: header.note, importId: header.importId, row: header.row,
            body: body
        )
        try txn.put(db.log, key: Keys.seq(event.seq), value: event.encoded(), flags: .append)
        try Projector(txn: txn, db: db).apply(event)
        written.append(event.seq)
        nextSeq += 1
        return event
    }
}
