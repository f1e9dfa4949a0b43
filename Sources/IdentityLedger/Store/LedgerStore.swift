import Foundation
import LMDB
import Synchronization

/// The storage side of a ``Ledger``: one LMDB environment (under the shared store lock) and
/// its databases. The engine reads it through ``ProjectionReader`` views and writes it only
/// by committing decisions (``StoreTransaction/commit(_:)``): append and project, in one
/// transaction.
struct LedgerStore: Sendable {
    /// The environment, with the store lock held for it (``StoreLock``).
    private let locked: LockedEnvironment
    var env: Environment { locked.environment }
    let db: Databases

    private init(_ locked: LockedEnvironment) throws {
        self.locked = locked
        db = try Databases(locked.environment)
    }

    /// Opens the store in `path` as it is (see ``Ledger/openAsIs(path:options:locked:refusingOlder:)``).
    static func open(path: String, options: Ledger.Options, locked: Bool, refusingOlder: Bool) throws(LedgerError) -> LedgerStore {
        let created = try StoreFiles.createDirectory(path)
        do {
            // Before the environment opens: from here until it has closed, no rebuild can start.
            let lock = locked ? try StoreLock.acquire(.shared, directory: path) : nil
            return try Ledger.wrap {
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
                    guard version <= Ledger.storeFormat else { throw LedgerError.unsupportedFormat(found: Int(version), supported: Int(Ledger.storeFormat)) }
                    if version < Ledger.storeFormat, refusingOlder { throw LedgerError.upgradeRequired(found: Int(version), wanted: Int(Ledger.storeFormat)) }
                }
                // The environment open above, now with every database.
                let store = try LedgerStore(LockedEnvironment(try Environment.open(path: path, configuration: configuration), lock: lock))
                _ = try store.storedFormat() // records this build's for a new store
                return store
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
    func storedFormat() throws -> UInt64 {
        let db = self.db
        func recorded(_ txn: ReadTransaction) throws -> UInt64? {
            try txn.get(db.meta, key: Meta.storeFormat).map { Keys.readUInt64($0) ?? 0 }
        }
        if let version = try env.read(recorded) { return version }
        return try env.write { txn in
            if let version = try recorded(txn) { return version }
            try txn.put(db.meta, key: Meta.storeFormat, value: Keys.seq(Ledger.storeFormat))
            return Ledger.storeFormat
        }
    }

    // MARK: Reading

    /// Runs `body` over one consistent snapshot, as of a past point if given.
    func read<T>(asOf: AsOf? = nil, _ body: (ProjectionReader) throws -> T) throws -> T {
        try env.read { txn in
            var reader = ProjectionReader(txn: txn, db: db)
            if let asOf { reader.asOf = try reader.position(of: asOf) }
            return try body(reader)
        }
    }

    // MARK: Writing

    /// Decides against the state the write transaction sees and commits the decision.
    /// `grouped`: commands from concurrent tasks share one commit (group commit), each atomic
    /// on its own. `decide` may run more than once (a full map is grown and the transaction
    /// run again), so it must have no effects outside the store.
    func commit<Outcome: Sendable>(
        grouped: Bool = false, _ decide: @escaping @Sendable (ProjectionReader) throws -> Decision<Outcome>
    ) async throws -> Outcome {
        let db = self.db
        let body: @Sendable (WriteTransaction) throws -> Outcome = { txn in
            try StoreTransaction(txn: txn, db: db).commit(decide(ProjectionReader(txn: txn, db: db)))
        }
        return grouped ? try await env.groupedWrite(body) : try await env.write(body)
    }

    /// Runs `body` in one write transaction, which it commits decisions to one by one (each
    /// sees the ones before). Committed if and only if `body` returns.
    func write<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        let db = self.db
        return try await env.write { txn in try body(StoreTransaction(txn: txn, db: db)) }
    }

    /// Runs `body` as ``write(_:)`` does, then throws away everything it committed: a dry run
    /// that decides against the effects of its own earlier decisions.
    func discardingWrite<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        let db = self.db
        let kept = Mutex<T?>(nil)
        do {
            _ = try await env.write { txn -> Bool in
                kept.withLock { $0 = nil } // a transaction run again starts over
                let value = try body(StoreTransaction(txn: txn, db: db))
                kept.withLock { $0 = value }
                throw Discarded()
            }
        } catch is Discarded {}
        return kept.withLock { $0! }
    }

    private struct Discarded: Error {}

    func sync() throws { try env.sync() }

    /// The size of the memory map, which grows as the store does.
    var mapSize: Int { env.mapSize }

    /// Drops the mapped pages a long write touched from this process's resident memory.
    func releaseMappedPages() { env.releaseMappedPages() }

    /// Sets what happens when LMDB meets a damaged page it cannot report as an error (see
    /// ``Ledger/setDamagedStoreHandler(_:)``).
    static func setDamagedStoreHandler(_ handler: (@Sendable (LedgerError) -> Void)?) {
        guard let handler else { return Environment.setAssertionHandler(nil) }
        Environment.setAssertionHandler { @Sendable path, message in
            handler(.corruptStore(path: path, reason: "LMDB: \(message)"))
        }
    }
}

/// One write transaction of the store, for deciders' decisions.
struct StoreTransaction {
    let txn: WriteTransaction
    let db: Databases

    /// The state as this transaction sees it (with what it committed so far).
    var view: ProjectionReader { ProjectionReader(txn: txn, db: db) }

    /// Appends the decision's events to the log and applies each to the projections (each
    /// sees the effects of the ones before), then returns its outcome.
    @discardableResult
    func commit<Outcome>(_ decision: Decision<Outcome>) throws -> Outcome {
        let projector = Projector(txn: txn, db: db)
        for event in decision.events {
            try txn.put(db.log, key: Keys.seq(event.seq), value: event.encoded(), flags: .append)
            try projector.apply(event)
        }
        return decision.outcome
    }

    /// Runs `body` as one step of this transaction: if it throws, what it committed is
    /// undone and the transaction goes on (see ``LMDB/WriteTransaction/step(_:)``).
    func step<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        try txn.step { step in try body(StoreTransaction(txn: step, db: db)) }
    }
}

extension Ledger {
    /// For the store's own maintenance (rebuild, verify, import batches).
    var env: Environment { store.env }
    var db: Databases { store.db }
}
