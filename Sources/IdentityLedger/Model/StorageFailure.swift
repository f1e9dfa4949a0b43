/// A failure of the storage layer below the engine that is neither a fault of the store's
/// files with a code of its own (``LedgerError/storageFull(path:)``,
/// ``LedgerError/corruptStore(path:reason:)``, ``LedgerError/readOnly(path:)``, …) nor a
/// verdict on the command: LMDB's reader table full, an I/O error, a failure the engine did
/// not expect. Carried by ``LedgerError/storage(_:)``.
///
/// ```swift
/// catch LedgerError.storage(let failure) {
///     log.error("storage: \(failure.name) \(failure.reason)") // "MDB_READERS_FULL …"
/// }
/// ```
public struct StorageFailure: Sendable, Hashable, CustomStringConvertible {
    /// The storage layer's name for the failure: an LMDB return code (`MDB_READERS_FULL`), an
    /// `errno` name (`EIO`), or the name of an error the engine did not expect.
    public var name: String
    /// The raw code (LMDB's, or an `errno`), when there is one.
    public var code: Int32?
    /// The storage layer's own text for it.
    public var reason: String

    public init(name: String, code: Int32? = nil, reason: String) {
        self.name = name
        self.code = code
        self.reason = reason
    }

    public var description: String {
        "\(reason) (\(name)\(code.map { " \($0)" } ?? ""))"
    }
}
