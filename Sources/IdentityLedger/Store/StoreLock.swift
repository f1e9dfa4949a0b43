import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LMDB

/// The lock that keeps a rebuild (or any later swap of the store's files) and the store's
/// users apart: a `flock` on the store's directory itself. Every ``Ledger`` holds it shared
/// from before its environment opens until after it closes; a rebuild holds it exclusively
/// for its whole run. Neither waits: a conflict is ``LedgerError/storeInUse(path:)`` at once
/// (after at most 200 ms: ``retries``), so an open during a rebuild fails, and so does a
/// rebuild while the store is open.
///
/// The directory never moves (a rebuild swaps the data file inside it, docs/rebuild.md), so
/// every process locks the same inode, and locking it needs no file of its own: nothing to
/// create in a read-only directory, nothing left behind by a first open that failed.
/// `flock` locks belong to an open file description, so two locks taken in one process
/// conflict like two processes' (unlike LMDB's `fcntl` locks on `lock.mdb`).
final class StoreLock: Sendable {
    enum Mode {
        case shared, exclusive
    }

    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor) // releases the lock
    }

    /// How often the lock is tried again, 5 ms apart, before `storeInUse`. A child process
    /// being started holds a copy of every descriptor of its parent until its `exec` closes
    /// them, this lock's included: without a retry, a rebuild right after this process released
    /// the store (an upgrade), or an open right after this process's rebuild, would fail now and
    /// then in a process that starts others.
    private static let retries = 40

    /// Takes the lock of the store in `directory` (which exists).
    /// - Returns: nil for a shared lock when the directory cannot be opened for reading (no
    ///   read permission): the store is then opened without it, as a rebuild, which needs
    ///   the lock, could not run there either.
    /// - Throws: ``LedgerError/storeInUse(path:)`` when the lock is held in a conflicting mode;
    ///   a file-system error when an exclusive lock's directory cannot be opened.
    static func acquire(_ mode: Mode, directory: String) throws(LedgerError) -> StoreLock? {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if mode == .shared { return nil }
            throw Ledger.fileSystemError(path: directory, errno: errno)!
        }
        let lock = StoreLock(descriptor: descriptor) // closes the file if taking the lock fails
        var retries = Self.retries
        while flock(descriptor, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            switch errno {
            case EINTR: continue
            case EWOULDBLOCK where retries > 0:
                retries -= 1
                usleep(5_000)
            case EWOULDBLOCK: throw .storeInUse(path: directory)
            default: throw Ledger.fileSystemError(path: directory, errno: errno)!
            }
        }
        return lock
    }
}

/// An environment opened under a shared ``StoreLock``, which this holder releases only after
/// its reference to the environment: when it is the last one, the environment has closed by
/// then, so a rebuild that gets the lock next finds no process still in the files.
/// (`Unmanaged`, because the order in which a class's stored properties are released is
/// not specified.)
final class LockedEnvironment: @unchecked Sendable {
    private let reference: Unmanaged<Environment>
    private let lock: StoreLock?

    var environment: Environment { reference.takeUnretainedValue() }

    init(_ environment: Environment, lock: StoreLock?) {
        reference = .passRetained(environment)
        self.lock = lock
    }

    deinit {
        reference.release()
        // `lock` is released after this body, with the stored properties.
    }
}
