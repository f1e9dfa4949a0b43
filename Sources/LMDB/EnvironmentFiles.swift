import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files of an environment's directory, for what LMDB leaves to its caller: reserving the
/// lock file's space, and removing what a failed first open created.
final class EnvironmentFiles {
    let directory: String
    private var createdLockFile = false
    private var dataFileExisted = true

    init(directory: String) {
        self.directory = directory
    }

    var lockFile: String { directory + "/lock.mdb" }
    var dataFile: String { directory + "/data.mdb" }

    /// Whether this process may write the lock file (or create it).
    var lockFileWritable: Bool {
        access(lockFile, F_OK) == 0 ? access(lockFile, W_OK) == 0 : access(directory, W_OK) == 0
    }

    /// The size LMDB gives a new lock file: `(maxreaders - 1) * sizeof(MDB_reader) +
    /// sizeof(MDB_txninfo)` with 64-byte reader slots and a 192-byte header (liblmdb 0.9,
    /// POSIX mutexes, 64-bit).
    static func lockFileSize(maxReaders: UInt32) -> Int {
        (Int(max(maxReaders, 1)) - 1) * 64 + 192
    }

    /// Allocates the lock file's blocks before LMDB maps it.
    ///
    /// LMDB sizes a new lock file with `ftruncate`, which allocates nothing, and then writes
    /// its reader table through a shared map: on a full file system the kernel cannot back
    /// the page it writes and the process dies of `SIGBUS`. Allocating the blocks first turns
    /// that into `ENOSPC` here. A new lock file gets the size LMDB would give it (LMDB then
    /// keeps it); an existing one keeps its size (another process may have it mapped at that
    /// size) and only has its holes filled, and a full disk then is not an error: its first
    /// page, which holds the header and the first readers, was written when it was made.
    /// Must be called before this process opens the environment: closing a descriptor of the
    /// lock file would drop the locks LMDB holds on it.
    /// - Throws: ``LMDBError/storageFull(path:)`` when a new lock file cannot be allocated.
    func reserveLockFile(maxReaders: UInt32) throws(LMDBError) {
        dataFileExisted = access(dataFile, F_OK) == 0
        var fd = open(lockFile, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 {
            createdLockFile = true
        } else if errno == EEXIST {
            fd = open(lockFile, O_RDWR | O_CLOEXEC)
        }
        guard fd >= 0 else { return } // LMDB reports why it cannot open it
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, let fallocate = Self.fallocate else { return }
        let size = status.st_size > 0 ? Int(status.st_size) : Self.lockFileSize(maxReaders: maxReaders)
        guard fallocate(fd, 0, 0, off_t(size)) != 0 else { return }
        let failure = errno
        if (failure == ENOSPC || failure == EDQUOT) && status.st_size == 0 {
            throw .storageFull(path: directory)
        }
    }

    /// Removes the lock file and empty data file that a failed first open left behind.
    func removeCreated() {
        if !dataFileExisted {
            var status = stat()
            // A file with both meta pages is a store some other process has just created.
            if stat(dataFile, &status) == 0, status.st_size < 8192 { unlink(dataFile) }
        }
        if createdLockFile, !dataFileExisted, access(dataFile, F_OK) != 0 { unlink(lockFile) }
        createdLockFile = false
    }

    private typealias Fallocate = @convention(c) (Int32, Int32, off_t, off_t) -> Int32

    /// `fallocate(2)` itself, not `posix_fallocate`, whose fallback for file systems without
    /// it writes a byte into each block, which would overwrite a lock file in use. glibc
    /// declares it only under `_GNU_SOURCE`, so it is looked up at run time.
    private static let fallocate: Fallocate? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: Fallocate.self)
    }()
}
