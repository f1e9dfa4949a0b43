/// What a key store knows of one customer's data key.
public enum DataKeyLookup: Sendable, Hashable {
    /// The customer's data key: 32 bytes.
    case key([UInt8])
    /// The customer was erased: its key is gone for good.
    case destroyed
    /// No key was ever made for the customer. For a customer the log says exists, the key
    /// store is damaged or is another store's.
    case missing
}

/// Where a store's secrets live, apart from its log: the store secret and one data key per
/// customer.
///
/// A backup of the log without the key store cannot be read, and destroying a customer's key
/// makes what the log holds of them unreadable for good. ``FileKeyStore`` is the default.
///
/// ```swift
/// let keys = try FileKeyStore.open(directory: path, create: true)
/// try keys.makeDataKeys(for: [42])
/// if case .key(let key) = try keys.dataKey(of: 42) { /* encrypt under key */ }
/// ```
///
/// Implementations are used from many threads at once, and several processes may have the
/// same key store open.
public protocol KeyStore: Sendable {
    /// The store secret: 32 random bytes made with the key store, never changed.
    /// - Throws: a file-system error when the key store cannot be read.
    func storeSecret() throws(LedgerError) -> [UInt8]

    /// What the key store knows of `customer`'s data key, including a key another process
    /// made since this one last looked.
    /// - Throws: ``LedgerError/keyStoreDamaged(path:reason:)``, or a file-system error.
    func dataKey(of customer: CustomerID) throws(LedgerError) -> DataKeyLookup

    /// Makes a data key for each listed customer that has none; durable before it returns.
    ///
    /// A customer that has a key keeps it: a command that made a key and then failed to
    /// commit leaves a key that the next creation of that customer ID reuses.
    /// - Throws: ``LedgerError/dataKeyDestroyed(customer:)`` when a listed customer's key was
    ///   destroyed (nothing is made then, for any of them); a file-system error.
    func makeDataKeys(for customers: [CustomerID]) throws(LedgerError)

    /// Destroys the customers' keys, durably. When it returns, no file of the key store holds
    /// their key bytes any more, and lookups answer ``DataKeyLookup/destroyed`` from then on,
    /// in this process and (after their next ``refresh()``) in every other that has the key
    /// store open. Destroying a destroyed key does nothing.
    /// - Throws: a file-system error; the keys are then all kept or all destroyed.
    func destroyDataKeys(of customers: [CustomerID]) throws(LedgerError)

    /// Writes a consistent copy of the key store to the file `path`, flushed to disk, for
    /// backups kept apart from the log's.
    /// - Throws: a file-system error naming `path` or the key store.
    func backup(to path: String) throws(LedgerError)

    /// Picks up changes made by other processes (new keys, destroyed keys). Cheap when there
    /// are none (a `stat`): the engine calls it at the start of every read and write
    /// transaction.
    /// - Throws: ``LedgerError/keyStoreMissing(path:)`` when the key store was removed,
    ///   ``LedgerError/keyStoreDamaged(path:reason:)``, or a file-system error.
    func refresh() throws(LedgerError)
}
