import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LMDB

/// `<store>/ledger.lock`, the file that keeps a rebuild (or any later swap of the store's
/// files) and the store's users apart. Every ``Ledger`` holds a shared `flock` on it from
/// before its environment opens until after it closes; a rebuild holds it exclusively for
/// its whole run. Neither waits: a conflict is ``LedgerError/storeInUse(path:)`` at once, so
/// an open during a rebuild fails, and so does a rebuild while the store is open.
///
/// The file never moves and is never deleted, so every process locks the same inode: a
/// rebuild swaps the data file, not the directory (docs/rebuild.md). `flock` locks belong to
/// an open file description, so two locks taken in one process conflict like two processes'
/// (unlike LMDB's `fcntl` locks on `lock.mdb`), and closing another descriptor of the file
/// does not drop them.
final class StoreLock: Sendable {
    enum Mode {
        case shared, exclusive
    }

    static let fileName = "ledger.lock"

    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor) // releases the lock
    }

    /// Takes the lock of the store in `directory` (which exists), creating the file if needed.
    /// - Returns: nil for a shared lock when the file cannot be opened or created (a read-only
    ///   directory or file system, a full disk): the store is then opened without it, as the
    ///   rebuild it keeps out could not create the file either.
    /// - Throws: ``LedgerError/storeInUse(path:)`` when the lock is held in a conflicting mode;
    ///   ``LedgerError/invalidInput(reason:)`` when an exclusive lock's file cannot be opened.
    static func acquire(_ mode: Mode, directory: String) throws(LedgerError) -> StoreLock? {
        let path = (directory as NSString).appendingPathComponent(fileName)
        // Read-only is enough for `flock`, and opens an existing file in a read-only directory.
        let descriptor = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            if mode == .shared { return nil }
            throw .invalidInput(reason: "cannot open \(path): \(reason)")
        }
        let lock = StoreLock(descriptor: descriptor) // closes the file if taking the lock fails
        while flock(descriptor, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            switch errno {
            case EINTR: continue
            case EWOULDBLOCK: throw .storeInUse(path: directory)
            default: throw .invalidInput(reason: "cannot lock \(path): \(String(cString: strerror(errno)))")
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
