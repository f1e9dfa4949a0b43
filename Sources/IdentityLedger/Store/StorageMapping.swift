import Foundation
import LMDB

// The one place where the storage layer's types become the engine's: its durability
// setting, and its errors, which reach the public API only as ``LedgerError``.

extension Ledger.Durability {
    /// The LMDB environment's setting for this durability.
    var environmentDurability: Environment.Durability {
        switch self {
        case .full: .full
        case .noSync: .noSync
        }
    }
}

extension Ledger {
    /// Maps any error to ``LedgerError``.
    static func wrap<T>(_ body: () throws -> T) throws(LedgerError) -> T {
        do { return try body() } catch { throw ledgerError(error) }
    }

    static func wrap<T>(_ body: () async throws -> T) async throws(LedgerError) -> T {
        do { return try await body() } catch { throw ledgerError(error) }
    }

    /// The code for any error thrown below the engine. Only a ``LedgerError`` thrown on
    /// purpose is `invalidInput`: an I/O failure is a fault of the files, by its cause.
    static func ledgerError(_ error: any Error) -> LedgerError {
        switch error {
        case let error as LedgerError: error
        case let error as LMDBError: ledgerError(error)
        // Events decode through `Event.decoding`, which names their position: a bare failure
        // is a projection's record.
        case let error as BinaryReader.Failure: .corruptProjection(reason: error.reason)
        case let error as CocoaError: fileSystemError(error)
        default: unexpected(error)
        }
    }

    /// The faults of the store itself by their own codes; any other LMDB error as `storage`,
    /// with LMDB's name, code and text.
    private static func ledgerError(_ error: LMDBError) -> LedgerError {
        switch error {
        case .storageFull(let path): .storageFull(path: path)
        case .damaged(let path, let reason): .corruptStore(path: path, reason: reason)
        case .readOnly(let path): .readOnly(path: path)
        case .notADirectory(let path): .notADirectory(path: path)
        default: .storage(StorageFailure(name: error.name, code: error.code, reason: error.description))
        }
    }

    /// A failure of Foundation's file calls (removing a scratch store, say), by its cause.
    private static func fileSystemError(_ error: CocoaError) -> LedgerError {
        let path = error.filePath ?? error.url?.path ?? "?"
        let underlying = (error.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? Int32($0.code) : nil }
        if let known = fileSystemError(path: path, errno: underlying) { return known }
        switch error.code {
        case .fileWriteOutOfSpace: return .storageFull(path: path)
        case .fileWriteNoPermission, .fileWriteVolumeReadOnly: return .readOnly(path: path)
        default: return .fileSystemError(path: path, reason: error.localizedDescription)
        }
    }

    /// An error the engine did not expect: a system call's by its cause, anything else as
    /// `storage` under its type's name. Never `invalidInput`, which says the caller's input
    /// is wrong.
    private static func unexpected(_ error: any Error) -> LedgerError {
        let bridged = error as NSError
        if bridged.domain == NSPOSIXErrorDomain,
           let known = fileSystemError(path: bridged.userInfo[NSFilePathErrorKey] as? String ?? "?", errno: Int32(bridged.code)) {
            return known
        }
        return .storage(StorageFailure(name: String(reflecting: type(of: error)), reason: "\(error)"))
    }

    /// The code for a failed system call on `path` with `errno`; nil for no errno. For any
    /// file the engine writes (the store's, an import's errors file): no space is
    /// `storageFull`, no permission `readOnly`, a file where a directory is needed
    /// `notADirectory` (naming that file), anything else `fileSystemError`.
    static func fileSystemError(path: String, errno: Int32?) -> LedgerError? {
        guard let errno else { return nil }
        switch errno {
        case ENOSPC, EDQUOT: return .storageFull(path: path)
        case EROFS, EACCES, EPERM: return .readOnly(path: path)
        case ENOTDIR: return .notADirectory(path: fileInTheWay(of: path) ?? path)
        default: return .fileSystemError(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// The nearest of `path` and its parents that exists and is not a directory: what an
    /// `ENOTDIR` for `path` met.
    private static func fileInTheWay(of path: String) -> String? {
        var candidate = path
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) {
                return isDirectory.boolValue ? nil : candidate
            }
            let parent = PathName.parent(of: candidate)
            if parent == candidate { return nil }
            candidate = parent
        }
    }
}
