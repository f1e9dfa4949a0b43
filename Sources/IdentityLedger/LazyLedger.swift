import Foundation

/// The store at a path, for work that writes: a new store is created only by work that
/// writes something to it, never by a refused command.
///
/// ``Ledger/open(path:options:)`` creates a new store as it opens it. A tool that runs a
/// user's commands on a path that may be new uses this instead, so that a refused first
/// command leaves nothing behind, without deleting anything afterwards (which is never safe:
/// another process may be opening the store by then).
///
/// While there is no store at the path, ``write(_:)`` first decides its work against an empty
/// store (the default schema, no customers): it runs it in a private scratch store, a fresh
/// directory under the system's temporary directory that no other process knows. If that
/// left the scratch log empty (every command refused), its outcome is returned and nothing
/// is created. Otherwise the store is opened (created if still needed) and the work runs
/// there for real, against what the store holds by then, which another process may have
/// written meanwhile. Once the store is open, `write` runs the work on it directly.
///
/// ```swift
/// let store = try LazyLedger(path: "/var/lib/shop/customers")
/// let result = try await store.write { ledger in try await ledger.identify(command) }
/// ```
///
/// The work may run twice, so it must have no effect outside the store (print its outcome
/// afterwards). Not thread-safe: one task uses it at a time.
public final class LazyLedger {
    /// The store directory.
    public let path: String
    private let options: Ledger.Options
    /// The store, once opened.
    private var store: Ledger?
    /// The scratch store, kept from one `write` to the next while it is empty. Its files are
    /// unlinked as soon as it is open, so that nothing is left of it however this process ends.
    private var scratch: Ledger?

    /// Whether there is a store in directory `path` (its data file), without opening it.
    public static func storeExists(at path: String) -> Bool {
        StoreFiles.storeExists(in: path)
    }

    /// Opens the store at `path` if there is one, so that a store that cannot be opened
    /// (one being rebuilt, a damaged one) fails here, before any work.
    /// - Throws: what ``Ledger/open(path:options:)`` throws.
    public init(path: String, options: Ledger.Options = .init()) throws(LedgerError) {
        self.path = path
        self.options = options
        if StoreFiles.storeExists(in: path) { store = try Ledger.open(path: path, options: options) }
    }

    /// Runs `work` on the store, deciding it against an empty store first while there is none.
    /// - Throws: what `work` throws; ``LedgerError`` when a store cannot be opened.
    public func write<T>(_ work: (Ledger) async throws(LedgerError) -> T) async throws(LedgerError) -> T {
        if let store { return try await work(store) }
        // A scratch store that cannot be made or written (a full or read-only temporary
        // directory) decides nothing: the work then goes to the store itself.
        if !StoreFiles.storeExists(in: path), let trial = scratchLedger() {
            let outcome: Result<T, LedgerError>
            do throws(LedgerError) { outcome = .success(try await work(trial)) } catch { outcome = .failure(error) }
            // An empty log means nothing was decided: every write is an event.
            if case .failure(let error) = outcome, error.isFaultOfTheStore {
                scratch = nil
            } else if try trial.events(limit: 1).isEmpty {
                return try outcome.get()
            }
            scratch = nil
        }
        let store = try Ledger.open(path: path, options: options)
        self.store = store
        return try await work(store)
    }

    /// Runs `work`, which writes nothing (a dry run: ``Ledger/execute(_:dryRun:)``), on the
    /// store; while there is none, on an empty private scratch store, so that a dry run on a
    /// new path decides against an empty store and creates nothing.
    /// - Throws: what `work` throws; ``LedgerError/fileSystemError(path:reason:)`` when there is
    ///   no store and no scratch store can be made in the temporary directory.
    public func preview<T>(_ work: (Ledger) async throws(LedgerError) -> T) async throws(LedgerError) -> T {
        if store == nil, StoreFiles.storeExists(in: path) { store = try Ledger.open(path: path, options: options) }
        if let store { return try await work(store) }
        // The real run would create the store here: where it could not, neither may a dry run pass.
        try StoreFiles.checkCreatable(path)
        guard let empty = Self.scratchLedger(options: options, decidesOnly: false) else {
            throw .fileSystemError(path: NSTemporaryDirectory(), reason: "cannot make a scratch store there to decide a dry run in")
        }
        return try await work(empty)
    }

    private func scratchLedger() -> Ledger? {
        if let scratch { return scratch }
        scratch = Self.scratchLedger(options: options, decidesOnly: true)
        return scratch
    }

    /// A new store in a fresh private directory, whose files are gone as soon as it is open.
    private static func scratchLedger(options: Ledger.Options, decidesOnly: Bool) -> Ledger? {
        guard let directory = StoreFiles.makePrivateDirectory(prefix: "idledger-decide-") else { return nil }
        // A private directory: nothing else can be using it. LMDB keeps its files open, so
        // unlinking them does the open environment no harm.
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A dry run of a large import or ingest runs in one transaction: a map that had to grow
        // would run it again from the start (the file is sparse: unused map costs nothing).
        var scratchOptions = Ledger.privateStoreOptions(durability: .noSync, clock: options.clock, initialMapSize: decidesOnly ? 1 << 20 : 1 << 30)
        scratchOptions.decidesOnly = decidesOnly
        return try? Ledger.openAsIs(path: directory, options: scratchOptions, locked: false)
    }
}
