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
            Blank lines are skipped. A bad line is reported ({"line":N,"error":{…}} with --json) and the \
            rest still run; each line is its own transaction. Exits 2 if any line failed.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A JSON Lines file, or - for stdin.", valueName: "file"))
    var file: String

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        var failed = 0
        var total = 0
        try await global.run {
            let reader = try LineReader(path: file)
            let ledger = try global.openLedger(create: true)
            var number = 0
            while let line = reader.next() {
                number += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                total += 1
                do throws(LedgerError) {
                    let command = try Command(jsonLine: line)
                    let result = try await ledger.execute(command)
                    let isMerge = if case .merge = command { true } else { false }
                    if global.json {
                        print(Output.json(ResultOutput(result, includeGuards: isMerge, line: number)))
                    } else {
                        print("line \(number): " + (isMerge ? Rendering.merge(result) : Rendering.result(result)))
                    }
                } catch {
                    failed += 1
                    if global.json {
                        print(Output.json(LineErrorOutput(line: number, error: ErrorBody(code: error.code, message: error.description))))
                    } else {
                        print("line \(number): error \(error.code): \(error.description)")
                    }
                }
                // Each result line is an acknowledgement: it must not wait in a pipe buffer.
                fflush(nil) // nil: every output stream (stdout is not concurrency-safe to name)
            }
        }
        if !global.json {
            Diagnostics.write("ingest: \(total) commands, \(total - failed) succeeded, \(failed) failed")
        }
        if failed > 0 { throw ExitCode(2) }
    }
}
