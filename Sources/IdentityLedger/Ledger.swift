import CoreMetrics
import Foundation
import Logging

/// An IdentityLedger store: one profile per real customer, every decision in an
/// append-only log in LMDB.
///
/// ```swift
/// let ledger = try Ledger.open(path: "/var/lib/shop/customers")
/// let result = try await ledger.identify(IdentifyCommand(
///     identifiers: [Identifier(type: "email", value: "ann@example.com")], access: ["email"]))
/// let ann = try ledger.customer(.id(result.customer))
/// ```
///
/// Thread safety: one `Ledger` is shared by all tasks of a process. Commands are
/// serialized on one writer thread; queries read snapshots concurrently and never
/// block the writer.
public final class Ledger: Sendable {
    /// Options for ``open(path:options:)``.
    public struct Options: Sendable {
        /// `.full` (default) flushes every command to disk before it returns.
        public var durability: Durability
        /// The engine clock; `recordedAt` never goes back even if this does.
        public var clock: @Sendable () -> Date
        public var initialMapSize: Int
        /// Whether ``Ledger/open(path:options:)`` may upgrade a store written in an older store
        /// format. False (the default): such a store is left as it is and `open` throws
        /// ``LedgerError/upgradeRequired(found:wanted:)``. True: it is upgraded first by
        /// ``Ledger/rebuild(path:options:progress:)``, which keeps the log (every position and
        /// outcome) and writes every projection again in the current layout. A store already in
        /// the current format opens the same either way.
        public var upgrade: Bool
        /// Where the engine logs (upgrades, stale readers cleared, map growth, rebuilds, slow
        /// commits: <doc:LoggingAndMetrics>). The engine never makes a logger of its own; the
        /// default logs nothing.
        public var logger: Logger
        /// Where the engine records its metrics; nil (the default) is the global
        /// `MetricsSystem.factory` as it is when the store opens, a no-op unless the
        /// application bootstrapped a backend before.
        public var metricsFactory: (any MetricsFactory)?
        /// A commit of commands that takes at least this long is logged as a warning. The
        /// default, one second, is hundreds of times what a healthy commit takes (an fsync or
        /// two, milliseconds) and far above a 1000-row import batch (tens of milliseconds): a
        /// warning means a stalled disk or an unusual load, not a busy day.
        public var slowCommitThreshold: Duration
        /// A private scratch store in which ``LazyLedger`` decides whether work would write:
        /// an import there stops once it has recorded its start.
        var decidesOnly = false

        public init(
            durability: Durability = .full, clock: @escaping @Sendable () -> Date = { Date() }, initialMapSize: Int = 64 << 20,
            upgrade: Bool = false,
            logger: Logger = Logger(label: "IdentityLedger", factory: { _ in SwiftLogNoOpLogHandler() }),
            metricsFactory: (any MetricsFactory)? = nil, slowCommitThreshold: Duration = .seconds(1)
        ) {
            self.durability = durability
            self.clock = clock
            self.initialMapSize = initialMapSize
            self.upgrade = upgrade
            self.logger = logger
            self.metricsFactory = metricsFactory
            self.slowCommitThreshold = slowCommitThreshold
        }
    }

    /// Options for a private scratch store of the engine's own (a replay target, a dry run's
    /// scratch): it logs nothing and records no metrics, whatever the application's backend.
    static func privateStoreOptions(durability: Durability, clock: @escaping @Sendable () -> Date, initialMapSize: Int) -> Options {
        Options(durability: durability, clock: clock, initialMapSize: initialMapSize, metricsFactory: NOOPMetricsHandler.instance)
    }

    /// The store format this build writes; opening a newer one fails, an older one is upgraded
    /// only when asked (``Options/upgrade``).
    /// 2: customers split into `customers`, `holdings` and `absorbed` (see ``Databases``).
    /// 3: `holdings` keys ordered by where each holding began, so an as-of read of a customer
    /// stops at the holdings it got later.
    /// 4: properties in their own projection, a version per key whose winner changed, so
    /// that a customer's version no longer copies all its properties.
    /// 5: the `schemas` projection holds only the positions of schema changes; each schema is
    /// read from its event.
    /// 6: an `imports` record counts the rows applied without blocked values (its version 3),
    /// so the projection a rebuild writes differs from a format-5 store's.
    static let storeFormat: UInt64 = 6

    /// The store: the only thing this type reads and writes through.
    let store: LedgerStore
    let options: Options

    private init(store: LedgerStore, options: Options) {
        self.store = store
        self.options = options
    }

    /// Opens the store in directory `path`, creating it if needed. A new store gets the
    /// default schema with its first write (or ``setSchema(_:)``). A store written in an
    /// older store format is never changed as a side effect of opening it: `open` fails with
    /// ``LedgerError/upgradeRequired(found:wanted:)`` and writes nothing, unless
    /// ``Options/upgrade`` is set; it is then first upgraded offline by
    /// ``rebuild(path:options:progress:)`` (the log is kept as it is; every projection is
    /// written again in the current layout).
    ///
    /// The `Ledger` holds a shared lock on the store (a `flock` on its directory) until
    /// it is released, which keeps a rebuild out; while one runs, `open` fails within 200 ms.
    /// - Throws: ``LedgerError/upgradeRequired(found:wanted:)`` for a store of an older format
    ///   without ``Options/upgrade`` (also when it is read-only);
    ///   ``LedgerError/storeInUse(path:)`` while a rebuild of the store runs (in any
    ///   process), and for an upgrade while another process (or a `Ledger` still alive in
    ///   this one) has the store open;
    ///   ``LedgerError/unsupportedFormat(found:supported:)`` for a store written by a
    ///   newer version; ``LedgerError/corruptEvent(seq:reason:)`` when an older store's log
    ///   cannot be replayed; ``LedgerError/corruptStore(path:reason:)`` for a truncated or
    ///   damaged data file; ``LedgerError/notADirectory(path:)``;
    ///   ``LedgerError/storageFull(path:)`` for a new store on a full disk;
    ///   ``LedgerError/storage(_:)`` when the storage layer cannot open it otherwise. A store this process
    ///   cannot write opens read-only: queries work, commands throw ``LedgerError/readOnly(path:)``.
    public static func open(path: String, options: Options = .init()) throws(LedgerError) -> Ledger {
        let found: UInt64
        do {
            let ledger = try openAsIs(path: path, options: options, refusingOlder: !options.upgrade)
            found = try wrap { try ledger.store.storedFormat() }
            if found == storeFormat { return ledger }
        }  // An older store's ledger is released here (and its lock), so that `rebuild` may swap its files.
        let summary = try rebuild(path: path, options: options)
        Telemetry.upgraded(Telemetry.logger(options, path: path), from: Int(found), to: Int(storeFormat), summary)
        return try openAsIs(path: path, options: options)
    }

    /// Opens the store without upgrading it: for `open`, and for `rebuild`, which reads an
    /// older store's log as it is. `locked: false` opens it without the shared store lock:
    /// for rebuild's own opens of the store it holds exclusively, and for private stores.
    /// `refusingOlder` throws ``LedgerError/upgradeRequired(found:wanted:)`` for an older store
    /// before anything is written to it.
    static func openAsIs(path: String, options: Options, locked: Bool = true, refusingOlder: Bool = false) throws(LedgerError) -> Ledger {
        Ledger(store: try LedgerStore.open(path: path, options: options, locked: locked, refusingOlder: refusingOlder), options: options)
    }

    var now: Int64 { options.clock().millisecondsSince1970 }

    /// See ``Options/decidesOnly``.
    var decidesOnly: Bool { options.decidesOnly }

    // MARK: Commands

    /// Runs one command atomically: all its events and projection changes, or a typed
    /// error and nothing written.
    ///
    /// With `dryRun`, the command is decided against the store's current state exactly as it
    /// would be run, and its result returned, but nothing is written: the same customer,
    /// merges, declines with their guards, warnings, errors, and the log positions it would
    /// write if nothing else were committed first.
    public func execute(_ command: Command, dryRun: Bool = false) async throws(LedgerError) -> CommandResult {
        let now = self.now
        if dryRun {
            return try snapshot { view in try CommandDecider(view: view, now: now).decide(command).outcome }
        }
        return try await counted(.init(command)) {
            // Commands from concurrent tasks share one commit (group commit), each atomic on its own.
            try await store.commit(grouped: true) { view in try CommandDecider(view: view, now: now).decide(command) }
        }
    }

    /// Runs a command's commit and counts it by `kind` and outcome.
    private func counted<T>(_ kind: Telemetry.CommandKind, _ body: () async throws -> T) async throws(LedgerError) -> T {
        do throws(LedgerError) {
            let value = try await Self.wrap(body)
            store.telemetry.counted(kind, Result<T, LedgerError>.success(value))
            return value
        } catch {
            store.telemetry.counted(kind, Result<T, LedgerError>.failure(error))
            throw error
        }
    }

    /// Runs many commands in one write transaction and one sync, each atomic on its own
    /// (a transaction step): a refused command writes nothing and does not stop the others.
    /// The fastest way for an application to load a batch it already holds.
    ///
    /// With `dryRun`, every command is decided and committed as it would be, each seeing the
    /// ones before it, in a write transaction that is then rolled back: the results are the
    /// real run's, and nothing is written. (It takes the store's writer like a real batch, so
    /// it needs a writable store.)
    public func execute(batch commands: [Command], dryRun: Bool = false) async throws(LedgerError) -> [Result<CommandResult, LedgerError>] {
        let now = self.now
        let body: @Sendable (StoreTransaction) -> [Result<CommandResult, LedgerError>] = { transaction in
            commands.map { command in
                Result { () throws(LedgerError) in
                    do {
                        return try transaction.step { step in
                            try step.commit(CommandDecider(view: step.view, now: now).decide(command))
                        }
                    } catch {
                        throw Self.ledgerError(error)
                    }
                }
            }
        }
        if dryRun { return try await Self.wrap { try await store.discardingWrite(body) } }
        let results: [Result<CommandResult, LedgerError>]
        do throws(LedgerError) {
            results = try await Self.wrap { try await store.write(size: commands.count, body) }
        } catch {
            // Nothing was committed: every command failed with the batch.
            for command in commands { store.telemetry.counted(.init(command), Result<CommandResult, LedgerError>.failure(error)) }
            throw error
        }
        for (command, result) in zip(commands, results) { store.telemetry.counted(.init(command), result) }
        return results
    }

    /// Identifies a customer (behaviour §5.1): resolves, merges where every guard passes,
    /// attaches the values, records declined candidates.
    /// - Throws: ``LedgerError`` (`duplicateUniqueIdentifier`, `accessContactInUse`,
    ///   `ambiguousCustomer`, validation errors); nothing is written then.
    public func identify(_ command: IdentifyCommand, dryRun: Bool = false) async throws(LedgerError) -> CommandResult {
        try await execute(.identify(command), dryRun: dryRun)
    }

    /// Writes properties to the customer the identifiers resolve to, without merging (behaviour §5.2).
    /// - Throws: ``LedgerError`` (`ambiguousCustomer`; `invalidInput` for a command without
    ///   properties; validation errors); nothing is written then.
    public func update(_ command: UpdateCommand, dryRun: Bool = false) async throws(LedgerError) -> CommandResult {
        try await execute(.update(command), dryRun: dryRun)
    }

    /// Merges `from` into `into` on an operator's word (behaviour §5.3). Cannot be undone.
    public func merge(_ command: MergeCommand, dryRun: Bool = false) async throws(LedgerError) -> CommandResult {
        try await execute(.merge(command), dryRun: dryRun)
    }

    /// Removes an identifier, or only its access flag (behaviour §5.4).
    public func detach(_ command: DetachCommand, dryRun: Bool = false) async throws(LedgerError) -> CommandResult {
        try await execute(.detach(command), dryRun: dryRun)
    }

    /// Records a new schema.
    /// - Returns: the log positions written (empty when the schema is unchanged).
    /// - Throws: ``LedgerError/invalidSchema(reason:)``, ``LedgerError/schemaConflict(conflicts:)``.
    @discardableResult
    public func setSchema(_ schema: Schema) async throws(LedgerError) -> [UInt64] {
        let now = self.now
        return try await counted(.setSchema) {
            try await store.commit { view in try CommandDecider(view: view, now: now).decide(schema) }
        }
    }

    // MARK: Queries

    /// Runs `body` over one consistent snapshot, as of a past point if given.
    func snapshot<T>(asOf: AsOf? = nil, _ body: (ProjectionReader) throws -> T) throws(LedgerError) -> T {
        try Self.wrap { try store.read(asOf: asOf, body) }
    }

    /// Flushes every command committed so far to disk. For a `.noSync` store, at
    /// the points where losing recent commands to an OS crash would matter (docs/durability.md);
    /// a `full` store has nothing left to flush.
    public func sync() throws(LedgerError) {
        try Self.wrap { try store.sync() }
    }

    /// The schema in force, now or as of a past point (schema changes are events in the log).
    public func schema(asOf: AsOf? = nil) throws(LedgerError) -> Schema {
        try snapshot(asOf: asOf) { try $0.schema() }
    }

    /// Calls `body` with every active customer, by ID, from one snapshot: now, or as of a past
    /// point (the customers active then, as they were then); at most `limit` of them.
    ///
    /// ```swift
    /// try ledger.forEachActiveCustomer(asOf: .seq(40), limit: 10) { print($0.id) }
    /// ```
    public func forEachActiveCustomer(asOf: AsOf? = nil, limit: Int = .max, _ body: (Customer) throws -> Void) throws(LedgerError) {
        /// Ends the walk once `limit` customers were passed (the reader's walk has no other stop).
        struct Enough: Error {}
        guard limit > 0 else { return }
        var remaining = limit
        try snapshot(asOf: asOf) { reader in
            do {
                try reader.forEachCustomer { record in
                    guard record.isActive else { return }
                    try body(Customer(record))
                    remaining -= 1
                    if remaining == 0 { throw Enough() }
                }
            } catch is Enough {}
        }
    }

    /// Up to `limit` events from position `from` on (none for a `limit` of 0 or less).
    public func events(from: UInt64 = 1, limit: Int = 100) throws(LedgerError) -> [Event] {
        guard limit > 0 else { return [] }
        return try snapshot { try $0.events(from: max(from, 1), limit: limit) }
    }

    /// Counts of events, customers and identifier values.
    public func statistics() throws(LedgerError) -> Statistics {
        let mapSize = store.mapSize
        return try snapshot { try $0.statistics(mapSize: mapSize) }
    }

    /// Sets what happens when LMDB meets a damaged page that it cannot report as an error (it
    /// fails an internal assertion and ends the process with `abort()` once `handler` returns):
    /// `handler` gets ``LedgerError/corruptStore(path:reason:)`` on the failing thread, so that
    /// a tool can report it and exit. ``verify(scratchPath:progress:)`` checks every page before
    /// it reads, so it reports such damage as an error; other reads of a damaged store may end
    /// here. Process-wide; nil (the default) leaves LMDB's message and abort.
    public static func setDamagedStoreHandler(_ handler: (@Sendable (LedgerError) -> Void)?) {
        LedgerStore.setDamagedStoreHandler(handler)
    }
}
