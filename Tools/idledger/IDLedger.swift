import ArgumentParser
import Foundation
import IdentityLedger

/// `idledger`: the command-line face of an IdentityLedger store (behaviour §9).
///
/// The tool is thin: every subcommand parses its arguments, calls the library and
/// prints the result. stdout carries results (JSON with `--json`), stderr carries
/// diagnostics. Exit status: 0 success, 1 a typed ``LedgerError``, 2 `ingest` or `import`
/// ran to the end but rejected some lines or rows, 64 a usage error.
@main
struct IDLedger: AsyncParsableCommand {
    /// The tool's version, printed by `idledger --version`: written here and nowhere else.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "idledger",
        abstract: "Keep one profile per real customer, with every decision in an append-only log.",
        discussion: """
            Every command takes --db PATH (or the IDLEDGER_DB environment variable) and --json.
            --log-level LEVEL (or IDLEDGER_LOG_LEVEL) logs the engine's events to stderr; without it nothing is logged.
            A new store is created with the default schema on first write, or with `init --schema FILE`.
            Exit status: 0 success, 1 a ledger error, 2 ingest or import rejected some lines or rows, 64 usage error.
            An error is printed on stderr as `error CODE: message` (CODE is `usage` for a usage error); \
            with --json, as {"error":{"code":"CODE","message":"…"}}.
            Shell completions: idledger --generate-completion-script bash|zsh|fish.
            """,
        version: "idledger \(version)",
        subcommands: [
            Init.self, SchemaCommand.self,
            Identify.self, Update.self, Ingest.self, Import.self, Merge.self, Detach.self,
            Show.self, Lookup.self, History.self, Subject.self, Explain.self, Audit.self, WhatIf.self, Export.self, Log.self, Stats.self,
            Rebuild.self, Verify.self, Upgrade.self, Backup.self, Compact.self,
        ]
    )

    /// Declared here as well as in every subcommand so that `--db` and `--json` may be
    /// written before the subcommand name; subcommands reuse the value decoded here.
    @OptionGroup var global: GlobalOptions

    /// The default `main()` of `AsyncParsableCommand`, except that with `--json` a usage
    /// error is also reported as `{"error":{"code":"usage","message":…}}` on stderr, and that
    /// an argument or `IDLEDGER_*` variable that is not UTF-8 is a typed error (exit 1) and
    /// nothing runs (``RawInput``).
    static func main() async {
        do {
            var command = try parseAsRoot()
            // After parsing, which says which arguments are identifiers; before anything runs.
            if let invalid = RawInput.firstInvalid() {
                let error = RawInput.error(for: invalid, command: command)
                Diagnostics.reportError(code: error.code, message: error.description, json: CommandLine.arguments.dropFirst().contains("--json"))
                exit(withError: ExitCode.failure)
            }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let json = CommandLine.arguments.dropFirst().contains("--json")
            if code == .validationFailure, json {
                Diagnostics.reportError(code: "usage", message: message(for: error), json: true)
                exit(withError: code)
            }
            // Typed errors were reported where they were thrown (`GlobalOptions.run`); any
            // other error would get ArgumentParser's usage prefix, which it is not.
            if code != .validationFailure, code != .success, !(error is ExitCode) {
                Diagnostics.reportError(code: "unexpected", message: String(describing: error), json: json)
                exit(withError: code)
            }
            exit(withError: error)
        }
    }

    /// ArgumentParser's prefix for usage errors (its default is `Error: `): the form of every
    /// other error, `error CODE: message`, with the code `--json` reports for them.
    static var _errorPrefix: String { "error usage: " }
}
