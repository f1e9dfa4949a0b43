import Foundation
import LMDB

// The offline swap of a store's data file, shared by `rebuild` and `compact` (docs/rebuild.md):
// the store lock held exclusively, a new data file made in a scratch directory inside the
// store, one `rename` over the old one.

extension Ledger {
    /// Where a new data file is made: inside the store, so that it is on the same file system
    /// and one `rename` moves it into place. One name for `rebuild` and `compact` (the store
    /// lock keeps them apart), so that either clears what an interrupted one left.
    static let rebuildDirectory = "rebuild-tmp"

    /// Takes the store at `path` offline, has `makeStore` write a new store into the scratch
    /// directory (from the store's directory), and moves its data file over the store's in one
    /// `rename`. A crash at any point leaves a valid store at `path`: the old data file before
    /// the rename, the new one after it. `makeStore` must have closed every environment it
    /// opened when it returns.
    /// - Returns: the store's directory (standardized) and what `makeStore` returned.
    /// - Throws: `invalidInput` when there is no store at `path`; ``LedgerError/storeInUse(path:)``
    ///   when a process (this one included) has it open or holds its lock; what `makeStore`
    ///   throws, the store then left untouched.
    static func replacingDataFile<T>(
        of path: String, _ makeStore: (_ directory: String, _ scratch: String) throws(LedgerError) -> T
    ) throws(LedgerError) -> (directory: String, value: T) {
        let directory = URL(fileURLWithPath: path).standardizedFileURL.path
        guard StoreFiles.storeExists(in: directory) else {
            throw .invalidInput(reason: "no store at \(path)")
        }
        // Held until this function returns. Every `Ledger` takes the shared lock before it
        // opens the environment: with this one taken, none has it open or can open it.
        let lock = try StoreLock.acquire(.exclusive, directory: directory)
        defer { withExtendedLifetime(lock) {} }
        // A second line for openers that do not take the store lock (LMDB's own tools; a
        // store whose directory was read-only when they opened it).
        try ensureOffline(directory)
        let scratch = (directory as NSString).appendingPathComponent(rebuildDirectory)
        // Whatever is left here is garbage from an interrupted swap (a partial new store,
        // or the directory of a new data file already moved in): `path` is valid either way.
        try removeTree(scratch)

        let value: T
        do {
            value = try makeStore(directory, scratch)
        } catch {
            try? removeTree(scratch) // a partial new store (its environment is closed by now)
            throw error
        }

        // One still open would keep serving the old file after the rename.
        guard !Environment.isOpen(path: directory), !Environment.isOpen(path: scratch) else {
            throw .storeInUse(path: directory)
        }
        try ensureOffline(directory)
        try StoreFiles.replaceDataFile(in: directory, with: StoreFiles.dataFile(in: scratch))
        // The store's `lock.mdb` stays: it describes no open environment (none can be open
        // now), and the next process to open the store gets LMDB's exclusive lock on it and
        // initialises it again, reading the current transaction from the new data file.
        try removeTree(scratch)
        return (directory, value)
    }

    /// Fails when another process has the store's environment open. Every process that opens
    /// an LMDB environment holds a shared `fcntl` lock on byte 0 of `lock.mdb` until it closes
    /// it; `F_GETLK` reports another process's lock and ignores this process's own.
    /// Call it only while this process does not have the store open: closing any descriptor
    /// of `lock.mdb` would drop this process's own LMDB lock.
    private static func ensureOffline(_ directory: String) throws(LedgerError) {
        if Environment.isOpen(path: directory) { throw .storeInUse(path: directory) }
        if StoreFiles.lockedByAnotherProcess(StoreFiles.lockFile(in: directory)) {
            throw .storeInUse(path: directory)
        }
    }

    static func removeTree(_ path: String) throws(LedgerError) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        try wrap { try FileManager.default.removeItem(atPath: path) }
    }
}
