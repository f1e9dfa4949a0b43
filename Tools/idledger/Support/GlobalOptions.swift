import ArgumentParser
import Foundation
import IdentityLedger
import Logging

/// Options every subcommand takes: which store, whether to print JSON, and how much to log.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $IDLEDGER_DB).", valueName: "path"))
    var db: String?

    @Flag(name: .long, help: "Print JSON to stdout (JSON Lines for export, log, history and ingest).")
    var json = false

    @Option(name: .long, help: ArgumentHelp(
        "Log the engine's events (upgrades, rebuilds, map growth, slow commits) at this level and above to stderr (default: $IDLEDGER_LOG_LEVEL; unset: no log output).",
        valueName: "level"))
    var logLevel: Logger.Level?

    /// `--db`, else a non-empty `IDLEDGER_DB`.
    var storePath: String? {
        if let db, !db.isEmpty { return db }
        if let env = ProcessInfo.processInfo.environment["IDLEDGER_DB"], !env.isEmpty { return env }
        return nil
    }

    /// Called from each subcommand's `validate()` (not from this group's, so that
    /// `idledger --help` works without a store).
    func validateStore() throws {
        guard storePath != nil else { throw ValidationError("no store: pass --db or set IDLEDGER_DB") }
    }

    /// Opens the store for a command that only reads: a path without a store fails with
    /// `storeNotFound` instead of leaving an empty store behind.
    func openLedger() throws -> Ledger {
        try Ledger.open(path: try existingStorePath(), options: try ledgerOptions())
    }

    /// The store path, which must hold a store: else `storeNotFound` (for reads, and for
    /// `rebuild` and `upgrade`, which open the store themselves).
    func existingStorePath() throws -> String {
        let path = try requiredStorePath()
        guard LazyLedger.storeExists(at: path) else {
            throw CLIError(code: "storeNotFound", message: "no store at \(path)")
        }
        return path
    }

    /// The store for a command that writes: created only if the command writes something
    /// (``LazyLedger``), so a refused first command creates nothing. `init` uses `Ledger.open`,
    /// which creates the store on purpose.
    func lazyLedger() throws -> LazyLedger {
        try LazyLedger(path: try requiredStorePath(), options: try ledgerOptions())
    }

    private func requiredStorePath() throws -> String {
        guard let path = storePath else { throw ValidationError("no store: pass --db or set IDLEDGER_DB") }
        return path
    }

    /// `IDLEDGER_DURABILITY=nosync` opts into ``Ledger/Durability/noSync`` (docs/durability.md);
    /// unset, empty or `full` is the fully durable default. An environment variable rather than
    /// a flag, because it is a deployment choice, not a per-command one.
    func ledgerOptions(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Ledger.Options {
        var options: Ledger.Options
        switch environment["IDLEDGER_DURABILITY"]?.lowercased() {
        case nil, "", "full": options = Ledger.Options(durability: .full)
        case "nosync": options = Ledger.Options(durability: .noSync)
        case let other?:
            throw CLIError(code: "invalidInput", message: "IDLEDGER_DURABILITY must be full or nosync, not \(other)")
        }
        if let level = try logLevel(environment: environment) {
            // A logger of the tool's own, handed to the engine, rather than `LoggingSystem.bootstrap`,
            // which may run once per process only: the options are made more than once.
            var logger = Logger(label: "idledger", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = level
            options.logger = logger
        }
        return options
    }

    /// `--log-level`, else a non-empty `IDLEDGER_LOG_LEVEL`; nil (the default): nothing is logged.
    func logLevel(environment: [String: String]) throws -> Logger.Level? {
        if let logLevel { return logLevel }
        guard let text = environment["IDLEDGER_LOG_LEVEL"], !text.isEmpty else { return nil }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw CLIError(code: "invalidInput", message: "IDLEDGER_LOG_LEVEL must be one of \(levels), not \(text)")
        }
        return level
    }

    /// Runs a subcommand's body and maps its errors to the exit status of behaviour §9.3:
    /// a ``LedgerError`` or ``CLIError`` is reported on stderr (as JSON with `--json`) and
    /// exits 1; usage errors (`ValidationError`) and `ExitCode`s pass through to
    /// ArgumentParser, which exits 64 or with the given code.
    func run(_ body: () async throws -> Void) async throws {
        StoreFaults.install(path: storePath ?? "", json: json)
        do {
            try await body()
        } catch let error as LedgerError {
            Diagnostics.reportError(code: error.code, message: error.description, json: json)
            throw ExitCode.failure
        } catch let error as CLIError {
            Diagnostics.reportError(code: error.code, message: error.message, json: json)
            throw ExitCode.failure
        }
    }
}

/// A failure of the tool itself rather than the engine (a file that cannot be read,
/// a missing store). Exits 1 like a ``LedgerError``.
struct CLIError: Error {
    var code: String
    var message: String
}

/// Writes to stderr.
enum Diagnostics {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// `{"error":{"code":…,"message":…}}` with `--json`, else `error CODE: message`, the form
    /// of a failed `ingest` line, so that every error names its code the same way.
    static func reportError(code: String, message: String, json: Bool) {
        write(errorText(code: code, message: message, json: json))
    }

    /// `{"warning":{"code":…,"message":…}}` with `--json`, else `warning CODE: message`: a
    /// diagnostic that does not stop the command (its result is still printed on stdout).
    static func reportWarning(code: String, message: String, json: Bool) {
        write(json ? Output.json(["warning": WarningOutput(code: code, message: message)]) : "warning \(code): \(message)")
    }

    /// The line ``reportError(code:message:json:)`` writes, without its newline.
    static func errorText(code: String, message: String, json: Bool) -> String {
        json ? Output.json(ErrorOutput(error: ErrorBody(code: code, message: message))) : "error \(code): \(message)"
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
