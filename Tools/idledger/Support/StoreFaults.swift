import Foundation
import IdentityLedger

/// Faults that would end the process with a signal are reported as `corruptStore` (exit 1).
///
/// `verify` checks every page before it reads the store; other commands read through LMDB,
/// which on a damaged page either fails an internal assertion (then calls `abort()`) or reads
/// a page the file does not have (`SIGBUS`: a truncated file, or a device that failed). Both
/// are reported here the way every typed error is, on stderr (as JSON with `--json`), with
/// the advice to run `idledger verify`.
enum StoreFaults {
    static func install(path: String, json: Bool) {
        Ledger.setDamagedStoreHandler { error in
            Diagnostics.reportError(code: error.code, message: error.description, json: json)
            exit(1)
        }
        let error = LedgerError.corruptStore(
            path: path, reason: "reading it failed with a bus error (a page lies beyond the end of its data file, or the device failed)")
        let text = json ? Output.json(ErrorOutput(error: ErrorBody(code: error.code, message: error.description))) : "error: \(error.description)"
        busErrorMessage = strdup(text + "\n")
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            // Only async-signal-safe calls here: write(2) and _exit(2).
            if let message = busErrorMessage { _ = write(2, message, strlen(message)) }
            _exit(1)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }
}

/// Prepared before any fault, since a signal handler may not allocate.
nonisolated(unsafe) private var busErrorMessage: UnsafeMutablePointer<CChar>?
