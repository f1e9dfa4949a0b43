import Foundation
import ArgumentParser
import IdentityLedger

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run commands from JSON Lines, one per line, printing one result line per input line.",
        discussion: """
            Each line is {"op":"identify"|"update"|"merge"|"detach", …}, e.g.
              {"op":"identify","ids":{"email":"a@b.com","cookie":["c1"]},"access":["email"],"properties":{"name":"Ann"},"at":"2026-11-01T10:00:00Z","source":"web","eventId":"e-17"}
              {"op":"merge","into":7,"from":9,"actor":"ops@shop","note":"same person"}
            Blank lines are skipped. A field the op does not take is an error, not skipped. A line over \
            1 MiB is refused (inputTooLarge) without being read into memory. A bad line is reported ({"line":N,"error":{…}} with --json) and the \
            rest still run. Each line is applied on its own, all or nothing and in order; the lines \
            already read when one is applied (up to \(Ingest.batchLimit)) share one commit, and each result \
            line is printed once its line is durable. Exits 2 if any line failed. A commit the store \
            refuses (storageFull, readOnly, a damaged store) stops ingest there: the error names the \
            line from which nothing was run, every line answered before is written, and it exits 1. With --dry-run the whole \
            input is read first and every line decided as it would run, each seeing the lines before it; \
            nothing is written.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Argument(help: ArgumentHelp("A JSON Lines file, or - for stdin.", valueName: "file"))
    var file: String

    func validate() throws {
        try global.validateStore()
    }

    /// The error ingest stops with when a batch fails as a whole: the store's code, and the
    /// line from which nothing was run (every line before it was answered).
    static func stopped(at line: Int, by error: LedgerError) -> CLIError {
        CLIError(code: error.code, message: "\(error.description); ingest stopped at line \(line): it and the lines after it were not run")
    }

    /// At most this many lines share a commit: more saves little once the sync is shared, and
    /// the first line of a batch waits for the others before its result is printed.
    static let batchLimit = 64

    func run() async throws {
        var failed = 0
        var total = 0
        try await global.run {
            let reader = try LineReader(path: file)
            let store = try global.lazyLedger()
            var number = 0
            // A dry run decides every line in one transaction that is rolled back, so that each
            // line sees the lines before it: it reads the whole input first.
            let batchLimit = dryRun.enabled ? Int.max : Self.batchLimit
            while let first = reader.next() {
                // The lines that are already here, without waiting for more.
                var lines: [(number: Int, command: Result<Command, LedgerError>)] = []
                var line: InputLine? = first
                while let read = line {
                    number += 1
                    switch read {
                    case .text(let text) where text.allSatisfy(\.isWhitespace):
                        break
                    case .text(let text):
                        lines.append((number, Result { () throws(LedgerError) in try Command(jsonLine: text) }))
                    case .invalidUTF8, .tooLarge:
                        lines.append((number, .failure(read.problem!)))
                    }
                    line = lines.count < batchLimit ? (dryRun.enabled ? reader.next() : reader.nextIfReady()) : nil
                }
                let commands = lines.compactMap { try? $0.command.get() }
                let executed: [Result<CommandResult, LedgerError>]
                do throws(LedgerError) {
                    executed = commands.isEmpty ? [] : try await dryRun.run(store) { ledger, dryRun throws(LedgerError) in try await ledger.execute(batch: commands, dryRun: dryRun) }
                } catch {
                    // A line's own verdict is in its result: an error of the whole batch is the
                    // store's (space, permissions, damage) and nothing of the batch was written.
                    // Going on would commit later lines after these, out of order; so stop here,
                    // as a crash would, and the input can be sent again from this line.
                    throw Self.stopped(at: lines[0].number, by: error)
                }
                var results = executed.makeIterator()
                for (lineNumber, parsed) in lines {
                    total += 1
                    switch parsed.flatMap({ command in results.next()!.map { (command, $0) } }) {
                    case .success(let (command, result)):
                        let isMerge = if case .merge = command { true } else { false }
                        if global.json {
                            print(Output.json(ResultOutput(result, includeGuards: isMerge, line: lineNumber)))
                        } else {
                            print("line \(lineNumber): " + (isMerge ? Rendering.merge(result) : Rendering.result(result)))
                        }
                    case .failure(let error):
                        failed += 1
                        if global.json {
                            print(Output.json(LineErrorOutput(line: lineNumber, error: ErrorBody(code: error.code, message: error.description))))
                        } else {
                            print("line \(lineNumber): error \(error.code): \(error.description)")
                        }
                    }
                }
                // Each result line is an acknowledgement: it must not wait in a pipe buffer.
                fflush(nil) // nil: every output stream (stdout is not concurrency-safe to name)
            }
            // The lines before a read error were run and answered; the error is not an end.
            if let failure = reader.failure { throw failure }
        }
        if !global.json {
            Diagnostics.write("ingest: \(total) commands, \(total - failed) succeeded, \(failed) failed")
        }
        if failed > 0 { throw ExitCode(2) }
    }
}
