import ArgumentParser
import Foundation
import IdentityLedger

extension ImportFormat: ExpressibleByArgument {}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bulk upsert customers from a CSV or JSON Lines file, matching by one identifier type.",
        discussion: """
            CSV: a header row; a column named after an identifier type is that identifier, \
            access:TYPE columns hold true/false, an `at` column is the row's time, every other \
            column is a property (an empty cell writes nothing). JSON Lines: one \
            {"ids":{…},"access":[…],"properties":{…},"at":"…","source":"…"} per line.
            Rows are matched only by --match-by and never merge. Rejected rows go to --errors \
            (default FILE.errors.jsonl), each with the row as read ("input"), and the import \
            goes on. Running again with the same --import-id (by default derived from the \
            file's contents) resumes an interrupted import, or does nothing when it finished; \
            it must be given the same --match-by, --format, --source and --strings \
            (importOptionChanged otherwise). Exits 2 if some rows were rejected.
            See docs/import.md.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Flag(help: "Store every CSV cell as text (by default numbers and true/false are stored typed).")
    var strings = false

    @Argument(help: ArgumentHelp("A .csv, .jsonl or .ndjson file (a regular file: it is read twice, so not a pipe).", valueName: "file"))
    var file: String

    @Option(name: .customLong("match-by"), help: ArgumentHelp("The identifier type that finds existing customers.", valueName: "type"))
    var matchBy: String

    @Option(name: .customLong("import-id"), help: ArgumentHelp("Names the import, for resuming (default: from the file's SHA-256).", valueName: "id"))
    var importId: String?

    @Option(help: ArgumentHelp("Where to write rejected rows as JSON Lines (default: FILE.errors.jsonl).", valueName: "file"))
    var errors: String?

    @Option(help: ArgumentHelp("csv or jsonl (default: from the file's extension).", valueName: "format"))
    var format: ImportFormat?

    @Option(help: ArgumentHelp(
        "The source recorded for rows without their own (a JSON line's \"source\" wins; default: import).", valueName: "name"))
    var source: String?

    func validate() throws {
        try global.validateStore()
        guard format != nil || ImportFormat(pathExtension: file) != nil else {
            throw ValidationError("cannot tell the format of \(file) from its extension: pass --format csv or --format jsonl")
        }
    }

    func run() async throws {
        var rejected: UInt64 = 0
        try await global.run {
            let store = try global.lazyLedger()
            let display = ImportProgressDisplay(json: global.json)
            let summary: ImportSummary
            do {
                // On a new path the import is first decided against an empty store, which
                // stops once the import would write: the progress is the real run's.
                summary = try await dryRun.run(store) { ledger, dryRun throws(LedgerError) in
                    try await ledger.importFile(
                        at: file, format: format, matchBy: matchBy, importId: importId,
                        errors: errors ?? (dryRun ? nil : file + ".errors.jsonl"), source: source, csvCells: strings ? .text : .typed, dryRun: dryRun,
                        progress: display.update
                    )
                }
            } catch {
                display.finish(nil)
                throw error
            }
            display.finish(summary)
            rejected = summary.rejected
            print(global.json ? Output.json(summary) : Self.render(summary))
        }
        if rejected > 0 { throw ExitCode(2) }
    }

    static func render(_ summary: ImportSummary) -> String {
        // Shown only when there are some: most imports carry no junk.
        let blocked = summary.withBlockedValues > 0 ? ", \(summary.withBlockedValues) with blocked values dropped" : ""
        if summary.alreadyFinished {
            return "import \(summary.importId) already finished: nothing to do (\(summary.rows) rows, \(summary.created) created, "
                + "\(summary.updated) updated, \(summary.rejected) rejected\(blocked))"
        }
        var text = "import \(summary.importId): \(summary.rows) rows, \(summary.created) created, \(summary.updated) updated, \(summary.rejected) rejected\(blocked)"
        if summary.rejected > 0, let file = summary.errorsFile { text += " (written to \(file))" }
        if let row = summary.resumedAfterRow { text += "; resumed after row \(row)" }
        return text
    }
}

/// Import progress on a ``ProgressLine``; then (terminal or not) one line with the
/// throughput. Silent with `--json`.
final class ImportProgressDisplay {
    private let json: Bool
    private let line: ProgressLine

    init(json: Bool) {
        self.json = json
        line = ProgressLine(json: json)
    }

    func update(_ progress: ImportProgress) {
        line.draw {
            let now = line.elapsed
            // Rows committed by an earlier run are not part of this run's rate.
            let rate = now > 0 ? Double(progress.rowsThisRun) / now : 0
            let fraction = progress.totalBytes > 0 ? Double(progress.bytesRead) / Double(progress.totalBytes) : 1
            let eta = fraction > 0 ? now * (1 - fraction) / fraction : 0
            return String(format: "import %@: %llu rows (%.0f%%), %.0f rows/s, %llu rejected, ETA %.0fs",
                          progress.importId, progress.rows, 100 * fraction, rate, progress.rejected, eta)
        }
    }

    func finish(_ summary: ImportSummary?) {
        line.clear()
        guard let summary, !summary.alreadyFinished, !json else { return }
        let seconds = line.elapsed
        let processed = summary.rows - (summary.resumedAfterRow ?? 0)
        Diagnostics.write(String(format: "import %@: %llu rows in %.1fs (%.0f rows/s)",
                                 summary.importId, processed, seconds, seconds > 0 ? Double(processed) / seconds : 0))
    }
}
