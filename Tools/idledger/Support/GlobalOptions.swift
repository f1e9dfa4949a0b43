import ArgumentParser
import Foundation
import IdentityLedger
import Synchronization

/// A store this process created for a writing command (its path, and whether its directory
/// was there before); `run` removes it again if the command left its log empty.
private let newStore = Mutex<(path: String, directoryExisted: Bool)?>(nil)

/// Options every subcommand takes: which store, and whether to print JSON.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The store directory (default: $IDLEDGER_DB).", valueName: "path"))
    var db: String?

    @Flag(name: .long, help: "Print JSON to stdout (JSON Lines for export, log, history and ingest).")
    var json = false

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

    /// Opens the store. Commands that only read pass `create: false`, so that a mistyped
    /// path fails with `storeNotFound` instead of leaving an empty store behind. A store that a
    /// writing command creates is removed again if the command writes nothing to it (refused,
    /// or every `ingest` line failed; see `run`), unless `keep` (`init`, which is for creating it).
    func openLedger(create: Bool, keep: Bool = false) throws -> Ledger {
        guard let path = storePath else { throw ValidationError("no store: pass --db or set IDLEDGER_DB") }
        let exists = FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("data.mdb"))
        if !create, !exists {
            throw CLIError(code: "storeNotFound", message: "no store at \(path)")
        }
        if create, !keep, !exists {
            let directoryExisted = FileManager.default.fileExists(atPath: path)
            newStore.withLock { $0 = (path, directoryExisted) }
        }
        return try Ledger.open(path: path, options: try ledgerOptions())
    }

    /// `IDLEDGER_DURABILITY=nosync` opts into ``Ledger/Durability/noSync`` (docs/durability.md);
    /// unset, empty or `full` is the fully durable default. An environment variable rather than
    /// a flag, because it is a deployment choice, not a per-command one.
    func ledgerOptions(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Ledger.Options {
        switch environment["IDLEDGER_DURABILITY"]?.lowercased() {
        case nil, "", "full": return Ledger.Options(durability: .full)
        case "nosync": return Ledger.Options(durability: .noSync)
        case let other?:
            throw CLIError(code: "invalidInput", message: "IDLEDGER_DURABILITY must be full or nosync, not \(other)")
        }
    }

    /// Runs a subcommand's body and maps its errors to the exit status of SPEC section 8:
    /// a ``LedgerError`` or ``CLIError`` is reported on stderr (as JSON with `--json`) and
    /// exits 1; usage errors (`ValidationError`) and `ExitCode`s pass through to
    /// ArgumentParser, which exits 64 or with the given code.
    func run(_ body: () async throws -> Void) async throws {
        // After `body`, which held the ledger: a refused first write leaves no empty store.
        defer { Self.removeNewStoreIfUnused() }
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

extension GlobalOptions {
    private static func removeNewStoreIfUnused() {
        guard let created = newStore.withLock({ $0 }) else { return }
        // A first open that failed (a full disk, say) removed its own files.
        let unused = Ledger.removeIfUnused(path: created.path)
            || !FileManager.default.fileExists(atPath: (created.path as NSString).appendingPathComponent("data.mdb"))
        guard unused, !created.directoryExisted else { return }
        rmdir(created.path) // only if nothing else is in it
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

    /// `{"error":{"code":…,"message":…}}` with `--json`, else `error: message`.
    static func reportError(code: String, message: String, json: Bool) {
        if json {
            write(Output.json(ErrorOutput(error: ErrorBody(code: code, message: message))))
        } else {
            write("error: \(message)")
        }
    }
}
