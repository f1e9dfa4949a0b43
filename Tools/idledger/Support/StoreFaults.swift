import Foundation
import IdentityLedger

/// Faults that would end the process with a signal are reported as `corruptStore` (exit 1).
///
/// `verify` checks every page before it reads the store; other commands read through LMDB,
/// which trusts its pages: on a damaged one it fails an internal assertion (then calls
/// `abort()`), reads a page the file does not have (`SIGBUS`: a truncated file, or a device
/// that failed) or follows a damaged offset out of its memory (`SIGSEGV`). Each is reported
/// the way every typed error is, on stderr (as JSON with `--json`), with the advice to run
/// `idledger verify`, which names the damaged page.
enum StoreFaults {
    static func install(path: String, json: Bool) {
        Ledger.setDamagedStoreHandler { error in
            Diagnostics.reportError(code: error.code, message: error.description, json: json)
            exit(1)
        }
        func prepared(_ reason: String) -> UnsafeMutablePointer<CChar>? {
            let error = LedgerError.corruptStore(path: path, reason: reason)
            return strdup(Diagnostics.errorText(code: error.code, message: error.description, json: json) + "\n")
        }
        busErrorMessage = prepared("reading it failed with a bus error (a page lies beyond the end of its data file, or the device failed)")
        segmentationFaultMessage = prepared("reading it failed with a memory fault (LMDB followed a damaged page; if `idledger verify` finds the store sound, this is a defect of idledger)")
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            // Only async-signal-safe calls here: write(2) and _exit(2).
            if let message = signal == SIGBUS ? busErrorMessage : segmentationFaultMessage { _ = write(2, message, strlen(message)) }
            _exit(1)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
        sigaction(SIGSEGV, &action, nil)
    }
}

/// Prepared before any fault, since a signal handler may not allocate.
nonisolated(unsafe) private var busErrorMessage: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var segmentationFaultMessage: UnsafeMutablePointer<CChar>?
