import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LMDB
import Synchronization

/// The default ``KeyStore``: the file `keys` in the store's directory.
///
/// Keys are appended to the file and flushed to disk before ``makeDataKeys(for:)`` returns.
/// ``destroyDataKeys(of:)`` writes the file anew without the destroyed keys and renames it
/// over the old one, so no file of the directory keeps their bytes.
///
/// ```swift
/// let keys = try FileKeyStore.open(directory: "/var/lib/ledger", create: true)
/// try keys.makeDataKeys(for: [7])
/// try keys.destroyDataKeys(of: [7])   // dataKey(of: 7) is now .destroyed
/// ```
///
/// Thread-safe. Several processes (and several instances in one process) may have the same
/// key store open: each change is made under an exclusive lock on the file `keys.lock` beside
/// it, after reading what the others changed, and ``refresh()`` picks up their changes.
public final class FileKeyStore: KeyStore {
    /// The key store's file.
    private let path: String
    private let directory: String
    private let sync: Bool
    private let secret: [UInt8]
    private let state: Mutex<State>

    private struct State {
        /// The key file as this instance last opened it (by now perhaps replaced by a rewrite).
        var file: KeyFile
        var table: KeyTable
        /// `keys.lock`, opened at the first change.
        var lock: Int32 = -1
    }

    /// One open key file: its descriptor, which file it is, and how far it was read.
    private struct KeyFile {
        var descriptor: Int32
        var writable: Bool
        var identity: FileIdentity
        /// Where the whole records read end: a torn append after them is overwritten.
        var soundLength: Int
    }

    private struct FileIdentity: Equatable {
        let device: UInt64
        let inode: UInt64

        init(_ status: stat) {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
        }
    }

    private init(path: String, directory: String, sync: Bool, secret: [UInt8], state: State) {
        self.path = path
        self.directory = directory
        self.sync = sync
        self.secret = secret
        self.state = Mutex(state)
    }

    deinit {
        state.withLock { state in
            state.table.wipeAll()
            close(state.file.descriptor)
            if state.lock >= 0 { close(state.lock) } // releases nothing: no lock is held between calls
        }
    }

    /// Opens the key store of the store in `directory`.
    ///
    /// - Parameters:
    ///   - create: Make the key store, with a new random store secret, when it does not exist
    ///     (and the directory, when it does not either). Pass it only when creating the store:
    ///     a store whose key store was lost needs its backup, not a new secret.
    ///   - sync: Flush every change to disk before returning (`fsync`). Off, changes survive a
    ///     crash of the process but not of the machine (the engine's no-sync durability).
    /// - Throws: ``LedgerError/keyStoreMissing(path:)`` when there is none and `create` is
    ///   off; ``LedgerError/keyStoreDamaged(path:reason:)`` for a bad header or a damaged
    ///   record; a file-system error.
    public static func open(directory: String, create: Bool, sync: Bool = true) throws(LedgerError) -> FileKeyStore {
        let path = (directory as NSString).appendingPathComponent("keys")
        var lock: Int32 = -1
        if create, access(path, F_OK) != 0 {
            try StoreFiles.createDirectory(directory)
            lock = try openLock(in: directory)
            do throws(LedgerError) {
                try withExclusiveLock(lock, path: path) { () throws(LedgerError) in
                    if access(path, F_OK) == 0 { return } // another process made it meanwhile
                    let made = try writeNewFile(in: directory, sync: sync) { (descriptor, tmp) throws(LedgerError) in
                        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
                        try Self.write(KeyFileFormat.header(secret: secret), to: descriptor, at: 0, path: tmp)
                    }
                    close(made)
                }
            } catch {
                close(lock)
                throw error
            }
        }
        do throws(LedgerError) {
            let (file, secret, table) = try load(path)
            return FileKeyStore(path: path, directory: directory, sync: sync, secret: secret, state: State(file: file, table: table, lock: lock))
        } catch {
            if lock >= 0 { close(lock) }
            throw error
        }
    }

    /// The store secret, read when the key store opened; never fails.
    public func storeSecret() throws(LedgerError) -> [UInt8] {
        secret
    }

    /// The customer's key from memory; a customer it does not know is looked for in what other
    /// processes appended since (a `stat`, and a read of the new records), then `.missing`.
    public func dataKey(of customer: CustomerID) throws(LedgerError) -> DataKeyLookup {
        try state.withLock { (state) throws(LedgerError) -> DataKeyLookup in
            if let known = state.table.lookup(customer) { return known }
            try refresh(&state) // another process may have just made it
            return state.table.lookup(customer) ?? .missing
        }
    }

    /// Appends a record for each new key under the lock, flushed (with `sync`) before it
    /// returns; when every customer has a key already, it writes and locks nothing.
    public func makeDataKeys(for customers: [CustomerID]) throws(LedgerError) {
        try state.withLock { (state) throws(LedgerError) in
            guard try !unknown(customers, in: state).isEmpty else { return }
            try withFileLock(&state, write: true) { (state) throws(LedgerError) in
                let wanted = try unknown(customers, in: state)
                guard !wanted.isEmpty else { return }
                var records: [UInt8] = []
                records.reserveCapacity(wanted.count * KeyFileFormat.recordSize)
                for customer in wanted {
                    SymmetricKey(size: .bits256).withUnsafeBytes { key in
                        KeyFileFormat.appendRecord(.key, customer: customer, key: key, to: &records)
                    }
                }
                let end = state.file.soundLength
                var status = stat()
                guard fstat(state.file.descriptor, &status) == 0 else { throw failure(path) }
                if Int(status.st_size) > end, ftruncate(state.file.descriptor, off_t(end)) != 0 { throw failure(path) } // a torn append
                try Self.write(records, to: state.file.descriptor, at: end, path: path)
                if sync, fsync(state.file.descriptor) != 0 { throw failure(path) }
                try apply(records, to: &state)
            }
        }
    }

    /// Writes the file anew without the customers' keys (`keys.tmp`, flushed, renamed over
    /// `keys`, the directory flushed) and overwrites their bytes in memory.
    public func destroyDataKeys(of customers: [CustomerID]) throws(LedgerError) {
        try state.withLock { (state) throws(LedgerError) in
            try withFileLock(&state, write: true) { (state) throws(LedgerError) in
                let doomed = Set(customers.filter { state.table.lookup($0) != .destroyed })
                guard !doomed.isEmpty else {
                    if sync { try StoreFiles.syncFile(directory, flags: O_DIRECTORY) } // the rename of a rewrite that failed after it
                    return
                }
                try rewrite(&state, destroying: doomed)
            }
        }
    }

    /// Copies the key file's whole records under the lock (a torn last append is left out),
    /// and flushes the copy and its directory, `sync` or not.
    /// - Throws: ``LedgerError/invalidInput(reason:)`` when `backupPath` is the key file itself.
    public func backup(to backupPath: String) throws(LedgerError) {
        try state.withLock { (state) throws(LedgerError) in
            try withFileLock(&state) { (state) throws(LedgerError) in
                var status = stat()
                if stat(backupPath, &status) == 0, FileIdentity(status) == state.file.identity {
                    throw .invalidInput(reason: "the backup path \(backupPath) is the key store itself")
                }
                let copy = Glibc.open(backupPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard copy >= 0 else { throw failure(backupPath) }
                defer { close(copy) }
                let chunk = 1 << 20
                var offset = 0
                while offset < state.file.soundLength {
                    let bytes = try Self.read(state.file.descriptor, from: offset, count: min(chunk, state.file.soundLength - offset), path: path)
                    guard !bytes.isEmpty else { throw .keyStoreDamaged(path: path, reason: "it became shorter while it was locked") }
                    try Self.write(bytes, to: copy, at: offset, path: backupPath)
                    offset += bytes.count
                }
                guard fsync(copy) == 0 else { throw failure(backupPath) }
                try StoreFiles.syncFile(PathName.parent(of: backupPath), flags: O_DIRECTORY)
            }
        }
    }

    /// A `stat` of the key file; reads the records appended since, or the whole file when a
    /// destroy in another instance replaced it. Takes no lock.
    public func refresh() throws(LedgerError) {
        try state.withLock { (state) throws(LedgerError) in try refresh(&state) }
    }

    // MARK: - Reading

    /// Catches up with the file without its lock. A record that seems damaged may be one
    /// another process is writing that very moment, so it is read again under the lock
    /// before it is reported.
    private func refresh(_ state: inout State) throws(LedgerError) {
        do throws(LedgerError) {
            try catchUp(&state)
        } catch .keyStoreDamaged(let damagedPath, let reason) {
            do throws(LedgerError) {
                try withFileLock(&state) { _ throws(LedgerError) in }
            } catch .readOnly {
                throw .keyStoreDamaged(path: damagedPath, reason: reason) // no lock file to make: report what was seen
            }
        }
    }

    /// Reads what other processes changed since this instance last read: the records appended
    /// since, or the whole file when a rewrite replaced it.
    private func catchUp(_ state: inout State) throws(LedgerError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw errno == ENOENT ? .keyStoreMissing(path: path) : failure(path)
        }
        guard FileIdentity(status) == state.file.identity else {
            let (file, found, table) = try Self.load(path)
            guard found == secret else {
                close(file.descriptor)
                throw .keyStoreDamaged(path: path, reason: "it was replaced by a key store with another store secret")
            }
            close(state.file.descriptor)
            state.table.wipeAll()
            state.file = file
            state.table = table
            return
        }
        let end = Int(status.st_size)
        guard end > state.file.soundLength else { return }
        let tail = try Self.read(state.file.descriptor, from: state.file.soundLength, count: end - state.file.soundLength, path: path)
        try apply(tail, to: &state)
    }

    /// Takes the sound records of `bytes`, read (or written) at the end of the open file's
    /// sound records.
    private func apply(_ bytes: [UInt8], to state: inout State) throws(LedgerError) {
        let base = state.file.soundLength
        let end = try Self.apply(bytes, from: 0, base: base, to: &state.table, path: path)
        state.file.soundLength = base + end
    }

    /// - Returns: where the sound records end in `bytes`.
    private static func apply(_ bytes: [UInt8], from start: Int, base: Int, to table: inout KeyTable, path: String) throws(LedgerError) -> Int {
        let end = try KeyFileFormat.soundEnd(of: bytes, from: start, base: base, path: path)
        for record in stride(from: start, to: end, by: KeyFileFormat.recordSize) {
            if let conflict = table.apply(KeyFileFormat.record(in: bytes, at: record)) {
                throw .keyStoreDamaged(path: path, reason: "the record at byte \(base + record) is \(conflict)")
            }
        }
        return end
    }

    /// Opens and reads the whole key file.
    private static func load(_ path: String) throws(LedgerError) -> (KeyFile, secret: [UInt8], KeyTable) {
        var writable = true
        var descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC)
        if descriptor < 0, errno == EACCES || errno == EROFS {
            writable = false
            descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        }
        guard descriptor >= 0 else {
            throw errno == ENOENT ? .keyStoreMissing(path: path) : Ledger.fileSystemError(path: path, errno: errno)!
        }
        do throws(LedgerError) {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
            let bytes = try read(descriptor, from: 0, count: Int(status.st_size), path: path)
            let secret = try KeyFileFormat.secret(fromHeaderOf: bytes, path: path)
            var table = KeyTable(capacity: (bytes.count - KeyFileFormat.headerSize) / KeyFileFormat.recordSize)
            let end = try apply(bytes, from: KeyFileFormat.headerSize, base: 0, to: &table, path: path)
            let file = KeyFile(descriptor: descriptor, writable: writable, identity: FileIdentity(status), soundLength: end)
            return (file, secret, table)
        } catch {
            close(descriptor)
            throw error
        }
    }

    // MARK: - Changing

    /// Of `customers`, those without a key, each once.
    /// - Throws: ``LedgerError/dataKeyDestroyed(customer:)`` for one whose key was destroyed.
    private func unknown(_ customers: [CustomerID], in state: State) throws(LedgerError) -> [CustomerID] {
        var seen = Set<CustomerID>()
        var unknown: [CustomerID] = []
        for customer in customers where seen.insert(customer).inserted {
            switch state.table.lookup(customer) {
            case nil: unknown.append(customer)
            case .destroyed: throw .dataKeyDestroyed(customer: customer)
            case .key, .missing: break
            }
        }
        return unknown
    }

    /// Runs `body` under the lock on `keys.lock`, after catching up with the file, which this
    /// instance may then change (with `write`): no other process writes it meanwhile.
    private func withFileLock(_ state: inout State, write: Bool = false, _ body: (inout State) throws(LedgerError) -> Void) throws(LedgerError) {
        if write, !state.file.writable { throw .readOnly(path: path) }
        if state.lock < 0 { state.lock = try Self.openLock(in: directory) }
        try Self.withExclusiveLock(state.lock, path: path) { () throws(LedgerError) in
            try catchUp(&state)
            try body(&state)
        }
    }

    /// Writes the key file anew without the keys of `doomed`, with a tombstone for each of them
    /// and for every customer destroyed before, and renames it over the old file.
    private func rewrite(_ state: inout State, destroying doomed: Set<CustomerID>) throws(LedgerError) {
        var old = stat()
        guard fstat(state.file.descriptor, &old) == 0 else { throw failure(path) }
        var length = 0
        let replacement = try Self.writeNewFile(in: directory, sync: sync) { (descriptor, tmp) throws(LedgerError) in
            // The new file keeps the old one's mode and owner, so whoever could use it still can.
            guard fchmod(descriptor, old.st_mode & 0o7777) == 0, fchown(descriptor, old.st_uid, old.st_gid) == 0 else {
                throw failure(tmp)
            }
            var buffer = KeyFileFormat.header(secret: secret)
            func flush() throws(LedgerError) {
                try Self.write(buffer, to: descriptor, at: length, path: tmp)
                length += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
            var tombstones = doomed
            try state.table.forEach { (customer, key) throws(LedgerError) in
                if let key, !doomed.contains(customer) {
                    KeyFileFormat.appendRecord(.key, customer: customer, key: key, to: &buffer)
                } else {
                    tombstones.insert(customer)
                }
                if buffer.count >= 1 << 20 { try flush() }
            }
            for customer in tombstones.sorted() {
                KeyFileFormat.appendRecord(.destroyed, customer: customer, key: [UInt8](), to: &buffer)
            }
            try flush()
        }
        var status = stat()
        guard fstat(replacement, &status) == 0 else {
            close(replacement)
            throw failure(path)
        }
        close(state.file.descriptor)
        state.file = KeyFile(descriptor: replacement, writable: true, identity: FileIdentity(status), soundLength: length)
        for customer in doomed {
            _ = state.table.apply(KeyFileFormat.Record(kind: .destroyed, customer: customer, key: []))
        }
    }

    /// Writes `keys.tmp` in `directory` with `fill`, flushes it (with `sync`), and renames it
    /// to `keys`: a crash leaves the old file or the new one, whole.
    /// - Returns: the new file's descriptor, open for reading and writing.
    private static func writeNewFile(in directory: String, sync: Bool, _ fill: (Int32, String) throws(LedgerError) -> Void) throws(LedgerError) -> Int32 {
        let tmp = (directory as NSString).appendingPathComponent("keys.tmp")
        let path = (directory as NSString).appendingPathComponent("keys")
        let descriptor = Glibc.open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Ledger.fileSystemError(path: tmp, errno: errno)! }
        do throws(LedgerError) {
            try fill(descriptor, tmp)
            if sync, fsync(descriptor) != 0 { throw Ledger.fileSystemError(path: tmp, errno: errno)! }
            guard rename(tmp, path) == 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
        } catch {
            unlink(tmp)
            close(descriptor)
            throw error
        }
        if sync {
            do throws(LedgerError) {
                try StoreFiles.syncFile(directory, flags: O_DIRECTORY)
            } catch {
                close(descriptor)
                throw error
            }
        }
        return descriptor
    }

    /// Opens `keys.lock`, making it when there is none; read-only when this process may not
    /// write it (a `flock` needs no write permission), so a read-only key store can be backed up.
    private static func openLock(in directory: String) throws(LedgerError) -> Int32 {
        let lockPath = (directory as NSString).appendingPathComponent("keys.lock")
        var descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor < 0, errno == EACCES || errno == EROFS { descriptor = Glibc.open(lockPath, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { throw Ledger.fileSystemError(path: lockPath, errno: errno)! }
        return descriptor
    }

    /// `flock` locks belong to an open file description, so two instances in one process
    /// exclude each other as two processes do.
    private static func withExclusiveLock(_ lock: Int32, path: String, _ body: () throws(LedgerError) -> Void) throws(LedgerError) {
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Ledger.fileSystemError(path: path + ".lock", errno: errno)! }
        }
        defer { flock(lock, LOCK_UN) }
        try body()
    }

    // MARK: - Bytes

    /// Up to `count` bytes from `offset`; fewer at the end of the file.
    private static func read(_ descriptor: Int32, from offset: Int, count: Int, path: String) throws(LedgerError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
            if n == 0 { break }
            done += n
        }
        bytes.removeLast(count - done)
        return bytes
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32, at offset: Int, path: String) throws(LedgerError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
            done += n
        }
    }

    private func failure(_ path: String) -> LedgerError {
        Ledger.fileSystemError(path: path, errno: errno)!
    }
}
