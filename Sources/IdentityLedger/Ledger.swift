import Foundation
import LMDB

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
        /// A private scratch store in which ``LazyLedger`` decides whether work would write:
        /// an import there stops once it has recorded its start.
        var decidesOnly = false

        public init(
            durability: Durability = .full, clock: @escaping @Sendable () -> Date = { Date() }, initialMapSize: Int = 64 << 20,
            upgrade: Bool = false
        ) {
            self.durability = durability
            self.clock = clock
            self.initialMapSize = initialMapSize
            self.upgrade = upgrade
        }
    }

    /// The store format this build writes; opening a newer one fails, an older one is upgraded
    /// only when asked (``Options/upgrade``).
    /// 2: customers split into `customers`, `holdings` and `absorbed` (see ``Databases``).
    /// 3: `holdings` keys ordered by where each holding began, so an as-of read of a customer
    /// stops at the holdings it got later.
    /// 4: properties in their own projection, a version per key whose winner changed, so
    /// that a customer's version no longer copies all its properties.
    static let storeFormat: UInt64 = 4

    /// The environment, with the store lock held for it (``StoreLock``).
    private let store: LockedEnvironment
    var env: Environment { store.environment }
    let db: Databases
    private let options: Options

    private init(store: LockedEnvironment, options: Options) throws {
        self.store = store
        self.db = try Databases(store.environment)
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
        do {
            let ledger = try openAsIs(path: path, options: options, refusingOlder: !options.upgrade)
            if try wrap({ try ledger.storedFormat() }) == storeFormat { return ledger }
        }  // An older store's ledger is released here (and its lock), so that `rebuild` may swap its files.
        try rebuild(path: path, options: options)
        return try openAsIs(path: path, options: options)
    }

    /// Opens the store without upgrading it: for `open`, and for `rebuild`, which reads an
    /// older store's log as it is. `locked: false` opens it without the shared store lock:
    /// for rebuild's own opens of the store it holds exclusively, and for private stores.
    /// `refusingOlder` throws ``LedgerError/upgradeRequired(found:wanted:)`` for an older store
    /// before anything is written to it.
    static func openAsIs(path: String, options: Options, locked: Bool = true, refusingOlder: Bool = false) throws(LedgerError) -> Ledger {
        let created = try StoreFiles.createDirectory(path)
        do {
            // Before the environment opens: from here until it has closed, no rebuild can start.
            let lock = locked ? try StoreLock.acquire(.shared, directory: path) : nil
            return try wrap {
                let configuration = Environment.Configuration(
                    databases: Databases.specs, initialMapSize: options.initialMapSize, durability: options.durability.environmentDurability)
                // An existing store first with `meta` alone, which every format has: opening the
                // other databases creates those an older format lacks, a write the format must be
                // checked before. A new one with all at once (one transaction creates them).
                var metaOnly = configuration
                metaOnly.databases = configuration.databases.filter { $0.name == "meta" }
                let env = try Environment.open(path: path, configuration: StoreFiles.storeExists(in: path) ? metaOnly : configuration)
                let version = try env.read { txn in
                    try txn.get(try env.database("meta"), key: Meta.storeFormat).map { Keys.readUInt64($0) ?? 0 }
                }
                if let version {
                    guard version <= storeFormat else { throw LedgerError.unsupportedFormat(found: Int(version), supported: Int(storeFormat)) }
                    if version < storeFormat, refusingOlder { throw LedgerError.upgradeRequired(found: Int(version), wanted: Int(storeFormat)) }
                }
                // The environment open above, now with every database.
                let ledger = try Ledger(store: LockedEnvironment(try Environment.open(path: path, configuration: configuration), lock: lock), options: options)
                _ = try ledger.storedFormat() // records this build's for a new store
                return ledger
            }
        } catch {
            // A first open that failed (a full disk) leaves no directory behind. `rmdir` removes
            // only an empty one: never a store another process has made in it meanwhile.
            if created { rmdir(path) }
            throw error
        }
    }

    /// The store format recorded in `meta`. A new store records this build's, in a write
    /// transaction that checks again, because other processes may be creating it too.
    private func storedFormat() throws -> UInt64 {
        let db = self.db
        func recorded(_ txn: ReadTransaction) throws -> UInt64? {
            try txn.get(db.meta, key: Meta.storeFormat).map { Keys.readUInt64($0) ?? 0 }
        }
        if let version = try env.read(recorded) { return version }
        return try env.write { txn in
            if let version = try recorded(txn) { return version }
            try txn.put(db.meta, key: Meta.storeFormat, value: Keys.seq(Self.storeFormat))
            return Self.storeFormat
        }
    }

    var now: Int64 { options.clock().millisecondsSince1970 }

    /// See ``Options/decidesOnly``.
    var decidesOnly: Bool { options.decidesOnly }

    // MARK: Commands

    /// Runs one command atomically: all its events and projection changes, or a typed
    /// error and nothing written.
    public func execute(_ command: Command) async throws(LedgerError) -> CommandResult {
        let db = self.db
        let now = self.now
        return try await Self.wrap {
            // Commands from concurrent tasks share one commit (group commit), each atomic on its own.
            try await env.groupedWrite { txn in
                try CommandExecutor(txn: txn, db: db).run(command, now: now)
            }
        }
    }

    /// Runs many commands in one write transaction and one sync, each atomic on its own
    /// (a transaction step): a refused command writes nothing and does not stop the others.
    /// The fastest way for an application to load a batch it already holds.
    public func execute(batch commands: [Command]) async throws(LedgerError) -> [Result<CommandResult, LedgerError>] {
        let db = self.db
        let now = self.now
        return try await Self.wrap {
            try await env.write { txn in
                commands.map { command in
                    Result { () throws(LedgerError) in
                        do {
                            return try txn.step { step in try CommandExecutor(txn: step, db: db).run(command, now: now) }
                        } catch {
                            throw Self.ledgerError(error)
                        }
                    }
                }
            }
        }
    }

    /// Identifies a customer (behaviour §5.1): resolves, merges where every guard passes,
    /// attaches the values, records declined candidates.
    /// - Throws: ``LedgerError`` (`duplicateUniqueIdentifier`, `accessContactInUse`,
    ///   `ambiguousCustomer`, validation errors); nothing is written then.
    public func identify(_ command: IdentifyCommand) async throws(LedgerError) -> CommandResult {
        try await execute(.identify(command))
    }

    /// Writes properties to the customer the identifiers resolve to, without merging (behaviour §5.2).
    /// - Throws: ``LedgerError`` (`ambiguousCustomer`; `invalidInput` for a command without
    ///   properties; validation errors); nothing is written then.
    public func update(_ command: UpdateCommand) async throws(LedgerError) -> CommandResult {
        try await execute(.update(command))
    }

    /// Merges `from` into `into` on an operator's word (behaviour §5.3). Cannot be undone.
    public func merge(_ command: MergeCommand) async throws(LedgerError) -> CommandResult {
        try await execute(.merge(command))
    }

    /// Removes an identifier, or only its access flag (behaviour §5.4).
    public func detach(_ command: DetachCommand) async throws(LedgerError) -> CommandResult {
        try await execute(.detach(command))
    }

    /// Records a new schema.
    /// - Returns: the log positions written (empty when the schema is unchanged).
    /// - Throws: ``LedgerError/invalidSchema(reason:)``, ``LedgerError/schemaConflict(conflicts:)``.
    @discardableResult
    public func setSchema(_ schema: Schema) async throws(LedgerError) -> [UInt64] {
        let db = self.db
        let now = self.now
        return try await Self.wrap {
            try await env.write { txn in try CommandExecutor(txn: txn, db: db).setSchema(schema, now: now) }
        }
    }

    // MARK: Queries

    /// Runs `body` over one consistent snapshot, as of a past point if given.
    func snapshot<T>(asOf: AsOf? = nil, _ body: (ProjectionReader) throws -> T) throws(LedgerError) -> T {
        try Self.wrap {
            try env.read { txn in
                var reader = ProjectionReader(txn: txn, db: db)
                if let asOf { reader.asOf = try reader.position(of: asOf) }
                return try body(reader)
            }
        }
    }

    /// Flushes every command committed so far to disk. For a `.noSync` store, at
    /// the points where losing recent commands to an OS crash would matter (docs/durability.md);
    /// a `full` store has nothing left to flush.
    public func sync() throws(LedgerError) {
        try Self.wrap { try env.sync() }
    }

    /// The schema in force, now or as of a past point (schema changes are events in the log).
    public func schema(asOf: AsOf? = nil) throws(LedgerError) -> Schema {
        try snapshot(asOf: asOf) { try $0.schema() }
    }

    /// Calls `body` with every active customer, by ID, from one snapshot.
    public func forEachActiveCustomer(_ body: (Customer) throws -> Void) throws(LedgerError) {
        try snapshot { reader in
            try reader.forEachCustomer { record in
                if record.isActive { try body(Customer(record)) }
            }
        }
    }

    /// Up to `limit` events from position `from` on (none for a `limit` of 0 or less).
    public func events(from: UInt64 = 1, limit: Int = 100) throws(LedgerError) -> [Event] {
        guard limit > 0 else { return [] }
        return try Self.wrap {
            try env.read { txn in
                var events: [Event] = []
                try txn.forEach(db.log, from: Keys.seq(max(from, 1)), upTo: nil) { entry in
                    events.append(try Event(seq: Keys.readUInt64(entry.key) ?? 0, bytes: entry.value))
                    return events.count < limit
                }
                return events
            }
        }
    }

    /// Counts of events, customers and identifier values.
    public func statistics() throws(LedgerError) -> Statistics {
        try snapshot { reader in
            var stats = Statistics(
                events: 0, customers: 0, activeCustomers: 0, mergedCustomers: 0,
                identifierValues: 0, accessValues: 0, recordedDeclines: try reader.txn.count(db.declines),
                eventsByKind: [:], mapSize: env.mapSize
            )
            try reader.txn.forEach(db.log, prefix: []) { entry in
                let event = try Event(seq: Keys.readUInt64(entry.key) ?? 0, bytes: entry.value)
                stats.events = event.seq
                stats.eventsByKind[event.kind, default: 0] += 1
                return true
            }
            try reader.forEachCustomer { record in
                stats.customers += 1
                if record.isActive { stats.activeCustomers += 1 } else { stats.mergedCustomers += 1 }
            }
            try reader.forEachValue { _, state in
                stats.identifierValues += 1
                if state.accessOwner != nil { stats.accessValues += 1 }
                return true
            }
            return stats
        }
    }

    /// A digest of every projection (SHA-256 over keys and values, database by database),
    /// used to compare a live store with a rebuilt one.
    public func projectionDigests() throws(LedgerError) -> [String: String] {
        try Self.wrap { try env.read { txn in try digests(txn) } }
    }

    /// Replays this store's log into a new store at `path` (which must not exist yet):
    /// every projection is recomputed by the same projector that commands use.
    /// - Returns: the number of events replayed.
    @discardableResult
    public func replayLog(into path: String) throws(LedgerError) -> UInt64 {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw .invalidInput(reason: "\(path) already exists")
        }
        let target = try openReplayTarget(at: path)
        return try Self.wrap {
            let count = try env.read { source in try replay(source, into: target, progress: nil) }
            try target.env.sync()
            return count
        }
    }

    /// A new store at `path` for a replay of this one's log (`replayLog`, `rebuild`, `verify`):
    /// without a sync per batch (the caller syncs once at the end, or deletes it), and with a
    /// map as large as this store's, so that it need not grow on the way.
    func openReplayTarget(at path: String) throws(LedgerError) -> Ledger {
        // A private store: no lock.
        try Ledger.openAsIs(path: path, options: Options(
            durability: .noSync, clock: options.clock, initialMapSize: max(options.initialMapSize, env.mapSize)), locked: false)
    }

    /// Sets what happens when LMDB meets a damaged page that it cannot report as an error (it
    /// fails an internal assertion and ends the process with `abort()` once `handler` returns):
    /// `handler` gets ``LedgerError/corruptStore(path:reason:)`` on the failing thread, so that
    /// a tool can report it and exit. ``verify(scratchPath:progress:)`` checks every page before
    /// it reads, so it reports such damage as an error; other reads of a damaged store may end
    /// here. Process-wide; nil (the default) leaves LMDB's message and abort.
    public static func setDamagedStoreHandler(_ handler: (@Sendable (LedgerError) -> Void)?) {
        guard let handler else { return Environment.setAssertionHandler(nil) }
        Environment.setAssertionHandler { @Sendable path, message in
            handler(.corruptStore(path: path, reason: "LMDB: \(message)"))
        }
    }
}
