import Foundation
import LMDB
#if canImport(Glibc)
import Glibc
#endif

// Online backup and offline compaction: both write a compacting copy of the data file (only
// the pages in use), one into a directory of the caller's, the other over the store's own
// file. Decisions: docs/decisions.md ("Backup and compact").

extension Ledger {
    /// What ``backup(to:)`` wrote.
    public struct BackupSummary: Sendable, Hashable {
        /// The directory holding the copy.
        public var path: String
        /// The log position the copy holds: its last event (0 for an empty log). Every event up
        /// to it is in the copy, none after it.
        public var position: UInt64
        /// The size of the copy's data file.
        public var bytes: UInt64
        public var seconds: Double
    }

    /// What ``compact(path:options:)`` did.
    public struct CompactSummary: Sendable, Hashable {
        /// The size of the store's data file before.
        public var bytesBefore: UInt64
        /// Its size after: the pages in use, and no free ones.
        public var bytesAfter: UInt64
        public var seconds: Double
    }

    /// Copies the store, while it is in use, into `destination`: a new directory, or an
    /// existing empty one. The copy is of one moment (one read snapshot): commands committed
    /// meanwhile, by this process or others, are either wholly in it or not at all. It is
    /// compacted (only the pages in use, so no bytes of freed pages), flushed to disk with its
    /// directory, and opens as a store of its own with ``open(path:options:)``.
    ///
    /// ```swift
    /// let summary = try ledger.backup(to: "/backups/customers-2026-12-02")
    /// print(summary.position, summary.bytes)
    /// ```
    ///
    /// The copy holds the store's read snapshot while it runs, as a long query does: a command
    /// that needs the store's map to grow waits for it.
    /// - Throws: ``LedgerError/destinationNotEmpty(path:)`` when `destination` is a directory
    ///   holding anything (nothing is written there); ``LedgerError/notADirectory(path:)`` when
    ///   it, or a parent, is a file; ``LedgerError/storageFull(path:)`` when its file system is
    ///   full; ``LedgerError/readOnly(path:)`` when this process may not write there. A backup
    ///   that fails leaves nothing of it behind.
    public func backup(to destination: String) throws(LedgerError) -> BackupSummary {
        let start = Date()
        let target = URL(fileURLWithPath: destination).standardizedFileURL.path
        let created = try StoreFiles.makeEmptyDirectory(target)
        do throws(LedgerError) {
            try Self.wrap { try env.copy(to: target) }
            try StoreFiles.syncFile(StoreFiles.dataFile(in: target))
            let position = try Self.position(ofCopyAt: target, options: options)
            try StoreFiles.syncFile(target, flags: O_DIRECTORY)
            if created { try StoreFiles.syncFile(PathName.parent(of: target), flags: O_DIRECTORY) }
            let summary = BackupSummary(
                path: target, position: position, bytes: try StoreFiles.size(of: StoreFiles.dataFile(in: target)),
                seconds: Date().timeIntervalSince(start))
            store.telemetry.backedUp(summary)
            return summary
        } catch {
            for file in [StoreFiles.dataFile(in: target), StoreFiles.lockFile(in: target)] { unlink(file) }
            if created { rmdir(target) }
            throw error
        }
    }

    /// The last log position of the copy at `path`, read by opening it as a store (which also
    /// checks that it opens). The lock file that the open made is removed again (harmless even
    /// before the copy closes): the copy is its data file alone.
    private static func position(ofCopyAt path: String, options: Options) throws(LedgerError) -> UInt64 {
        defer { unlink(StoreFiles.lockFile(in: path)) }
        let copy = try openAsIs(path: path, options: privateStoreOptions(
            durability: .noSync, clock: options.clock, initialMapSize: options.initialMapSize), locked: false)
        return try copy.position
    }

    /// Compacts the store at `path` in place, offline: writes a compacting copy of its data
    /// file (only the pages in use) into `<path>/rebuild-tmp` and moves it over the data file
    /// in one `rename`, as ``rebuild(path:options:progress:)`` does. A crash at any point leaves
    /// a valid store at `path`: the old data file before the rename, the new one after it.
    /// The log and every projection stay byte for byte as they were; what goes is the free
    /// pages, with whatever bytes they still held. The store's format does not matter: an
    /// older store is compacted as it is, not upgraded.
    ///
    /// ```swift
    /// let summary = try Ledger.compact(path: "/var/lib/shop/customers")
    /// print(summary.bytesBefore, summary.bytesAfter)
    /// ```
    /// - Throws: ``LedgerError/storeInUse(path:)`` when another process (or a `Ledger` still
    ///   alive in this one) has the store open, or a rebuild or another compaction runs;
    ///   ``LedgerError/corruptStore(path:reason:)`` for a damaged page (every page is checked
    ///   first; the store is then left untouched); ``LedgerError/storageFull(path:)`` when
    ///   there is no room for the copy; ``LedgerError/invalidInput(reason:)`` when there is no
    ///   store at `path`.
    @discardableResult
    public static func compact(path: String, options: Options = .init()) throws(LedgerError) -> CompactSummary {
        let start = Date()
        let (directory, before) = try replacingDataFile(of: path) { directory, scratch throws(LedgerError) in
            let before = try StoreFiles.size(of: StoreFiles.dataFile(in: directory))
            try StoreFiles.createDirectory(scratch)
            try wrap {
                // No database opened: copying pages needs none, and opening the engine's would
                // create those an older format lacks, a write to a store that must stay as it is.
                let env = try Environment.open(path: directory, configuration: .init(databases: []))
                try env.checkPages() // LMDB would crash on a damaged page
                try env.copy(to: scratch)
            }
            return before
        }
        let summary = CompactSummary(
            bytesBefore: before, bytesAfter: try StoreFiles.size(of: StoreFiles.dataFile(in: directory)),
            seconds: Date().timeIntervalSince(start))
        Telemetry.compacted(Telemetry.logger(options, path: directory), summary)
        return summary
    }
}
