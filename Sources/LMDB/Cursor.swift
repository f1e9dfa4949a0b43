import CLMDB

/// A position in one database of a transaction. Valid until the transaction ends
/// (or ``close()``); every entry it returns is a copy.
public final class Cursor {
    private var pointer: OpaquePointer?
    private unowned let transaction: ReadTransaction

    init(pointer: OpaquePointer, transaction: ReadTransaction) {
        self.pointer = pointer
        self.transaction = transaction
    }

    /// Releases the cursor early; the transaction closes any cursor left open.
    public func close() {
        guard let pointer else { return }
        mdb_cursor_close(pointer)
        self.pointer = nil
        transaction.forget(self)
    }

    /// Moves the cursor and returns where it landed, uncopied: the buffers point into the
    /// map and are valid only until the next operation or write in this transaction.
    func move(_ op: MDB_cursor_op, key: [UInt8]? = nil) throws -> (key: MDB_val, value: MDB_val)? {
        guard let pointer else { throw LMDBError.transactionEnded }
        _ = try transaction.live()
        transaction.countCursorOperation()
        var k = MDB_val()
        var v = MDB_val()
        let keyBytes = key ?? []
        let rc = keyBytes.withUnsafeBytes { kb in
            if key != nil { k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress)) }
            return mdb_cursor_get(pointer, &k, &v, op)
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return (k, v)
    }

    private func get(_ op: MDB_cursor_op, key: [UInt8]? = nil) throws -> Entry? {
        try move(op, key: key).map { Entry(key: Self.bytes($0.key), value: Self.bytes($0.value)) }
    }

    private static func bytes(_ value: MDB_val) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// The first entry of the database.
    public func first() throws -> Entry? { try get(MDB_FIRST) }
    /// The last entry of the database.
    public func last() throws -> Entry? { try get(MDB_LAST) }
    /// The entry after the current one.
    public func next() throws -> Entry? { try get(MDB_NEXT) }
    /// The entry before the current one.
    public func previous() throws -> Entry? { try get(MDB_PREV) }
    /// The entry at the cursor.
    public func current() throws -> Entry? { try get(MDB_GET_CURRENT) }

    /// The first entry whose key is ≥ `key`.
    public func seek(atLeast key: [UInt8]) throws -> Entry? {
        // LMDB rejects an empty search key (MDB_BAD_VALSIZE); every key is ≥ the empty one.
        if key.isEmpty { return try first() }
        return try get(MDB_SET_RANGE, key: key)
    }

    /// The last entry whose key is ≤ `key`.
    public func seek(atMost key: [UInt8]) throws -> Entry? {
        // Keys are never empty, so none is ≤ the empty key.
        if key.isEmpty { return nil }
        // The entry ≥ `key` is usually not the answer, so it is compared in place, not copied.
        guard let found = try move(MDB_SET_RANGE, key: key) else { return try last() }
        let exact = key.withUnsafeBytes { $0.elementsEqual(UnsafeRawBufferPointer(start: found.key.mv_data, count: found.key.mv_size)) }
        guard exact else { return try previous() }
        return Entry(key: key, value: Self.bytes(found.value))
    }

    /// The last entry whose key is < `key`.
    func lastEntry(before key: [UInt8]) throws -> Entry? {
        if key.isEmpty { return nil }
        guard try move(MDB_SET_RANGE, key: key) != nil else { return try last() }
        // The cursor is on the first key ≥ `key`.
        return try previous()
    }
}
