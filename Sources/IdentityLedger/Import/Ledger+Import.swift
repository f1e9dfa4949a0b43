import Crypto
import Foundation

/// What an import did, over all its runs.
public struct ImportSummary: Sendable, Hashable, Codable {
    public var importId: String
    /// Rows read (the CSV header and empty lines are not rows).
    public var rows: UInt64
    public var created: UInt64
    public var updated: UInt64
    public var rejected: UInt64
    /// Applied rows that carried one or more values the schema blocks (``IdentifierType/blockedValues``,
    /// ``IdentifierType/blockedPatterns``): they were applied without those values, as an
    /// identify is with a `blockedIdentifier` warning. Rows, not values; part of ``created``
    /// and ``updated``. A row with nothing but blocked values is rejected instead (`noIdentifiers`).
    public var withBlockedValues: UInt64 = 0
    /// Where the rejected rows were written (JSON Lines), if anywhere.
    public var errorsFile: String?
    /// Set when this run resumed an interrupted import: the last row committed before.
    public var resumedAfterRow: UInt64?
    /// The import had already finished; this run changed nothing.
    public var alreadyFinished: Bool

    private enum CodingKeys: String, CodingKey {
        case importId, rows, created, updated, rejected, withBlockedValues, errorsFile, resumedAfterRow, alreadyFinished
    }

    /// Every key is written, absent values as `null`, so the document's shape is fixed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(importId, forKey: .importId)
        try c.encode(rows, forKey: .rows)
        try c.encode(created, forKey: .created)
        try c.encode(updated, forKey: .updated)
        try c.encode(rejected, forKey: .rejected)
        try c.encode(withBlockedValues, forKey: .withBlockedValues)
        try c.encode(errorsFile, forKey: .errorsFile)
        try c.encode(resumedAfterRow, forKey: .resumedAfterRow)
        try c.encode(alreadyFinished, forKey: .alreadyFinished)
    }
}

extension ImportSummary {
    /// Reads what ``encode(to:)`` writes; a summary written before `withBlockedValues` existed reads 0.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        importId = try c.decode(String.self, forKey: .importId)
        rows = try c.decode(UInt64.self, forKey: .rows)
        created = try c.decode(UInt64.self, forKey: .created)
        updated = try c.decode(UInt64.self, forKey: .updated)
        rejected = try c.decode(UInt64.self, forKey: .rejected)
        withBlockedValues = try c.decodeIfPresent(UInt64.self, forKey: .withBlockedValues) ?? 0
        errorsFile = try c.decodeIfPresent(String.self, forKey: .errorsFile)
        resumedAfterRow = try c.decodeIfPresent(UInt64.self, forKey: .resumedAfterRow)
        alreadyFinished = try c.decode(Bool.self, forKey: .alreadyFinished)
    }
}

/// Reported after every committed batch.
public struct ImportProgress: Sendable, Hashable {
    public var importId: String
    /// Rows read so far (resumed runs count the rows committed before).
    public var rows: UInt64
    /// Rows this run read itself (for a rate).
    public var rowsThisRun: UInt64
    public var created: UInt64
    public var updated: UInt64
    public var rejected: UInt64
    public var bytesRead: UInt64
    public var totalBytes: UInt64
}

/// Knobs for tests: the batch size, and a simulated crash after some batches.
struct ImportTuning: Sendable {
    var batchSize = 1000
    /// Stop (throwing) right after committing this many batches, as a crash would.
    var stopAfterBatches: Int?
}

extension Ledger {
    /// Bulk upsert from a CSV or JSON Lines file (behaviour §5.6), streaming: memory does not
    /// grow with the file.
    ///
    /// ```swift
    /// let summary = try await ledger.importFile(at: "customers.csv", matchBy: "external_id",
    ///                                           errors: "customers.errors.jsonl")
    /// print(summary.created, summary.updated, summary.rejected)
    ///
    /// // Each rejected row as it is found, with the row as read:
    /// _ = try await ledger.importFile(at: "customers.csv", matchBy: "external_id", dryRun: true, onRejection: { rejection in
    ///     print(rejection.row, rejection.column ?? "-", rejection.code, rejection.input ?? "-")
    /// })
    /// ```
    ///
    /// Each row is matched only by its `matchBy` value; it updates the customer found
    /// (if the guards allow) or creates one, and never merges. A row that cannot be
    /// applied is rejected and written to `errors`; the import goes on. Rows commit in
    /// batches; running again with the same `importId` resumes after the last committed
    /// row, and over a finished import changes nothing.
    ///
    /// - Parameters:
    ///   - path: the file; its extension (`.csv`, `.jsonl`, `.ndjson`) gives the format unless `format` does.
    ///   - format: CSV or JSON Lines, when the extension does not say.
    ///   - matchBy: the identifier type that finds existing customers.
    ///   - importId: names the import for resuming; by default derived from the file's SHA-256,
    ///     so re-running the same file resumes or does nothing.
    ///   - errors: a JSON Lines file for rejected rows (`{"row","line","column","code","message",…,"input"}`);
    ///     replaced when the import starts, kept up to the resume point when it resumes.
    ///   - source: the `source` recorded for rows that carry none of their own (a JSON line's
    ///     `source` wins; CSV rows have none); `nil` records `"import"`. 1 to 200 bytes
    ///     without control characters.
    ///   - csvCells: whether a CSV import stores numbers and `true`/`false` cells typed (the
    ///     default) or every cell as text. JSON Lines values keep their JSON types either way.
    ///   - dryRun: decide every row as the import would, each seeing the rows before it, in one
    ///     write transaction that is then rolled back: the summary's counts are the real run's,
    ///     `errors` is written with the rows that would be rejected, and nothing is written to
    ///     the store (a dry run does not start the import, so a later real run starts afresh).
    ///   - progress: called after every committed batch, on the calling task (not in a dry run).
    ///   - onRejection: called once for every row rejected by this run, in row order, with the
    ///     same ``ImportRejection`` as its errors-file line (a resumed run: the rows after the
    ///     resume point). A real run calls it on the calling task for a batch's rejections once
    ///     the batch has committed; a dry run as it finds each one, on the store's writer thread
    ///     inside its write transaction. Either way nothing is collected for it, so memory does
    ///     not grow with the number of rejections. It must not use this ledger (in a dry run the
    ///     write lock is held).
    /// - Throws: ``LedgerError/importSourceChanged(importId:startedWith:found:)`` when `importId`
    ///   was started on other contents; ``LedgerError/importOptionChanged(importId:option:startedWith:found:)``
    ///   when it was started with another `matchBy`, `format`, `source` or `csvCells` (also
    ///   over a finished import: its rows were not imported that way); `unknownIdentifierType`
    ///   for `matchBy`; `invalidInput` for a bad CSV header, a bad `source` or an `errors` file
    ///   that is the input itself;
    ///   ``LedgerError/fileNotReadable(path:reason:)`` when the file cannot be opened or read,
    ///   or is not a regular file (a pipe or FIFO: it is read twice, for its digest and its rows)
    ///   (before the first row: nothing written; part-way: the committed batches stay and the
    ///   import is not finished, so running it again resumes). Rejected rows do not throw.
    public func importFile(
        at path: String,
        format: ImportFormat? = nil,
        matchBy: String,
        importId: String? = nil,
        errors: String? = nil,
        source: String? = nil,
        csvCells: CSVCells = .typed,
        dryRun: Bool = false,
        progress: ((ImportProgress) -> Void)? = nil,
        onRejection: (@Sendable (ImportRejection) -> Void)? = nil
    ) async throws(LedgerError) -> ImportSummary {
        try await importFile(
            at: path, format: format, matchBy: matchBy, importId: importId, errors: errors, source: source, csvCells: csvCells,
            dryRun: dryRun, progress: progress, onRejection: onRejection, tuning: ImportTuning())
    }

    func importFile(
        at path: String, format: ImportFormat?, matchBy: String, importId: String?, errors: String?, source defaultSource: String? = nil,
        csvCells: CSVCells = .typed, dryRun: Bool = false,
        progress: ((ImportProgress) -> Void)?, onRejection: (@Sendable (ImportRejection) -> Void)? = nil, tuning: ImportTuning
    ) async throws(LedgerError) -> ImportSummary {
        guard let format = format ?? ImportFormat(pathExtension: path) else {
            throw .invalidInput(reason: "cannot tell the format of \(path) from its extension: pass a format (csv or jsonl)")
        }
        let schema = try schema()
        guard schema.type(named: matchBy) != nil else { throw .unknownIdentifierType(type: matchBy) }
        if let defaultSource {
            guard !defaultSource.isEmpty, defaultSource.utf8.count <= 200,
                  !defaultSource.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw .invalidInput(reason: "source \(LedgerError.quoted(defaultSource)): an import's source is 1 to 200 bytes without control characters")
            }
        }

        // Before anything is written: emptying the errors file would destroy the input.
        try ImportErrorsFile.refuse(errors, ifItIs: path)

        var hasher = SHA256()
        var totalBytes: UInt64 = 0
        try ByteChunks.forEachChunk(path: path) { chunk in
            hasher.update(chunk)
            totalBytes += UInt64(chunk.count)
        }
        let digest = Array(hasher.finalize())
        let importId = importId ?? "imp-" + String(digest.hexString.prefix(16))
        guard !importId.isEmpty, importId.utf8.count <= 200, !importId.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw .invalidInput(reason: "an import ID is 1 to 200 bytes without white space")
        }
        let sourceName = (path as NSString).lastPathComponent

        var state = try snapshot { try $0.importState(importId) }
        if let state {
            guard state.start.contentDigest == digest else {
                throw .importSourceChanged(importId: importId, startedWith: state.start.contentDigest.hexString, found: digest.hexString)
            }
            // Rows after the resume point must be read as those before were: never a mix.
            func refuse(_ option: String, _ startedWith: String, _ found: String) throws(LedgerError) {
                guard startedWith == found else {
                    throw .importOptionChanged(importId: importId, option: option, startedWith: startedWith, found: found)
                }
            }
            try refuse("matchBy", state.start.matchBy, matchBy)
            try refuse("format", state.start.format, format.rawValue)
            try refuse("source", state.start.source ?? "import", defaultSource ?? "import")
            // An import started before the log recorded the typing (event format 2) is not checked.
            if format == .csv, let startedWith = state.start.csvCells { try refuse("csvCells", startedWith.rawValue, csvCells.rawValue) }
            if let counts = state.finished {
                return ImportSummary(
                    importId: importId, rows: counts.read, created: counts.created, updated: counts.updated,
                    rejected: counts.rejected, withBlockedValues: counts.withBlockedValues, errorsFile: errors, resumedAfterRow: nil,
                    alreadyFinished: true
                )
            }
        }
        // Read the header before anything is written, so that a bad one starts nothing.
        var source = try ImportSource(path: path, format: format, schema: schema, cells: csvCells)
        defer { source.close() }
        if format == .csv, !source.columns.contains(matchBy) {
            throw .invalidInput(reason: "\(sourceName) has no column \"\(matchBy)\" to match by (columns: \(source.columns.joined(separator: ", ")))")
        }

        let resumedAfterRow = state?.lastRow
        let start = ImportStart(
            importId: importId, sourceName: sourceName, contentDigest: digest, matchBy: matchBy, format: format.rawValue,
            source: defaultSource, csvCells: format == .csv ? csvCells : nil
        )
        if dryRun {
            let sink = RejectionSink(file: try ImportErrorsFile(path: errors, keepingRowsUpTo: resumedAfterRow), onRejection: onRejection)
            let outcome = try await previewImport(start, path: path, format: format, schema: schema, cells: csvCells, sink: sink)
            return ImportSummary(
                importId: importId, rows: outcome.rows, created: outcome.created, updated: outcome.updated,
                rejected: outcome.rejected, withBlockedValues: outcome.withBlockedValues, errorsFile: errors,
                resumedAfterRow: resumedAfterRow, alreadyFinished: false
            )
        }
        if state == nil, decidesOnly {
            // Deciding against an empty store: the import writes (its start, at least). Its
            // errors file is the real run's to create: one that is there stays untouched here.
            _ = try await startImport(start)
            return ImportSummary(importId: importId, rows: 0, created: 0, updated: 0, rejected: 0, errorsFile: errors, resumedAfterRow: nil, alreadyFinished: false)
        }
        let sink = RejectionSink(file: try ImportErrorsFile(path: errors, keepingRowsUpTo: resumedAfterRow), onRejection: onRejection)
        if state == nil { state = try await startImport(start) }
        let committed = state!.lastRow

        var created = state!.created
        var updated = state!.updated
        var rejected = state!.rejectedUpToLastRow
        var withBlockedValues = state!.withBlockedValues
        var batches = 0
        var batch: [ImportRow] = []
        batch.reserveCapacity(tuning.batchSize)
        func report() {
            progress?(ImportProgress(
                importId: importId, rows: source.rowsRead, rowsThisRun: source.rowsRead - committed, created: created, updated: updated, rejected: rejected,
                bytesRead: source.bytesRead, totalBytes: totalBytes
            ))
        }
        func flush() async throws(LedgerError) {
            guard !batch.isEmpty else { return }
            let result = try await commitBatch(batch, importId: importId)
            batch.removeAll(keepingCapacity: true)
            created += result.created
            updated += result.updated
            withBlockedValues += result.withBlockedValues
            rejected += UInt64(result.rejections.count)
            try sink.deliver(result.rejections)
            batches += 1
            // Keep resident memory flat: the pages this batch touched stay in the page cache,
            // not in the process (docs/import.md).
            store.releaseMappedPages()
            report()
            if let stop = tuning.stopAfterBatches, batches >= stop {
                throw .invalidInput(reason: "import \(importId) stopped after \(batches) batches (test hook)")
            }
        }
        // Rows up to the resume point are only counted, not mapped. A read error throws out
        // of here: the batches committed so far stay and `importFinished` is not written, so
        // a re-run resumes after them instead of finding a shortened import finished.
        while let row = try source.next(mapping: source.rowsRead >= committed) {
            guard row.row > committed else { continue }
            batch.append(row)
            // Batches end at fixed row numbers, so a resumed import commits the rest of
            // the file in the same batches as an uninterrupted one.
            if row.row % UInt64(tuning.batchSize) == 0 { try await flush() }
        }
        try await flush()

        var counts = ImportCounts()
        counts.read = source.rowsRead
        counts.created = created
        counts.updated = updated
        counts.rejected = rejected
        counts.withBlockedValues = withBlockedValues
        try await finishImport(importId, counts: counts)
        return ImportSummary(
            importId: importId, rows: counts.read, created: created, updated: updated, rejected: rejected,
            withBlockedValues: withBlockedValues, errorsFile: errors, resumedAfterRow: resumedAfterRow, alreadyFinished: false
        )
    }

    private struct Preview: Sendable {
        var rows: UInt64 = 0
        var created: UInt64 = 0
        var updated: UInt64 = 0
        var rejected: UInt64 = 0
        var withBlockedValues: UInt64 = 0
    }

    /// The import run to its end, every row decided and committed as a real run would, in one
    /// write transaction that is rolled back. Rejections go to `sink` as they are found.
    private func previewImport(
        _ start: ImportStart, path: String, format: ImportFormat, schema: Schema, cells: CSVCells, sink: RejectionSink
    ) async throws(LedgerError) -> Preview {
        let now = self.now
        return try await Self.wrap {
            try await store.discardingWrite { transaction in
                if try transaction.view.importState(start.importId) == nil {
                    try transaction.commit(try ImportDecisions.start(start, in: transaction.view, now: now))
                }
                let state = try transaction.view.importState(start.importId)!
                let decider = ImportRowDecider(
                    view: transaction.view, schema: try transaction.view.schema(), importId: start.importId,
                    matchBy: state.start.matchBy, defaultSource: state.start.source, startedAt: state.startedAt
                )
                var preview = Preview(
                    created: state.created, updated: state.updated, rejected: state.rejectedUpToLastRow, withBlockedValues: state.withBlockedValues)
                var source = try ImportSource(path: path, format: format, schema: schema, cells: cells)
                defer { source.close() }
                var found: UInt64 = 0
                while let row = try source.next(mapping: source.rowsRead >= state.lastRow) {
                    guard row.row > state.lastRow else { continue }
                    switch try transaction.commit(try decider.decide(row) { now }) {
                    case .applied(let created, let droppedBlocked):
                        if created { preview.created += 1 } else { preview.updated += 1 }
                        if droppedBlocked { preview.withBlockedValues += 1 }
                    case .rejected(let rejection):
                        preview.rejected += 1
                        try sink.deliver(rejection, number: found)
                        found += 1
                    }
                }
                preview.rows = source.rowsRead
                return preview
            }
        }
    }

    private func startImport(_ start: ImportStart) async throws(LedgerError) -> ImportState {
        let now = self.now
        return try await Self.wrap {
            try await store.write(size: 1) { transaction in
                // Another process may have started it since the check above.
                if let state = try transaction.view.importState(start.importId) { return state }
                try transaction.commit(try ImportDecisions.start(start, in: transaction.view, now: now))
                return try transaction.view.importState(start.importId)!
            }
        }
    }

    private struct BatchResult: Sendable {
        var created: UInt64 = 0
        var updated: UInt64 = 0
        var withBlockedValues: UInt64 = 0
        var rejections: [ImportRejection] = []
    }

    private func commitBatch(_ rows: [ImportRow], importId: String) async throws(LedgerError) -> BatchResult {
        let clock = options.clock
        return try await Self.wrap {
            try await store.write(size: rows.count) { transaction in
                guard let state = try transaction.view.importState(importId) else {
                    throw LedgerError.invalidInput(reason: "import \(importId) has no start in the log")
                }
                let decider = ImportRowDecider(
                    view: transaction.view, schema: try transaction.view.schema(), importId: importId, matchBy: state.start.matchBy,
                    defaultSource: state.start.source, startedAt: state.startedAt
                )
                // The clock is read once per batch, and only when a row is applied.
                var now: Int64?
                var result = BatchResult()
                // A row at or before the last committed one was applied by an earlier run.
                for row in rows where row.row > state.lastRow {
                    let outcome = try transaction.commit(try decider.decide(row) {
                        if now == nil { now = clock().millisecondsSince1970 }
                        return now!
                    })
                    switch outcome {
                    case .applied(let created, let droppedBlocked):
                        if created { result.created += 1 } else { result.updated += 1 }
                        if droppedBlocked { result.withBlockedValues += 1 }
                    case .rejected(let rejection): result.rejections.append(rejection)
                    }
                }
                return result
            }
        }
    }

    private func finishImport(_ importId: String, counts: ImportCounts) async throws(LedgerError) {
        let now = self.now
        try await Self.wrap {
            try await store.write(size: 1) { transaction in
                guard try transaction.view.importState(importId)?.finished == nil else { return }
                try transaction.commit(try ImportDecisions.finish(importId, counts: counts, in: transaction.view, now: now))
            }
        }
    }
}
