import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by LMDB or by this layer.
///
/// Every `MDB_` return code has a named case; operating-system errors that
/// LMDB passes through (`errno` values) have named cases for the common ones
/// and ``errno(_:)`` for the rest.
public enum LMDBError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `MDB_KEYEXIST`: the key/data pair already exists.
    case keyExists
    /// `MDB_NOTFOUND`: no matching key or data.
    case notFound
    /// `MDB_PAGE_NOTFOUND`: a requested page was not found (usually corruption).
    case pageNotFound
    /// `MDB_CORRUPTED`: a located page was the wrong type.
    case corrupted
    /// `MDB_PANIC`: an update of meta page failed or the environment had a fatal error.
    case panic
    /// `MDB_VERSION_MISMATCH`: the environment was written by another liblmdb version.
    case versionMismatch
    /// `MDB_INVALID`: the file is not a valid LMDB file.
    case invalid
    /// `MDB_MAP_FULL`: the environment map size was reached.
    case mapFull
    /// `MDB_DBS_FULL`: the environment's maximum number of named databases was reached.
    case databasesFull
    /// `MDB_READERS_FULL`: the environment's maximum number of readers was reached.
    case readersFull
    /// `MDB_TLS_FULL`: too many thread-local-storage keys are in use.
    case tlsFull
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
    case transactionFull
    /// `MDB_CURSOR_FULL`: the cursor stack is too deep (internal error).
    case cursorFull
    /// `MDB_PAGE_FULL`: a page has not enough space (internal error).
    case pageFull
    /// `MDB_MAP_RESIZED`: another process grew the map beyond this one's size.
    case mapResized
    /// `MDB_INCOMPATIBLE`: the operation is incompatible with the database or its flags.
    case incompatible
    /// `MDB_BAD_RSLOT`: a reader lock table slot was reused incorrectly.
    case badReaderSlot
    /// `MDB_BAD_TXN`: the transaction must abort, has a child, or is invalid.
    case badTransaction
    /// `MDB_BAD_VALSIZE`: a key or value has an unsupported size.
    case badValueSize
    /// `MDB_BAD_DBI`: the database handle was changed unexpectedly.
    case badDatabaseHandle
    /// `ENOENT`: the directory does not exist.
    case noSuchFile
    /// `EACCES`: permission denied.
    case permissionDenied
    /// `EAGAIN`: the environment is locked by another process.
    case tryAgain
    /// `ENOMEM`: out of memory (also: address space for the map).
    case outOfMemory
    /// `ENOSPC`: no space left on the device.
    case noSpace
    /// `EIO`: an input/output error.
    case ioError
    /// `EINVAL`: an invalid parameter.
    case invalidArgument
    /// `EROFS`: the file system is read-only.
    case readOnlyFileSystem
    /// `EBUSY`: the resource is busy.
    case busy
    /// Any other `errno` value.
    case errno(Int32)
    /// Any other negative code that liblmdb does not define.
    case unknown(Int32)
    /// This layer: a transaction was used after its closure returned.
    case transactionEnded
    /// This layer: `write` was called from inside a `write` closure.
    case nestedWrite
    /// This layer: the file system holding the environment in `path` has no room left
    /// (`ENOSPC`, `EDQUOT`). Nothing of the failed operation was written.
    case storageFull(path: String)
    /// This layer: the data file of the environment in `path` is truncated or damaged
    /// (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`, `MDB_INVALID`, or a failed page check); `reason`
    /// says what was found where.
    case damaged(path: String, reason: String)
    /// This layer: the environment in `path` could be opened for reading only (its files or
    /// file system are not writable by this process), and a write was asked for.
    case readOnly(path: String)
    /// This layer: `path` exists but is not a directory, so it cannot hold an environment.
    case notADirectory(path: String)

    /// Maps a raw return code of an `mdb_*` call (never `MDB_SUCCESS`).
    init(code: Int32) {
        switch code {
        case MDB_KEYEXIST: self = .keyExists
        case MDB_NOTFOUND: self = .notFound
        case MDB_PAGE_NOTFOUND: self = .pageNotFound
        case MDB_CORRUPTED: self = .corrupted
        case MDB_PANIC: self = .panic
        case MDB_VERSION_MISMATCH: self = .versionMismatch
        case MDB_INVALID: self = .invalid
        case MDB_MAP_FULL: self = .mapFull
        case MDB_DBS_FULL: self = .databasesFull
        case MDB_READERS_FULL: self = .readersFull
        case MDB_TLS_FULL: self = .tlsFull
        case MDB_TXN_FULL: self = .transactionFull
        case MDB_CURSOR_FULL: self = .cursorFull
        case MDB_PAGE_FULL: self = .pageFull
        case MDB_MAP_RESIZED: self = .mapResized
        case MDB_INCOMPATIBLE: self = .incompatible
        case MDB_BAD_RSLOT: self = .badReaderSlot
        case MDB_BAD_TXN: self = .badTransaction
        case MDB_BAD_VALSIZE: self = .badValueSize
        case MDB_BAD_DBI: self = .badDatabaseHandle
        case ENOENT: self = .noSuchFile
        case EACCES: self = .permissionDenied
        case EAGAIN: self = .tryAgain
        case ENOMEM: self = .outOfMemory
        case ENOSPC: self = .noSpace
        case EIO: self = .ioError
        case EINVAL: self = .invalidArgument
        case EROFS: self = .readOnlyFileSystem
        case EBUSY: self = .busy
        case let other where other > 0: self = .errno(other)
        default: self = .unknown(code)
        }
    }

    /// The raw code this error stands for; `nil` for this layer's own errors.
    public var code: Int32? {
        switch self {
        case .keyExists: MDB_KEYEXIST
        case .notFound: MDB_NOTFOUND
        case .pageNotFound: MDB_PAGE_NOTFOUND
        case .corrupted: MDB_CORRUPTED
        case .panic: MDB_PANIC
        case .versionMismatch: MDB_VERSION_MISMATCH
        case .invalid: MDB_INVALID
        case .mapFull: MDB_MAP_FULL
        case .databasesFull: MDB_DBS_FULL
        case .readersFull: MDB_READERS_FULL
        case .tlsFull: MDB_TLS_FULL
        case .transactionFull: MDB_TXN_FULL
        case .cursorFull: MDB_CURSOR_FULL
        case .pageFull: MDB_PAGE_FULL
        case .mapResized: MDB_MAP_RESIZED
        case .incompatible: MDB_INCOMPATIBLE
        case .badReaderSlot: MDB_BAD_RSLOT
        case .badTransaction: MDB_BAD_TXN
        case .badValueSize: MDB_BAD_VALSIZE
        case .badDatabaseHandle: MDB_BAD_DBI
        case .noSuchFile: ENOENT
        case .permissionDenied: EACCES
        case .tryAgain: EAGAIN
        case .outOfMemory: ENOMEM
        case .noSpace: ENOSPC
        case .ioError: EIO
        case .invalidArgument: EINVAL
        case .readOnlyFileSystem: EROFS
        case .busy: EBUSY
        case .errno(let code), .unknown(let code): code
        case .storageFull: ENOSPC
        case .damaged: MDB_CORRUPTED
        case .readOnly: EACCES
        case .notADirectory: ENOTDIR
        case .transactionEnded, .nestedWrite: nil
        }
    }

    /// The C name of the code this error stands for (`MDB_READERS_FULL`, `EIO`), or of this
    /// layer's own error; for reports that name what failed without parsing ``description``.
    public var name: String {
        switch self {
        case .keyExists: "MDB_KEYEXIST"
        case .notFound: "MDB_NOTFOUND"
        case .pageNotFound: "MDB_PAGE_NOTFOUND"
        case .corrupted: "MDB_CORRUPTED"
        case .panic: "MDB_PANIC"
        case .versionMismatch: "MDB_VERSION_MISMATCH"
        case .invalid: "MDB_INVALID"
        case .mapFull: "MDB_MAP_FULL"
        case .databasesFull: "MDB_DBS_FULL"
        case .readersFull: "MDB_READERS_FULL"
        case .tlsFull: "MDB_TLS_FULL"
        case .transactionFull: "MDB_TXN_FULL"
        case .cursorFull: "MDB_CURSOR_FULL"
        case .pageFull: "MDB_PAGE_FULL"
        case .mapResized: "MDB_MAP_RESIZED"
        case .incompatible: "MDB_INCOMPATIBLE"
        case .badReaderSlot: "MDB_BAD_RSLOT"
        case .badTransaction: "MDB_BAD_TXN"
        case .badValueSize: "MDB_BAD_VALSIZE"
        case .badDatabaseHandle: "MDB_BAD_DBI"
        case .noSuchFile: "ENOENT"
        case .permissionDenied, .readOnly: "EACCES"
        case .tryAgain: "EAGAIN"
        case .outOfMemory: "ENOMEM"
        case .noSpace, .storageFull: "ENOSPC"
        case .ioError: "EIO"
        case .invalidArgument: "EINVAL"
        case .readOnlyFileSystem: "EROFS"
        case .busy: "EBUSY"
        case .errno(let code): "errno \(code)"
        case .unknown(let code): "LMDB code \(code)"
        case .transactionEnded: "transactionEnded"
        case .nestedWrite: "nestedWrite"
        case .damaged: "MDB_CORRUPTED"
        case .notADirectory: "ENOTDIR"
        }
    }

    public var description: String {
        switch self {
        case .transactionEnded: "LMDB: a transaction was used after its closure returned"
        case .nestedWrite: "LMDB: write() called inside a write transaction"
        case .storageFull(let path): "no space left on the file system of \(path)"
        case .damaged(let path, let reason): "the data file of \(path) is damaged: \(reason)"
        case .readOnly(let path): "\(path) is read-only for this process"
        case .notADirectory(let path): "\(path) is not a directory"
        default: "LMDB: " + String(cString: mdb_strerror(code ?? 0))
        }
    }
}

extension LMDBError {
    /// This error with the environment in `path` attached where it is a fault of the store
    /// rather than of the call: no space, a damaged file, a write refused by the file system.
    func located(in path: String) -> LMDBError {
        switch self {
        case .noSpace, .errno(EDQUOT): .storageFull(path: path)
        // LMDB reports a short write (the disk filled part-way through) as EIO.
        case .ioError where Self.fileSystemIsFull(path): .storageFull(path: path)
        case .corrupted, .pageNotFound, .invalid: .damaged(path: path, reason: description)
        case .readOnlyFileSystem: .readOnly(path: path)
        default: self
        }
    }
}

extension LMDBError {
    /// Whether the file system holding `path` has (next to) no block left for this process.
    static func fileSystemIsFull(_ path: String) -> Bool {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { return false }
        let free = geteuid() == 0 ? status.f_bfree : status.f_bavail
        return free < 16
    }
}

/// Throws the mapped error unless `code` is `MDB_SUCCESS`.
@inline(__always)
func check(_ code: Int32) throws(LMDBError) {
    if code != MDB_SUCCESS { throw LMDBError(code: code) }
}
