import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key and value copied out of the database.
public struct Entry: Hashable, Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
}

/// A read-only snapshot, valid only inside the closure of ``Environment/read(_:)``
/// (or `Environment.write(_:)`, whose ``WriteTransaction`` is also one).
///
/// Every value it returns is a copy, so it stays valid after the transaction ends.
/// Using the transaction after its closure returned throws ``LMDBError/transactionEnded``.
/// Not thread-safe: use it only from the closure that received it.
public class ReadTransaction {
    private(set) var pointer: OpaquePointer?
    /// Cursors still open, so that `end()` can close them. A closed cursor leaves the list:
    /// a long scan that opens and closes a cursor per step must not keep them all.
    private(set) var cursors: [Cursor] = []
    /// At most one open, unused cursor per database (by handle, a small integer), for
    /// ``withCursor(_:_:)``.
    private var idleCursors: [Cursor?] = []
    /// Cursor positioning operations performed so far (for tests that check how much
    /// work a query does, independent of machine speed).
    public private(set) var cursorOperations = 0

    init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Set while a child transaction is open: LMDB forbids using the parent meanwhile.
    var suspended = false

    func live() throws(LMDBError) -> OpaquePointer {
        guard let pointer else { throw .transactionEnded }
        guard !suspended else { throw .badTransaction }
        return pointer
    }

    /// Closes cursors and forgets the handle; called just before commit or abort.
    func end() {
        idleCursors.removeAll()
        for cursor in cursors { cursor.close() }
        cursors.removeAll()
        pointer = nil
    }

    func countCursorOperation() { cursorOperations += 1 }

    /// Called by a cursor that closed itself. Cursors are usually closed in reverse order of
    /// opening, so the search from the end finds them at once.
    func forget(_ cursor: Cursor) {
        if let index = cursors.lastIndex(where: { $0 === cursor }) { cursors.remove(at: index) }
    }

    /// The value stored under `key`, or `nil`.
    public func get(_ db: Database, key: [UInt8]) throws -> [UInt8]? {
        try withValue(db, key: key) { Array($0) }
    }

    /// Calls `body` with the bytes stored under `key` without copying them, or returns `nil`.
    /// The buffer is valid only during `body`.
    public func withValue<R>(_ db: Database, key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        let txn = try live()
        return try key.withUnsafeBytes { keyBytes -> R? in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            var v = MDB_val()
            let rc = mdb_get(txn, db.handle, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc)
            return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
        }
    }

    /// The number of entries (key/value pairs) in `db`.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(try live(), db.handle, &stat))
        return stat.ms_entries
    }

    /// A cursor over `db`, valid until the transaction ends.
    public func cursor(_ db: Database) throws -> Cursor {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(try live(), db.handle, &cursor))
        let wrapped = Cursor(pointer: cursor!, transaction: self)
        cursors.append(wrapped)
        return wrapped
    }

    /// Calls `body` with a cursor on `db` that is reused by later calls in this transaction
    /// (opening a cursor per read was a measurable share of a command). `body` must not keep
    /// the cursor; its position on entry is undefined. Nested calls get a cursor each.
    public func withCursor<R>(_ db: Database, _ body: (Cursor) throws -> R) throws -> R {
        let slot = Int(db.handle)
        if slot >= idleCursors.count { idleCursors += Array(repeating: nil, count: slot + 1 - idleCursors.count) }
        let cursor = try idleCursors[slot].take() ?? self.cursor(db)
        defer {
            if idleCursors[slot] == nil { idleCursors[slot] = cursor } else { cursor.close() }
        }
        return try body(cursor)
    }

    /// Visits the entries whose key starts with `prefix`, in key order (or reverse),
    /// until `body` returns `false`.
    public func forEach(
        _ db: Database,
        prefix: [UInt8],
        reverse: Bool = false,
        _ body: (Entry) throws -> Bool
    ) throws {
        try withCursor(db) { cursor in try forEach(cursor, prefix: prefix, reverse: reverse, body) }
    }

    /// Visits the entries whose key starts with `prefix`, in key order, until `body` returns
    /// `false`, without copying them: `key` and `value` point into the map and are valid only
    /// during the call. For scans that decode many small entries.
    public func forEachInPlace(
        _ db: Database,
        prefix: [UInt8],
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try withCursor(db) { cursor in
            var position = try prefix.isEmpty ? cursor.move(MDB_FIRST) : cursor.move(MDB_SET_RANGE, key: prefix)
            while let (k, v) = position {
                let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
                guard key.starts(with: prefix),
                      try body(key, UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)) else { return }
                position = try cursor.move(MDB_NEXT)
            }
        }
    }

    /// The first key, in key order, at which `db` here and `otherDB` in `other` differ: a key
    /// only one side has, or the same key with different values; nil when they are equal.
    /// Compares in place, without copying entries (for whole-database comparisons).
    public func firstDifference(_ db: Database, comparedWith other: ReadTransaction, _ otherDB: Database) throws -> [UInt8]? {
        try withCursor(db) { left in
            try other.withCursor(otherDB) { right in
                var l = try left.move(MDB_FIRST)
                var r = try right.move(MDB_FIRST)
                while true {
                    switch (l, r) {
                    case (nil, nil):
                        return nil
                    case (let x?, nil):
                        return Array(x.key.bytes)
                    case (nil, let y?):
                        return Array(y.key.bytes)
                    case (var x?, var y?):
                        // Keys in the database's own order (both are compared by the same rule).
                        let order = mdb_cmp(try live(), db.handle, &x.key, &y.key)
                        guard order == 0 else { return Array(order < 0 ? x.key.bytes : y.key.bytes) }
                        guard x.value.mv_size == y.value.mv_size,
                              x.value.mv_size == 0 || memcmp(x.value.mv_data, y.value.mv_data, x.value.mv_size) == 0
                        else { return Array(x.key.bytes) }
                    }
                    l = try left.move(MDB_NEXT)
                    r = try right.move(MDB_NEXT)
                }
            }
        }
    }

    private func forEach(_ cursor: Cursor, prefix: [UInt8], reverse: Bool, _ body: (Entry) throws -> Bool) throws {
        var entry: Entry?
        if reverse {
            entry = try prefix.isEmpty ? cursor.last() : cursor.lastEntry(before: prefixUpperBound(prefix))
        } else {
            entry = try cursor.seek(atLeast: prefix)
        }
        while let current = entry, current.key.starts(with: prefix) {
            guard try body(current) else { return }
            entry = try reverse ? cursor.previous() : cursor.next()
        }
    }

    /// Visits the entries with `start <= key < end` (`nil` meaning unbounded), in key order
    /// or reverse, until `body` returns `false`.
    public func forEach(
        _ db: Database,
        from start: [UInt8]?,
        upTo end: [UInt8]?,
        reverse: Bool = false,
        _ body: (Entry) throws -> Bool
    ) throws {
        try withCursor(db) { cursor in try forEach(cursor, from: start, upTo: end, reverse: reverse, body) }
    }

    private func forEach(_ cursor: Cursor, from start: [UInt8]?, upTo end: [UInt8]?, reverse: Bool, _ body: (Entry) throws -> Bool) throws {
        var entry: Entry?
        if reverse {
            if let end {
                entry = try cursor.lastEntry(before: end)
            } else {
                entry = try cursor.last()
            }
        } else {
            entry = try start.map { try cursor.seek(atLeast: $0) } ?? cursor.first()
        }
        while let current = entry {
            if let start, current.key < start { return }
            if let end, current.key >= end { return }
            guard try body(current) else { return }
            entry = try reverse ? cursor.previous() : cursor.next()
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`, or `prefix`
/// itself followed by 0xFF… when no such key exists (all bytes 0xFF).
private func prefixUpperBound(_ prefix: [UInt8]) -> [UInt8] {
    var bound = prefix
    while let last = bound.last {
        if last < 0xFF {
            bound[bound.count - 1] = last + 1
            return bound
        }
        bound.removeLast()
    }
    return prefix + [UInt8](repeating: 0xFF, count: 512)
}

extension MDB_val {
    /// The bytes this value points at (in the map: valid until the transaction moves on).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mv_data, count: mv_size) }
}

extension [UInt8] {
    static func < (lhs: [UInt8], rhs: [UInt8]) -> Bool { lhs.lexicographicallyPrecedes(rhs) }
    static func >= (lhs: [UInt8], rhs: [UInt8]) -> Bool { !(lhs < rhs) }
}

/// Flags for ``WriteTransaction/put(_:key:value:flags:)``.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with ``LMDBError/keyExists`` if the key is present (`MDB_NOOVERWRITE`).
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// The key is greater than every key present: append without a search (`MDB_APPEND`).
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
}

/// A write transaction, valid only inside the closure of `Environment.write(_:)`.
public final class WriteTransaction: ReadTransaction {
    /// Set when LMDB reported `MDB_MAP_FULL`; the environment then grows the map and retries.
    private(set) var mapFull = false
    /// Write calls attempted so far (failed ones too: LMDB may have touched pages first),
    /// so that a ``step(_:)`` can tell whether it wrote before it threw.
    private var writeCalls = 0
    /// Set when a ``step(_:)`` threw after writing; the environment then aborts and runs
    /// the transaction again with ``isolatesSteps``.
    private(set) var stepFailedAfterWriting = false
    /// Whether ``step(_:)`` runs its body in a child transaction (set by the environment
    /// for the second run after a step threw after writing).
    var isolatesSteps = false

    /// Runs `body` as one all-or-nothing step of this transaction: if it throws, nothing
    /// it wrote stays and the transaction goes on. This is how several commands share one
    /// commit (and one sync) and still each stay atomic.
    ///
    /// A child transaction (``nested(_:)``) copies every page a step touches, so a step
    /// runs directly in this transaction. A step that throws before writing needs nothing
    /// undone; one that throws after writing (rare: commands validate first) makes the
    /// environment abort and run the whole transaction again with every step in a child
    /// transaction, so the body passed to the environment must be repeatable.
    /// - Throws: what `body` throws; ``LMDBError/badTransaction`` without running `body`
    ///   once an earlier step threw after writing (the transaction is run again anyway).
    public func step<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        if isolatesSteps { return try nested(body) }
        guard !stepFailedAfterWriting else { throw LMDBError.badTransaction }
        let before = writeCalls
        do {
            return try body(self)
        } catch {
            if writeCalls != before { stepFailedAfterWriting = true }
            throw error
        }
    }

    /// Runs `body` in a child transaction (`mdb_txn_begin` with this one as parent):
    /// its writes join this transaction if `body` returns and vanish if it throws, while
    /// this transaction goes on either way. ``step(_:)`` is the cheaper way to the same end.
    /// - Throws: what `body` throws, or ``LMDBError``.
    public func nested<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        let parent = try live()
        var child: OpaquePointer?
        let begin = mdb_txn_begin(mdb_txn_env(parent), parent, 0, &child)
        if begin == MDB_MAP_FULL { mapFull = true }
        try check(begin)
        let transaction = WriteTransaction(pointer: child!)
        suspended = true
        defer { suspended = false }
        let result: T
        do {
            result = try body(transaction)
        } catch {
            transaction.end()
            mdb_txn_abort(child)
            if transaction.mapFull { mapFull = true }
            throw error
        }
        transaction.end()
        if transaction.mapFull {
            mdb_txn_abort(child)
            mapFull = true
            throw LMDBError.mapFull
        }
        let commit = mdb_txn_commit(child)
        if commit == MDB_MAP_FULL { mapFull = true }
        try check(commit)
        return result
    }

    /// Stores `value` under `key`.
    /// - Throws: ``LMDBError/keyExists`` under ``PutFlags/noOverwrite``, ``LMDBError/badValueSize``
    ///   for an empty or too long key, ``LMDBError/mapFull`` (handled by the environment).
    public func put(_ db: Database, key: [UInt8], value: [UInt8], flags: PutFlags = []) throws {
        let txn = try live()
        writeCalls += 1
        let rc = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var v = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return mdb_put(txn, db.handle, &k, &v, flags.rawValue)
            }
        }
        if rc == MDB_MAP_FULL { mapFull = true }
        try check(rc)
    }

    /// Deletes `key`.
    /// - Returns: whether anything was deleted.
    @discardableResult
    public func delete(_ db: Database, key: [UInt8]) throws -> Bool {
        let txn = try live()
        writeCalls += 1
        let rc = key.withUnsafeBytes { keyBytes -> Int32 in
            var k = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_del(txn, db.handle, &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        if rc == MDB_MAP_FULL { mapFull = true }
        try check(rc)
        return true
    }

    /// Removes every entry of `db`, keeping the database.
    public func clear(_ db: Database) throws {
        let txn = try live()
        writeCalls += 1
        try check(mdb_drop(txn, db.handle, 0))
    }
}
