import Crypto
import Foundation
import LMDB

// Offline rebuild and online verify (behaviour §7.3): storage maintenance, next to the store. Both replay the log through the
// same `Projector` that commands use, over `Databases.projections`, so a projection
// added later is rebuilt and verified without changes here. Layout: docs/rebuild.md.

extension Ledger {
    /// How far a replay has come; passed to the `progress` callback after each batch.
    public struct ReplayProgress: Sendable {
        /// Events replayed so far.
        public var events: UInt64
        /// Events in the log being replayed.
        public var total: UInt64
        /// Seconds since the replay started.
        public var elapsed: Double
    }

    /// What ``rebuild(path:options:progress:)`` did.
    public struct RebuildSummary: Sendable, Hashable {
        /// Events replayed.
        public var events: UInt64
        public var seconds: Double
        /// The projections whose rebuilt contents differ from what the store held before
        /// (empty when the live projections were already correct).
        public var changedProjections: [String]
        /// SHA-256 of every rebuilt projection, by name.
        public var digests: [String: String]
    }

    /// What ``verify(scratchPath:progress:)`` found.
    public struct VerifyReport: Sendable, Hashable {
        public var events: UInt64
        public var seconds: Double
        /// SHA-256 of every live projection, by name.
        public var digests: [String: String]
        /// The first projection whose rebuild differs; nil when every one is byte-identical.
        public var mismatch: ProjectionMismatch?

        public var isValid: Bool { mismatch == nil }
    }

    /// Where a live projection first differs from its rebuild.
    public struct ProjectionMismatch: Sendable, Hashable {
        /// The projection's database name, e.g. `holdings`.
        public var projection: String
        /// The first differing key (in key order), in hex.
        public var key: String
    }

    /// Recomputes every projection from the log of the store at `path`, offline, into a new
    /// data file in `<path>/rebuild-tmp`, then moves it over the store's data file in one
    /// `rename`. A crash at any point leaves a valid store at `path`: the old data file before
    /// the rename, the new one after it.
    ///
    /// For its whole run it holds the store lock (a `flock` on its directory) exclusively, so no process
    /// can open the store meanwhile: an open fails with ``LedgerError/storeInUse(path:)``,
    /// and nothing can be committed that the rebuilt file would not hold.
    ///
    /// ```swift
    /// let summary = try Ledger.rebuild(path: "/var/lib/shop/customers")
    /// print(summary.events, summary.changedProjections)
    /// ```
    /// - Throws: ``LedgerError/storeInUse(path:)`` when another process (or a `Ledger` still
    ///   alive in this one) has the store open, or another rebuild runs;
    ///   ``LedgerError/corruptEvent(seq:reason:)`` for an event that cannot be decoded or
    ///   applied (the store is then left untouched); ``LedgerError/storage(_:)``.
    @discardableResult
    public static func rebuild(
        path: String, options: Options = .init(), progress: ((ReplayProgress) -> Void)? = nil
    ) throws(LedgerError) -> RebuildSummary {
        let start = Date()
        let (directory, (events, changed, digests)) = try replacingDataFile(of: path) { directory, scratch throws(LedgerError) in
            try rebuildAside(directory, into: scratch, options: options, progress: progress)
        }
        let summary = RebuildSummary(events: events, seconds: Date().timeIntervalSince(start), changedProjections: changed, digests: digests)
        Telemetry.rebuilt(Telemetry.logger(options, path: directory), summary)
        return summary
    }

    /// What ``upgrade(path:options:progress:)`` did.
    public struct UpgradeSummary: Sendable, Hashable {
        /// The store format the store was in.
        public var found: Int
        /// The store format it is in now (this build's).
        public var format: Int
        /// The rebuild that upgraded it; nil when it was already in this build's format.
        public var rebuild: RebuildSummary?
    }

    /// Upgrades the store at `path` to this build's store format, if it is in an older one:
    /// by ``rebuild(path:options:progress:)``, which keeps the log as it is (every position and
    /// outcome) and writes every projection again in the current layout. A store already in
    /// this build's format is left as it is. The explicit form of ``Options/upgrade``, with
    /// progress.
    ///
    /// ```swift
    /// let summary = try Ledger.upgrade(path: "/var/lib/shop/customers")
    /// if summary.rebuild == nil { print("already at format \(summary.format)") }
    /// ```
    /// - Throws: ``LedgerError/invalidInput(reason:)`` when there is no store at `path`; what
    ///   ``rebuild(path:options:progress:)`` and ``open(path:options:)`` throw.
    public static func upgrade(
        path: String, options: Options = .init(), progress: ((ReplayProgress) -> Void)? = nil
    ) throws(LedgerError) -> UpgradeSummary {
        guard StoreFiles.storeExists(in: path) else { throw .invalidInput(reason: "no store at \(path)") }
        do throws(LedgerError) {
            // Released at once: the rebuild needs the store to itself.
            _ = try openAsIs(path: path, options: options, refusingOlder: true)
            return UpgradeSummary(found: Int(storeFormat), format: Int(storeFormat), rebuild: nil)
        } catch .upgradeRequired(let found, _) {
            let summary = try rebuild(path: path, options: options, progress: progress)
            Telemetry.upgraded(Telemetry.logger(options, path: path), from: found, to: Int(storeFormat), summary)
            return UpgradeSummary(found: found, format: Int(storeFormat), rebuild: summary)
        }
    }

    /// Replays into `scratch`; returns the events replayed, the projections that differ from
    /// the live ones, and the digests of the rebuilt ones.
    private static func rebuildAside(
        _ directory: String, into scratch: String, options: Options, progress: ((ReplayProgress) -> Void)?
    ) throws(LedgerError) -> (UInt64, [String], [String: String]) {
        // An older store is read as it is: its log is replayed into the current format.
        // Without the shared lock: this process holds the store's lock exclusively.
        let live = try Ledger.openAsIs(path: directory, options: options, locked: false)
        try wrap { try live.env.checkPages() } // LMDB would crash on a damaged page
        let target = try live.openReplayTarget(at: scratch)
        let (events, changed) = try wrap {
            try live.env.read { txn in
                let events = try live.replay(txn, into: target, progress: progress)
                let changed = try target.env.read { rebuilt in
                    try zip(live.db.projections, target.db.projections).filter { liveDB, rebuiltDB in
                        try txn.firstDifference(liveDB, comparedWith: rebuilt, rebuiltDB) != nil
                    }.map(\.0.name)
                }
                return (events, changed)
            }
        }
        try wrap { try target.env.sync() }
        return (events, changed, try target.projectionDigests())
    }

    /// Replays the log into a scratch store and compares every projection with the live
    /// one, byte for byte, from one snapshot (so it may run while commands are written).
    ///
    /// ```swift
    /// let report = try ledger.verify()
    /// if let mismatch = report.mismatch { print(mismatch.projection, mismatch.key) }
    /// ```
    /// - Parameters:
    ///   - scratchPath: where to rebuild (must not exist; removed afterwards); default
    ///     `<store>.verify-<pid>` beside the store, or in the temporary directory when this
    ///     process may not write beside it.
    ///   - progress: called after each replayed batch.
    /// - Throws: ``LedgerError/corruptStore(path:reason:)`` naming a damaged page of the data
    ///   file (every page is checked first); ``LedgerError/corruptEvent(seq:reason:)`` naming the
    ///   first event that cannot be decoded or applied; ``LedgerError/storageFull(path:)`` when the
    ///   scratch copy finds no room; ``LedgerError/storage(_:)``.
    public func verify(scratchPath: String? = nil, progress: ((ReplayProgress) -> Void)? = nil) throws(LedgerError) -> VerifyReport {
        let start = Date()
        // Beside the store, unless this process may not write there (a read-only store).
        let besideStore = StoreFiles.isWritable(PathName.parent(of: env.path))
        let scratch = scratchPath ?? (besideStore ? env.path : NSTemporaryDirectory() + "/" + (env.path as NSString).lastPathComponent) + ".verify-\(getpid())"
        guard !FileManager.default.fileExists(atPath: scratch) else {
            throw .invalidInput(reason: "\(scratch) already exists")
        }
        // Before anything reads the store through LMDB, which would crash on a damaged page.
        try Self.wrap { try env.checkPages() }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The scratch store is closed when `compare` returns, before `defer` deletes it.
        var report = try Self.wrap { try compare(withRebuildAt: scratch, progress: progress) }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    private func compare(withRebuildAt scratch: String, progress: ((ReplayProgress) -> Void)?) throws -> VerifyReport {
        let target = try openReplayTarget(at: scratch)
        return try env.read { txn in
            let events = try replay(txn, into: target, progress: progress)
            var report = VerifyReport(events: events, seconds: 0, digests: try digests(txn), mismatch: nil)
            try target.env.read { rebuilt in
                for (liveDB, rebuiltDB) in zip(db.projections, target.db.projections) {
                    if let key = try txn.firstDifference(liveDB, comparedWith: rebuilt, rebuiltDB) {
                        report.mismatch = ProjectionMismatch(projection: liveDB.name, key: key.hexString)
                        break
                    }
                }
            }
            return report
        }
    }

    // MARK: Replay

    /// A digest of every projection (SHA-256 over keys and values, database by database),
    /// used to compare a live store with a rebuilt one. Internal: only tests compare stores so.
    func projectionDigests() throws(LedgerError) -> [String: String] {
        try Self.wrap { try env.read { txn in try digests(txn) } }
    }

    /// Replays this store's log into a new store at `path` (which must not exist yet):
    /// every projection is recomputed by the same projector that commands use. Public for the
    /// benchmarks (their own package), which time the replay apart from ``rebuild(path:options:progress:)``.
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
        try Ledger.openAsIs(path: path, options: Ledger.privateStoreOptions(
            durability: .noSync, clock: options.clock, initialMapSize: max(options.initialMapSize, env.mapSize)), locked: false)
    }

    /// Appends every event of the snapshot `source` to `target`'s log and applies it with
    /// the projector, in batches of one write transaction each.
    func replay(_ source: ReadTransaction, into target: Ledger, progress: ((ReplayProgress) -> Void)?) throws -> UInt64 {
        let start = Date()
        let total = UInt64(try source.count(db.log))
        var count: UInt64 = 0
        var batch: [Entry] = []
        batch.reserveCapacity(Self.replayBatch)
        let targetDB = target.db
        func flush() throws {
            let (_, report) = try target.env.reportingWrite { txn in
                let projector = Projector(txn: txn, db: targetDB)
                for entry in batch {
                    try txn.put(targetDB.log, key: entry.key, value: entry.value, flags: .append)
                    try projector.replay(key: entry.key, bytes: entry.value)
                }
            }
            store.telemetry.mapGrew(report.mapGrowths.map { ($0.from, $0.to) })
            count += UInt64(batch.count)
            batch.removeAll(keepingCapacity: true)
            progress?(ReplayProgress(events: count, total: total, elapsed: Date().timeIntervalSince(start)))
        }
        var expected: UInt64 = 1
        try source.forEach(db.log, prefix: []) { entry in
            // The log is dense from 1; a gap or an unreadable key is corruption at that position.
            guard Keys.readUInt64(entry.key) == expected, entry.key.count == 8 else {
                throw LedgerError.corruptEvent(seq: expected, reason: "log key \(entry.key) where \(expected) was expected")
            }
            expected += 1
            batch.append(entry)
            if batch.count == Self.replayBatch { try flush() }
            return true
        }
        try flush()
        return count
    }

    private static let replayBatch = 10_000

    /// SHA-256 of every projection in the snapshot `txn` (as ``projectionDigests()``).
    func digests(_ txn: ReadTransaction) throws -> [String: String] {
        var digests: [String: String] = [:]
        for database in db.projections {
            var hasher = SHA256()
            try txn.forEachInPlace(database, prefix: []) { key, value in
                // Each part with its length: a byte moved from a value into its key must
                // change the digest.
                hasher.update(lengthPrefixed: key)
                hasher.update(lengthPrefixed: value)
                return true
            }
            digests[database.name] = Array(hasher.finalize()).hexString
        }
        return digests
    }
}
