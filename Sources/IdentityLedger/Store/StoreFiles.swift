import Foundation
import LMDB
#if canImport(Glibc)
import Glibc
#endif

/// The few file-system calls opening and rebuilding a store need beyond Foundation (the store
/// lock's `flock` is in ``StoreLock``; LMDB's own files are the LMDB module's).
enum StoreFiles {
    /// The LMDB data file in a store's directory.
    static func dataFile(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("data.mdb")
    }

    /// LMDB's lock file in a store's directory.
    static func lockFile(in directory: String) -> String {
        (directory as NSString).appendingPathComponent("lock.mdb")
    }

    /// The size of the file at `path`, in bytes.
    static func size(of path: String) throws(LedgerError) -> UInt64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
        return UInt64(status.st_size)
    }

    /// Creates directory `path` (and its parents), or accepts an existing empty one: a place
    /// to write a copy of a store without mixing it with other files.
    /// - Returns: whether it created `path` itself.
    /// - Throws: ``LedgerError/destinationNotEmpty(path:)`` when it exists and holds anything;
    ///   ``LedgerError/notADirectory(path:)`` when it, or a parent, is a file.
    static func makeEmptyDirectory(_ path: String) throws(LedgerError) -> Bool {
        let created = try createDirectory(path)
        if !created {
            let entries = try Ledger.wrap { try FileManager.default.contentsOfDirectory(atPath: path) }
            guard entries.isEmpty else { throw .destinationNotEmpty(path: path) }
        }
        return created
    }

    /// Whether a store (its data file) exists in `directory`.
    static func storeExists(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: dataFile(in: directory))
    }

    /// A new directory under the system's temporary directory that no other process knows
    /// (`mkdtemp`), or nil when none can be made there.
    static func makePrivateDirectory(prefix: String) -> String? {
        var template = Array(((NSTemporaryDirectory() as NSString).appendingPathComponent(prefix + "XXXXXX")).utf8CString)
        return template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) }
    }

    /// Throws what creating the store directory `path` would: `notADirectory` when it, or the
    /// nearest of its ancestors that exists, is not a directory; `readOnly` when that ancestor
    /// cannot be written. Creates nothing.
    static func checkCreatable(_ path: String) throws(LedgerError) {
        var existing = path
        while !FileManager.default.fileExists(atPath: existing) {
            let parent = PathName.parent(of: existing)
            if parent == existing { return }
            existing = parent
        }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: existing, isDirectory: &isDirectory)
        guard isDirectory.boolValue else { throw .notADirectory(path: existing) }
        if existing != path, !isWritable(existing) { throw .readOnly(path: existing) }
    }

    /// Whether this process may create files in `directory`.
    static func isWritable(_ directory: String) -> Bool {
        access(directory, W_OK) == 0
    }

    /// Creates `path` and any missing parents; returns whether it created `path` itself.
    /// Several processes may create a new store at once: a directory that another made
    /// meanwhile (`EEXIST`) is no failure.
    @discardableResult
    static func createDirectory(_ path: String) throws(LedgerError) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .notADirectory(path: path) }
            return false
        }
        let parent = PathName.parent(of: path)
        if parent != path { try createDirectory(parent) }
        let created = mkdir(path, 0o777) == 0
        guard created || errno == EEXIST else { throw Ledger.fileSystemError(path: path, errno: errno)! }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notADirectory(path: path)
        }
        return created
    }

    /// Replaces `directory`'s data file with `newFile` in one `rename` (on the same file
    /// system: `newFile` is inside `directory`): a crash sees the old file or the new one,
    /// both complete. The new file is flushed first and the directory after.
    static func replaceDataFile(in directory: String, with newFile: String) throws(LedgerError) {
        // The new file takes the old one's mode and owner: a group that could write the store
        // still can (else it would find it read-only).
        var old = stat()
        if stat(dataFile(in: directory), &old) == 0 {
            guard chmod(newFile, old.st_mode & 0o7777) == 0, chown(newFile, old.st_uid, old.st_gid) == 0 else {
                throw Ledger.fileSystemError(path: newFile, errno: errno)!
            }
        }
        try syncFile(newFile)
        guard rename(newFile, dataFile(in: directory)) == 0 else {
            throw Ledger.fileSystemError(path: dataFile(in: directory), errno: errno)!
        }
        try syncFile(directory, flags: O_DIRECTORY)
    }

    /// `fsync`s a file, or with `O_DIRECTORY` a directory's entries (a new file, a rename).
    static func syncFile(_ path: String, flags: Int32 = 0) throws(LedgerError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | flags)
        guard fd >= 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Ledger.fileSystemError(path: path, errno: errno)! }
    }

    /// Whether another process holds a lock on byte 0 of `lock.mdb` (LMDB's "environment in use" lock).
    /// Call it only while this process does not have the environment open: closing any
    /// descriptor of `lock.mdb` drops every `fcntl` lock this process holds on it.
    static func lockedByAnotherProcess(_ lockFile: String) -> Bool {
        let fd = open(lockFile, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 1
        guard fcntl(fd, F_GETLK, &lock) == 0 else { return false }
        return lock.l_type != Int16(F_UNLCK)
    }
}
