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
    /// Where the store's logs and metrics go (``Ledger/Options``).
    let telemetry: Telemetry

    private init(_ locked: LockedEnvironment, telemetry: Telemetry) throws {
        self.locked = locked
        self.telemetry = telemetry
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
                let store = try LedgerStore(
                    LockedEnvironment(try Environment.open(path: path, configuration: configuration), lock: lock),
                    telemetry: Telemetry(options: options, path: env.path))
                let format = try store.storedFormat() // records this build's for a new store
                // Counted when this process first opened the environment (LMDB's `mdb_reader_check`).
                store.telemetry.staleReadersCleared(store.env.staleReadersCleared)
                store.telemetry.opened(format: format, mapSize: store.env.mapSize, readOnly: store.env.isReadOnly)
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
        let body: @Sendable (WriteTransaction) throws -> Tallied<Outcome> = { txn in
            let transaction = StoreTransaction(txn: txn, db: db)
            let outcome = try transaction.commit(decide(ProjectionReader(txn: txn, db: db)))
            return Tallied(value: outcome, tally: transaction.tally.value)
        }
        guard grouped else {
            let (tallied, report) = try await env.reportingWrite(body)
            timed(report, commands: 1)
            return counted(tallied)
        }
        let (outcome, report) = try await env.reportingGroupedWrite(body)
        // Each commit is timed and sized once, by its first caller, whatever that one's outcome.
        if report.isFirstCaller { timed(report, commands: report.callers) }
        return counted(try outcome.get())
    }

    /// Runs `body` in one write transaction, which it commits decisions to one by one (each
    /// sees the ones before). Committed if and only if `body` returns. `size`: the commands or
    /// import rows it decides, for the metrics and the slow-commit warning.
    func write<T: Sendable>(size: Int, _ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        let db = self.db
        let (tallied, report) = try await env.reportingWrite { txn in
            let transaction = StoreTransaction(txn: txn, db: db)
            let value = try body(transaction)
            return Tallied(value: value, tally: transaction.tally.value)
        }
        timed(report, commands: size)
        return counted(tallied)
    }

    /// Counts what a committed transaction wrote (merges, declines).
    private func counted<T>(_ tallied: Tallied<T>) -> T {
        telemetry.counted(merges: tallied.tally.merges, declines: tallied.tally.declines)
        return tallied.value
    }

    /// Times and sizes a commit of `commands` commands (or import rows).
    private func timed(_ report: WriteReport, commands: Int) {
        telemetry.committed(duration: report.duration, commands: commands, mapGrowths: report.mapGrowths.map { ($0.from, $0.to) })
    }

    /// Runs `body` as ``write(size:_:)`` does, then throws away everything it committed: a dry run
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

/// What the decisions committed in one transaction wrote, for the metrics: kept as the
/// transaction runs, counted only once it has committed (a transaction run again starts a new one).
struct CommitTally: Sendable {
    var merges = 0
    /// Recorded declines, by each guard that failed.
    var declines: [GuardName: Int] = [:]

    mutating func add(_ events: [Event]) {
        for event in events {
            switch event.body {
            case .merged: merges += 1
            case .mergeDeclined(_, _, let guards):
                for result in guards where !result.passed { declines[result.guard, default: 0] += 1 }
            default: break
            }
        }
    }

    mutating func add(_ other: CommitTally) {
        merges += other.merges
        declines.merge(other.declines, uniquingKeysWith: +)
    }
}

/// A transaction's tally as it runs; only the writer thread running the transaction touches it.
final class TallyBox: @unchecked Sendable {
    var value = CommitTally()
}

/// A transaction's value with its tally.
struct Tallied<T> {
    var value: T
    var tally: CommitTally
}
extension Tallied: Sendable where T: Sendable {}

/// One write transaction of the store, for deciders' decisions.
struct StoreTransaction {
    let txn: WriteTransaction
    let db: Databases
    let tally = TallyBox()

    init(txn: WriteTransaction, db: Databases) {
        self.txn = txn
        self.db = db
    }

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
        tally.value.add(decision.events)
        return decision.outcome
    }

    /// Runs `body` as one step of this transaction: if it throws, what it committed is
    /// undone and the transaction goes on (see ``LMDB/WriteTransaction/step(_:)``).
    func step<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        // The step's own tally joins this one only if the step stays.
        var stepTally = CommitTally()
        let value = try txn.step { step in
            let transaction = StoreTransaction(txn: step, db: db)
            defer { stepTally = transaction.tally.value }
            return try body(transaction)
        }
        tally.value.add(stepTally)
        return value
    }
}

extension Ledger {
    /// For the store's own maintenance (rebuild, verify, import batches).
    var env: Environment { store.env }
    var db: Databases { store.db }
}
