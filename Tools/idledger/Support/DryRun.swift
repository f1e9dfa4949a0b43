import ArgumentParser
import IdentityLedger

/// `--dry-run`: decide the command against the store as it is and print its result, writing
/// nothing (on a new path not even the store).
struct DryRunOption: ParsableArguments {
    @Flag(name: .customLong("dry-run"), help: ArgumentHelp(
        "Decide against the store as it is and print what would happen, writing nothing (not even a new store). "
            + "ingest and import decide every line in one transaction that is rolled back: they need a writable store "
            + "and make other writers wait meanwhile."))
    var enabled = false

    /// Runs `work` for real, or as a dry run; `work` gets whether it is one.
    func run<T>(
        _ store: LazyLedger, _ work: (Ledger, _ dryRun: Bool) async throws(LedgerError) -> T
    ) async throws(LedgerError) -> T {
        guard enabled else { return try await store.write { ledger throws(LedgerError) in try await work(ledger, false) } }
        let outcome = try await store.preview { ledger throws(LedgerError) in try await work(ledger, true) }
        Diagnostics.write("dry run: nothing was written")
        return outcome
    }
}
