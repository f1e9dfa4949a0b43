import LMDB

/// How far a bulk import got, as the `imports` projection stores it. Derived from the
/// log alone (its `importStarted` event, the row-tagged events, its `importFinished`),
/// so `rebuild` reproduces it and a resumed import can trust it.
struct ImportState: Hashable, Sendable {
    var start: ImportStart
    /// `recordedAt` of the `importStarted` event: the `occurredAt` of rows without `at`.
    var startedAt: Int64
    var startSeq: UInt64
    /// The last row with a committed event. Rows are numbered densely, so every row up
    /// to it was processed: those without an event were rejected.
    var lastRow: UInt64 = 0
    var created: UInt64 = 0
    var updated: UInt64 = 0
    /// Applied rows up to ``lastRow`` whose event has ``Event/droppedBlocked``.
    var withBlockedValues: UInt64 = 0
    /// The counts of the `importFinished` event, once there is one.
    var finished: ImportCounts?

    /// Rows up to ``lastRow`` that were rejected.
    var rejectedUpToLastRow: UInt64 { lastRow - created - updated }

    /// 2: the start's options (source, CSV cell typing) follow its format.
    /// 3: ``withBlockedValues`` follows `updated`, and ends the finished counts.
    private static let version: UInt8 = 3

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.write(byte: Self.version)
        w.write(start.importId)
        w.write(start.sourceName)
        w.write(raw: start.contentDigest)
        w.write(start.matchBy)
        w.write(start.format)
        w.write(importOptions: start)
        w.write(signed: startedAt)
        w.write(startSeq)
        w.write(lastRow)
        w.write(created)
        w.write(updated)
        w.write(withBlockedValues)
        w.write(finished != nil)
        if let finished {
            w.write(finished.read)
            w.write(finished.created)
            w.write(finished.updated)
            w.write(finished.rejected)
            w.write(finished.withBlockedValues)
        }
        return w.bytes
    }

    init(start: ImportStart, startedAt: Int64, startSeq: UInt64) {
        self.start = start
        self.startedAt = startedAt
        self.startSeq = startSeq
    }

    init(bytes: [UInt8]) throws(BinaryReader.Failure) {
        var r = BinaryReader(bytes)
        let version = try r.readByte()
        guard (1...Self.version).contains(version) else { throw BinaryReader.Failure(reason: "unknown import state version") }
        start = ImportStart(
            importId: try r.readString(), sourceName: try r.readString(), contentDigest: try r.readRaw(),
            matchBy: try r.readString(), format: try r.readString()
        )
        if version >= 2 { try r.readImportOptions(into: &start) }
        startedAt = try r.readSigned()
        startSeq = try r.readUInt64()
        lastRow = try r.readUInt64()
        created = try r.readUInt64()
        updated = try r.readUInt64()
        if version >= 3 { withBlockedValues = try r.readUInt64() }
        if try r.readBool() {
            var counts = ImportCounts()
            counts.read = try r.readUInt64()
            counts.created = try r.readUInt64()
            counts.updated = try r.readUInt64()
            counts.rejected = try r.readUInt64()
            if version >= 3 { counts.withBlockedValues = try r.readUInt64() }
            finished = counts
        }
    }
}

extension ProjectionReader {
    func importState(_ importId: String) throws -> ImportState? {
        try txn.get(db.imports, key: Array(importId.utf8)).map { try ImportState(bytes: $0) }
    }
}

extension Projector {
    /// Keeps the `imports` projection: created by `importStarted`, advanced by every
    /// event tagged with an import ID and row, closed by `importFinished`.
    func projectImport(_ event: Event) throws {
        let reader = ProjectionReader(txn: txn, db: db)
        switch event.body {
        case .importStarted(let start):
            let state = ImportState(start: start, startedAt: event.recordedAt, startSeq: event.seq)
            try txn.put(db.imports, key: Array(start.importId.utf8), value: state.encoded())
        case .importFinished(let importId, let counts):
            guard var state = try reader.importState(importId) else { return }
            state.finished = counts
            try txn.put(db.imports, key: Array(importId.utf8), value: state.encoded())
        default:
            guard let importId = event.importId, let row = event.row,
                  var state = try reader.importState(importId), row > state.lastRow else { return }
            state.lastRow = row
            if case .identified(_, let created, _, _, _, _) = event.body, created {
                state.created += 1
            } else {
                state.updated += 1
            }
            if event.droppedBlocked { state.withBlockedValues += 1 }
            try txn.put(db.imports, key: Array(importId.utf8), value: state.encoded())
        }
    }
}
