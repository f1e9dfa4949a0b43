import CLMDB
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An open LMDB environment: one directory holding named databases.
///
/// There is at most one `Environment` per directory per process (LMDB forbids
/// opening the same environment twice in one process); ``open(path:configuration:)``
/// hands back the instance that is already open.
///
/// ```swift
/// let env = try Environment.open(path: dir, configuration: .init(databases: [.init("log")]))
/// let log = try env.database("log")
/// try env.write { txn in try txn.put(log, key: [1], value: [42]) }
/// let value = try env.read { txn in try txn.get(log, key: [1]) }
/// ```
///
/// Thread safety: `read` may be called from any thread or task at once; every
/// `write` runs on the environment's single writer thread, one at a time.
public final class Environment: @unchecked Sendable {
    /// How much a crash may lose.
    public enum Durability: Sendable, Hashable {
        /// Every committed write transaction is flushed to disk before `write` returns.
        case full
        /// Commits are not flushed (`MDB_NOSYNC`): a crash of the process loses nothing,
        /// but a crash of the operating system or a power loss may lose the most recent
        /// commits (never corrupting the store: it reopens at an earlier commit).
        case noSync
    }

    /// A named database to open or create.
    /// Keys are unique (no `MDB_DUPSORT`): nothing in the store keeps several values under one key.
    public struct DatabaseSpec: Sendable, Hashable {
        public var name: String
        public init(_ name: String) {
            self.name = name
        }
    }

    /// Options for ``open(path:configuration:)``.
    public struct Configuration: Sendable {
        public var databases: [DatabaseSpec]
        /// The first map size; the map grows by itself when it fills.
        public var initialMapSize: Int
        public var maxReaders: UInt32
        public var durability: Durability
        public init(
            databases: [DatabaseSpec],
            initialMapSize: Int = 64 << 20,
            maxReaders: UInt32 = 1024,
            durability: Durability = .full
        ) {
            self.databases = databases
            self.initialMapSize = initialMapSize
            self.maxReaders = maxReaders
            self.durability = durability
        }
    }

    /// The directory, as resolved when it was opened.
    public let path: String
    /// Whether the environment could only be opened for reading: its files or file system
    /// are not writable by this process. Reads work; every `write` throws
    /// ``LMDBError/readOnly(path:)``.
    public let isReadOnly: Bool
    /// The number of stale reader slots `mdb_reader_check` cleared when this environment opened.
    public let staleReadersCleared: Int

    let handle: OpaquePointer
    private let databases: Mutex<[String: Database]>
    private let writer = WriterThread()
    /// Read transactions hold this shared; changing the map size holds it exclusively,
    /// because `mdb_env_set_mapsize` requires that no transaction of this process is open.
    private let mapLock = ReadWriteLock()

    /// The environment open in each directory. An entry outlives its environment's last
    /// reference until `mdb_env_close` has returned (its `environment` reads `nil` meanwhile):
    /// a second LMDB handle opened on the same files before that would share, and then lose,
    /// the first one's locks and reader slots, because closing any descriptor of the lock
    /// file drops every POSIX lock this process holds on it.
    private static let registry = Mutex<[String: WeakEnvironment]>([:])

    /// Points where tests widen a race, each called with the directory; nil outside tests.
    struct TestingHooks: Sendable {
        /// Just before the environment closes.
        var beforeClose: (@Sendable (String) -> Void)?
        /// On the writer thread, after each caller of a group was resumed.
        var afterCallerResumed: (@Sendable (String) -> Void)?
    }
    static let testingHooks = Mutex(TestingHooks())

    /// Grouped writes waiting for the writer, and whether a drain is already queued.
    private let pendingGroup = Mutex<(jobs: [GroupedJob], drainScheduled: Bool)>(([], false))

    /// Whether this process still holds an environment open in directory `path`
    /// (code that replaces the directory must not leave one behind pointing at the old files).
    public static func isOpen(path: String) -> Bool {
        withSettledRegistry(resolving: path) { registry, resolved in registry[resolved] != nil }
    }

    /// Opens (creating if needed) the environment in directory `path`, or returns the
    /// one this process already has open there. An environment whose files this process
    /// cannot write is opened read-only (``isReadOnly``). Before LMDB reads any page, the data
    /// file is checked to hold every page in use, and the catalog of named databases and their
    /// root pages to be sound (``checkPages()`` checks every page).
    /// - Throws: ``LMDBError/notADirectory(path:)``; ``LMDBError/damaged(path:reason:)`` for a
    ///   truncated or damaged data file; ``LMDBError/storageFull(path:)``; ``LMDBError/readOnly(path:)``
    ///   when a new environment cannot be created; another ``LMDBError`` if it cannot be opened.
    public static func open(path: String, configuration: Configuration) throws -> Environment {
        try createDirectory(path)
        let env = try withSettledRegistry(resolving: path) { registry, resolved -> Environment in
            if let existing = registry[resolved]?.environment { return existing }
            let env = try Environment(resolvedPath: resolved, configuration: configuration)
            registry[resolved] = WeakEnvironment(environment: env)
            return env
        }
        try env.openDatabases(configuration.databases)
        return env
    }

    /// Runs `body` on the registry once no environment in `path` is still closing.
    private static func withSettledRegistry<T>(
        resolving path: String,
        _ body: (inout [String: WeakEnvironment], String) throws -> T
    ) rethrows -> T {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
        while true {
            // Loading the weak reference makes a strong one. It must be released after the
            // lock: if it is the last, `deinit` runs right there and takes the lock itself.
            var loaded: Environment?
            let settled = try registry.withLock { registry -> T? in
                if let entry = registry[resolved] {
                    loaded = entry.environment
                    if loaded == nil { return nil }
                }
                return try body(&registry, resolved)
            }
            withExtendedLifetime(loaded) {}
            if let settled { return settled }
            // The last reference was dropped on another thread, which is closing it now.
            usleep(100)
        }
    }

    private init(resolvedPath: String, configuration: Configuration) throws {
        let (env, readOnly) = try Self.openHandle(resolvedPath, configuration)
        do {
            try Self.checkAtOpen(env, path: resolvedPath)
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead))
            staleReadersCleared = Int(dead)
        } catch {
            mdb_env_close(env)
            throw error.located(in: resolvedPath)
        }
        mdb_env_set_assert(env, reportAssertion)
        handle = env
        path = resolvedPath
        isReadOnly = readOnly
        databases = Mutex([:])
    }

    /// Opens the environment for writing, or for reading only when this process may not write
    /// its files; removes what a failed first open created.
    private static func openHandle(_ path: String, _ configuration: Configuration) throws(LMDBError) -> (OpaquePointer, readOnly: Bool) {
        let files = EnvironmentFiles(directory: path)
        let failure: LMDBError
        do {
            try files.reserveLockFile(maxReaders: configuration.maxReaders)
            return (try openHandle(path, configuration, readOnly: false), false)
        } catch {
            failure = error
        }
        files.removeCreated()
        guard failure == .permissionDenied || failure == .readOnlyFileSystem else { throw failure.located(in: path) }
        do {
            return (try openHandle(path, configuration, readOnly: true), true)
        } catch .noSuchFile {
            throw .readOnly(path: path) // no store to read, and none can be created
        } catch {
            throw error.located(in: path)
        }
    }

    /// `mdb_env_create` and `mdb_env_open`; read-only without a lock file when this process
    /// cannot write one (LMDB then keeps no reader table: see docs on read-only stores).
    private static func openHandle(_ path: String, _ configuration: Configuration, readOnly: Bool) throws(LMDBError) -> OpaquePointer {
        var env: OpaquePointer?
        try check(mdb_env_create(&env))
        guard let env else { throw LMDBError.invalid }
        do {
            try check(mdb_env_set_maxdbs(env, 64))
            try check(mdb_env_set_maxreaders(env, configuration.maxReaders))
            try check(mdb_env_set_mapsize(env, configuration.initialMapSize))
            var flags = UInt32(MDB_NOTLS)
            if configuration.durability == .noSync { flags |= UInt32(MDB_NOSYNC) }
            if readOnly {
                flags |= UInt32(MDB_RDONLY)
                if !EnvironmentFiles(directory: path).lockFileWritable { flags |= UInt32(MDB_NOLOCK) }
            }
            try check(mdb_env_open(env, path, flags, 0o644))
            return env
        } catch {
            mdb_env_close(env)
            throw error
        }
    }

    /// Checks, before LMDB reads a page through the map, that the data file holds every page
    /// in use and that the catalog of databases is sound (a truncated file would be a `SIGBUS`,
    /// a damaged catalog page an assertion failure). Holds a read transaction meanwhile.
    private static func checkAtOpen(_ env: OpaquePointer, path: String) throws(LMDBError) {
        var txn: OpaquePointer?
        var rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        if rc == MDB_MAP_RESIZED {
            try check(mdb_env_set_mapsize(env, 0))
            rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        }
        try check(rc)
        defer { mdb_txn_abort(txn) }
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd))
        var checker = PageChecker(fd: fd, path: path)
        try checker.check(.catalog)
    }

    /// Creates directory `path` (and its parents) unless it exists.
    private static func createDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw LMDBError.notADirectory(path: path) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Foundation's error seldom keeps the errno; the first ancestor that exists tells.
            var ancestor = PathName.parent(of: path)
            while !FileManager.default.fileExists(atPath: ancestor), PathName.parent(of: ancestor) != ancestor {
                ancestor = PathName.parent(of: ancestor)
            }
            if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw LMDBError.notADirectory(path: ancestor)
            }
            if access(ancestor, W_OK) != 0 { throw LMDBError.readOnly(path: path) }
            switch (error as? CocoaError)?.code {
            case .fileWriteOutOfSpace?: throw LMDBError.storageFull(path: path)
            case .fileWriteNoPermission?, .fileWriteVolumeReadOnly?: throw LMDBError.readOnly(path: path)
            default: throw error
            }
        }
    }

    deinit {
        writer.stop()
        Environment.testingHooks.withLock { $0.beforeClose }?(path)
        mdb_env_close(handle)
        _ = Environment.registry.withLock { $0.removeValue(forKey: path) }
    }

    private func openDatabases(_ specs: [DatabaseSpec]) throws {
        let missing = databases.withLock { open in specs.filter { open[$0.name] == nil } }
        guard !missing.isEmpty else { return }
        func open(_ txn: ReadTransaction) throws -> [Database] {
            try missing.map { spec in
                var dbi = MDB_dbi()
                let flags = isReadOnly ? 0 : UInt32(MDB_CREATE)
                let rc = mdb_dbi_open(txn.pointer, spec.name, flags, &dbi)
                // A database that is not there cannot be created in a read-only environment.
                if rc == MDB_NOTFOUND, isReadOnly { throw LMDBError.readOnly(path: path) }
                try check(rc)
                return Database(name: spec.name, handle: dbi)
            }
        }
        let opened: [Database]
        if isReadOnly {
            // The handles of a read transaction join the environment when it commits.
            var txn: OpaquePointer?
            try check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn))
            let transaction = ReadTransaction(pointer: txn!)
            do {
                opened = try open(transaction)
            } catch {
                transaction.end()
                mdb_txn_abort(txn)
                throw error
            }
            transaction.end()
            try check(mdb_txn_commit(txn))
        } else {
            opened = try write { txn in try open(txn) }
        }
        databases.withLock { open in
            for db in opened { open[db.name] = db }
        }
    }

    /// The named database opened with the environment.
    /// - Throws: ``LMDBError/notFound`` if it was not among the configuration's databases.
    public func database(_ name: String) throws -> Database {
        guard let db = databases.withLock({ $0[name] }) else { throw LMDBError.notFound }
        return db
    }

    /// The current size of the memory map in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// The ID of the last committed write transaction: unchanged means nothing was written.
    public var lastTransactionID: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_last_txnid
    }

    /// Drops this process's resident copies of the memory map's pages (`madvise(MADV_DONTNEED)`).
    ///
    /// LMDB maps the data file read-only and writes with `pwrite`, so the pages are clean
    /// file pages: dropping them loses nothing, and the next read faults them back in from
    /// the page cache. A long bulk load calls this now and then so that its resident memory
    /// stays flat instead of growing with the size of the store it touched.
    public func releaseMappedPages() {
        // liblmdb does not expose the map's address (`me_mapaddr` is set only with
        // MDB_FIXEDMAP), so find the mapping of data.mdb in /proc/self/maps (Linux).
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return }
        let dataFile = path + "/data.mdb"
        for line in maps.split(separator: "\n") where line.hasSuffix(dataFile) {
            let range = line.prefix { $0 != " " }.split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                  let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            _ = madvise(address, Int(end - start), MADV_DONTNEED)
        }
    }

    /// Flushes the data buffers to disk (useful after writes in ``Durability/noSync`` mode).
    public func sync() throws {
        if isReadOnly { return }
        do { try check(mdb_env_sync(handle, 1)) } catch { throw error.located(in: path) }
    }

    /// Checks every page reachable from the data file's two meta pages, reading the file with
    /// `pread` rather than through the map, from one snapshot (so it may run while others write).
    /// A damaged page makes LMDB fail an assertion (which ends the process) or read outside
    /// the file; run this before reading a store that may be damaged all through.
    /// - Throws: ``LMDBError/damaged(path:reason:)`` naming the first bad page and its database.
    public func checkPages() throws {
        try read { _ in
            var fd: Int32 = -1
            try check(mdb_env_get_fd(handle, &fd))
            var checker = PageChecker(fd: fd, path: path)
            try checker.check(.everything)
        }
    }

    /// Writes a copy of the environment into `directory` (which must exist and hold no
    /// `data.mdb`) from one read transaction: the copy is consistent, and it may be taken while
    /// writers commit, in this process or others. A compacting copy leaves out the free pages
    /// (which still hold the bytes they held when they were in use) and renumbers the rest,
    /// so it is as small as the data it holds.
    ///
    /// ```swift
    /// try env.copy(to: "/backups/monday")   // /backups/monday/data.mdb
    /// ```
    ///
    /// The copy is not flushed to disk: the caller syncs the file and the directory. A copy that
    /// fails is removed. While it runs, this process's writer cannot grow the map (a write that
    /// needs a larger map waits for it).
    /// - Throws: ``LMDBError/noSuchFile`` when `directory` does not exist; `.errno(EEXIST)` when
    ///   it already holds a `data.mdb`; ``LMDBError/storageFull(path:)`` (naming `directory`)
    ///   when its file system is full; another ``LMDBError``.
    public func copy(to directory: String, compacting: Bool = true) throws {
        let flags = compacting ? UInt32(MDB_CP_COMPACT) : 0
        let file = EnvironmentFiles(directory: directory).dataFile
        while true {
            // A transaction of this process: the map must not be resized under it.
            mapLock.lockShared()
            let rc = mdb_env_copy2(handle, directory, flags)
            mapLock.unlock()
            if rc == MDB_SUCCESS { return }
            // mdb_env_copy2 creates the file (O_EXCL) before anything else can fail: unless it
            // found one there, what is left is this call's partial copy.
            if rc != EEXIST { unlink(file) }
            if rc == MDB_MAP_RESIZED {
                try adoptResizedMap()
                continue
            }
            throw LMDBError(code: rc).located(in: directory)
        }
    }

    /// Called with the environment's directory and LMDB's message when LMDB fails an internal
    /// assertion (it found a page it cannot handle: the data file is damaged); LMDB ends the
    /// process with `abort()` when this returns, so a tool may report the damage and exit
    /// instead. Process-wide; nil (the default) leaves LMDB's own message and abort.
    public static func setAssertionHandler(_ handler: (@Sendable (_ path: String, _ message: String) -> Void)?) {
        assertionHandler.withLock { $0 = handler }
    }

    fileprivate static let assertionHandler = Mutex<(@Sendable (String, String) -> Void)?>(nil)

    // MARK: Transactions

    /// Runs `body` in a read-only snapshot. Values read are copies; the transaction
    /// ends when `body` returns and cannot be used afterwards.
    /// - Throws: what `body` throws, or ``LMDBError``.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        do { return try readLocated(body) } catch let error as LMDBError { throw error.located(in: path) }
    }

    private func readLocated<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        while true {
            mapLock.lockShared()
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
            if rc == MDB_MAP_RESIZED {
                mapLock.unlock()
                try adoptResizedMap()
                continue
            }
            defer { mapLock.unlock() }
            try check(rc)
            let transaction = ReadTransaction(pointer: txn!)
            defer {
                transaction.end()
                mdb_txn_abort(txn)
            }
            return try body(transaction)
        }
    }

    /// Runs `body` in a write transaction on the writer thread and waits for it.
    /// Commits if and only if `body` returns; a throw aborts and nothing is written.
    /// If the map fills, the transaction is aborted, the map grown and `body` run again,
    /// so `body` must not have side effects outside the transaction.
    /// - Throws: what `body` throws, ``LMDBError/nestedWrite`` when called inside a write,
    ///   or another ``LMDBError``.
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        try reportingWrite(body).value
    }

    /// Like the synchronous `write(_:)`, and says what the commit cost (``WriteReport``).
    public func reportingWrite<T>(_ body: (WriteTransaction) throws -> T) throws -> (value: T, report: WriteReport) {
        if writer.isCurrentThread { throw LMDBError.nestedWrite }
        if isReadOnly { throw LMDBError.readOnly(path: path) }
        return try withoutActuallyEscaping(body) { body in
            // The writer thread releases the submitted closure only after `done.signal()`,
            // so the closure must not retain `body` itself (withoutActuallyEscaping traps
            // if `body` is still referenced when it returns) nor `self` (the last reference
            // to the environment could then be dropped, and `deinit` run, on the writer
            // thread at an unpredictable time): `body` travels in a box that is emptied
            // before the signal, and `self` is kept alive by this caller, which waits.
            let job = UncheckedBox<((WriteTransaction) throws -> T)?>(body)
            let outcome = UncheckedBox<Result<(value: T, report: WriteReport), any Error>?>(nil)
            let done = DispatchSemaphore(value: 0)
            writer.submit { [unowned self] in
                outcome.value = Result { try self.performWrite(job.value!).reported(callers: 1) }
                job.value = nil
                done.signal()
            }
            done.wait()
            do { return try outcome.value!.get() } catch let error as LMDBError { throw error.located(in: path) }
        }
    }

    /// Like the synchronous `write(_:)` but suspends the calling task instead of blocking its thread.
    public func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await reportingWrite(body).value
    }

    /// Like the async `write(_:)`, and says what the commit cost (``WriteReport``).
    public func reportingWrite<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T
    ) async throws -> (value: T, report: WriteReport) {
        if isReadOnly { throw LMDBError.readOnly(path: path) }
        // As in the synchronous `write`: the submitted closure outlives the resumption,
        // so it holds neither `self` (kept alive by this suspended caller) nor, once the
        // transaction is done, `body` (which may capture the environment).
        let job = UncheckedBox<(@Sendable (WriteTransaction) throws -> T)?>(body)
        let path = self.path
        return try await withCheckedThrowingContinuation { continuation in
            writer.submit { [unowned self] in
                let result = Result { try self.performWrite(job.value!).reported(callers: 1) }.mapError { ($0 as? LMDBError)?.located(in: path) ?? $0 }
                job.value = nil
                continuation.resume(with: result)
            }
        }
    }

    /// Like the async `write(_:)`, but commands submitted while the writer is busy
    /// are coalesced: each runs as one ``WriteTransaction/step(_:)`` of one shared write
    /// transaction, so a failing one leaves the others intact, and the whole group costs
    /// one commit and one sync. `body` returns (or throws) its own outcome; the caller
    /// resumes only after the group's commit is durable. `body` may run more than once
    /// (see `step`), so it must not have effects outside the transaction.
    public func groupedWrite<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await reportingGroupedWrite(body).outcome.get()
    }

    /// Like `groupedWrite(_:)`, and says what the group's commit cost (``WriteReport``, the
    /// same for every caller of the group but for ``WriteReport/isFirstCaller``). Throws only
    /// when the group as a whole failed (nothing committed); this caller's own outcome,
    /// success or its error, is in `outcome`.
    public func reportingGroupedWrite<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T
    ) async throws -> (outcome: Result<T, any Error>, report: WriteReport) {
        if isReadOnly { throw LMDBError.readOnly(path: path) }
        return try await withCheckedThrowingContinuation { continuation in
            let outcome = UncheckedBox<Result<T, any Error>?>(nil)
            let job = GroupedJob(
                attempt: { txn in
                    outcome.value = Result { try txn.step(body) }
                },
                finish: { [path] result in
                    continuation.resume(with: result.map { report in
                        (outcome: outcome.value!.mapError { ($0 as? LMDBError)?.located(in: path) ?? $0 }, report: report)
                    })
                }
            )
            let scheduleDrain = pendingGroup.withLock { pending in
                pending.jobs.append(job)
                defer { pending.drainScheduled = true }
                return !pending.drainScheduled
            }
            if scheduleDrain {
                let path = self.path
                writer.submit { [unowned self] in
                    let (finishes, result) = runGroup()
                    // `self` is no longer held here: a resumed caller may drop the last
                    // reference, and the environment must then close on that caller's thread.
                    for (index, finish) in finishes.enumerated() {
                        finish(result.map { report in
                            var report = report
                            report.isFirstCaller = index == 0
                            return report
                        })
                        Environment.testingHooks.withLock { $0.afterCallerResumed }?(path)
                    }
                }
            }
        }
    }

    /// Runs every grouped job submitted so far in one write transaction (writer thread only)
    /// and returns how to resume their callers. The commands themselves (which may hold the
    /// environment) are released before.
    private func runGroup() -> (finishes: [(Result<WriteReport, any Error>) -> Void], result: Result<WriteReport, any Error>) {
        let jobs = pendingGroup.withLock { pending in
            defer {
                pending.jobs = []
                pending.drainScheduled = false
            }
            return pending.jobs
        }
        let result = Result {
            try performWrite { txn in
                for job in jobs {
                    job.attempt(txn)
                    // A full map invalidates the whole group: abort, grow, run every job again.
                    if txn.mapFull { throw LMDBError.mapFull }
                }
            }.reported(callers: jobs.count).report
        }.mapError { failure in (failure as? LMDBError)?.located(in: path) ?? failure }
        return (jobs.map(\.finish), result)
    }

    /// Runs on the writer thread only.
    private func performWrite<T>(_ body: (WriteTransaction) throws -> T) throws -> Committed<T> {
        let start = ContinuousClock.now
        var growths: [MapGrowth] = []
        var isolateSteps = false
        while true {
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, 0, &txn)
            if rc == MDB_MAP_RESIZED {
                try adoptResizedMap()
                continue
            }
            try check(rc)
            let transaction = WriteTransaction(pointer: txn!)
            transaction.isolatesSteps = isolateSteps
            let result: T
            do {
                result = try body(transaction)
            } catch {
                transaction.end()
                mdb_txn_abort(txn)
                if transaction.mapFull {
                    growths.append(try growMap())
                    continue
                }
                if transaction.stepFailedAfterWriting {
                    isolateSteps = true
                    continue
                }
                throw error
            }
            if transaction.mapFull || transaction.stepFailedAfterWriting {
                // `body` caught the error; the transaction holds writes it must not commit.
                transaction.end()
                mdb_txn_abort(txn)
                if transaction.mapFull { growths.append(try growMap()) } else { isolateSteps = true }
                continue
            }
            transaction.end()
            let commit = mdb_txn_commit(txn)
            if commit == MDB_MAP_FULL {
                growths.append(try growMap())
                continue
            }
            try check(commit)
            return Committed(value: result, duration: ContinuousClock.now - start, mapGrowths: growths)
        }
    }

    /// Doubles the map. Called on the writer thread with no write transaction open;
    /// waits until this process has no read transaction open.
    private func growMap() throws -> MapGrowth {
        mapLock.lockExclusive()
        defer { mapLock.unlock() }
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        try check(mdb_env_set_mapsize(handle, info.me_mapsize * 2))
        return MapGrowth(from: info.me_mapsize, to: info.me_mapsize * 2)
    }

    /// Another process grew the map: adopt its size (`mdb_env_set_mapsize(env, 0)`).
    private func adoptResizedMap() throws {
        mapLock.lockExclusive()
        defer { mapLock.unlock() }
        try check(mdb_env_set_mapsize(handle, 0))
    }
}

/// What one committed write transaction cost: for the caller's logs and metrics, since this
/// layer logs nothing itself.
public struct WriteReport: Sendable, Hashable {
    /// From the transaction's first begin to its commit's return (the flush included), every
    /// attempt counted; not the time spent waiting for the writer thread.
    public var duration: Duration
    /// The writes committed in the transaction: the callers of one group commit, else 1.
    public var callers: Int
    /// True for exactly one caller of each transaction, so that counting only those reports
    /// counts each commit once.
    public var isFirstCaller: Bool
    /// Each time the memory map was grown for the transaction, in order.
    public var mapGrowths: [MapGrowth]
}

/// One growth of the memory map, sizes in bytes.
public struct MapGrowth: Sendable, Hashable {
    public var from: Int
    public var to: Int
}

/// A committed write's value and what it cost, before it knows how many callers shared it.
private struct Committed<T> {
    var value: T
    var duration: Duration
    var mapGrowths: [MapGrowth]

    func reported(callers: Int) -> (value: T, report: WriteReport) {
        (value, WriteReport(duration: duration, callers: callers, isFirstCaller: true, mapGrowths: mapGrowths))
    }
}

/// A named database inside an ``Environment``.
public struct Database: Hashable, Sendable {
    public let name: String
    let handle: MDB_dbi
}

/// One command of a group commit: `attempt` runs it as a transaction step and keeps
/// its outcome; `finish` delivers it once the group committed (or the group's error).
private struct GroupedJob: @unchecked Sendable {
    let attempt: (WriteTransaction) -> Void
    let finish: (Result<WriteReport, any Error>) -> Void
}

private struct WeakEnvironment {
    weak var environment: Environment?
}

/// LMDB's assertion callback: hands the failure to ``Environment/setAssertionHandler(_:)``'s handler.
private func reportAssertion(_ env: OpaquePointer?, _ message: UnsafePointer<CChar>?) {
    var directory: UnsafePointer<CChar>?
    if let env { mdb_env_get_path(env, &directory) }
    let handler = Environment.assertionHandler.withLock { $0 }
    handler?(directory.map { String(cString: $0) } ?? "", message.map { String(cString: $0) } ?? "")
}

/// Carries a value across the writer-thread hop when the caller waits for the result.
final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
