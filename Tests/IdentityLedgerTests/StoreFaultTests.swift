import Foundation
import Testing
@testable import IdentityLedger

/// Faults of the store's files are typed errors and exit status 1, never a signal: a full
/// disk, a truncated or damaged data file, a store this process cannot write, a path that is a file.
@Suite struct StoreFaultTests {
    static let isRoot = geteuid() == 0

    /// A store of `customers` customers with two identifiers each, written through the library.
    private func storeOf(_ customers: Int) async throws -> String {
        let ledger = try await makeLedger()
        let commands = (0..<customers).map { i in
            Command.identify(IdentifyCommand(
                identifiers: ids("email=u\(i)@example.com", "phone=+4420\(String(format: "%07d", i))"),
                access: ["email"], properties: ["name": .string(String(repeating: "x", count: 40))]))
        }
        for result in try await ledger.execute(batch: commands) { _ = try result.get() }
        return ledger.env.path
    }

    private func errorCode(_ output: CLIProcess.Output) -> String? {
        let line = output.stderr.split(separator: "\n").last.map(String.init) ?? ""
        let error = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: String]]
        return error?["error"]?["code"]
    }

    private func copyStore(_ path: String, to copy: String) throws {
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path + "/data.mdb", toPath: copy + "/data.mdb")
    }

    // MARK: Full disk

    @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
    func aFullDiskIsStorageFullLeavesNoTemporaryFilesAndKeepsEveryAcknowledgedCommand() throws {
        guard let mountPoint = try Self.mountTmpfs(size: "8m") else { return }
        defer { Self.unmount(mountPoint) }
        let store = mountPoint + "/s"
        var acknowledged: [String] = []
        for i in 0..<5 {
            let out = try CLIProcess.run(["identify", "--db", store, "--id", "email=a\(i)@example.com", "--json"])
            #expect(out.status == 0, "\(out.stderr)")
            acknowledged.append("a\(i)@example.com")
        }
        let filler = try Self.fill(mountPoint)

        for arguments in [
            ["identify", "--db", mountPoint + "/new", "--id", "email=n@example.com"],
            // Large enough to need pages the data file does not have yet (a small command may
            // fit in free pages the file already holds, and then succeeds); two properties, as
            // one is at most 64 KiB.
            ["identify", "--db", store, "--id", "email=late@example.com",
             "--prop", "note=\"\(String(repeating: "n", count: 50_000))\"", "--prop", "more=\"\(String(repeating: "m", count: 50_000))\""],
            ["verify", "--db", store], ["rebuild", "--db", store],
        ] {
            let out = try CLIProcess.run(arguments + ["--json"])
            #expect(!out.signaled && out.status == 1, "\(arguments[0]) ended with \(out.signaled ? "signal" : "status") \(out.status)")
            #expect(errorCode(out) == "storageFull", "\(arguments[0]): \(out.stderr)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: mountPoint).sorted()
        #expect(left == ["filler", "s"], "left behind: \(left)")
        // Reads work on the full disk, and every acknowledged command is there.
        let stats = try CLIProcess.run(["stats", "--db", store, "--json"])
        #expect(stats.status == 0, "\(stats.stderr)")
        try FileManager.default.removeItem(atPath: filler)
        for email in acknowledged {
            let show = try CLIProcess.run(["show", "email=\(email)", "--db", store, "--json"])
            #expect(show.status == 0 && show.stdout.contains(email), "\(email): \(show.stderr)")
        }
        let late = try CLIProcess.run(["show", "email=late@example.com", "--db", store, "--json"])
        #expect(errorCode(late) == "customerNotFound", "\(late)")
        #expect(try CLIProcess.run(["verify", "--db", store]).status == 0)
    }

    // MARK: Damaged data file

    @Test func aTruncatedDataFileIsCorruptStoreAtOpen() async throws {
        let path = try await storeOf(400)
        let copy = temporaryPath("truncated")
        try copyStore(path, to: copy)
        #expect(truncate(copy + "/data.mdb", 200_000) == 0)
        let error = await ledgerError { _ = try Ledger.open(path: copy) }
        #expect(error?.code == "corruptStore", "\(String(describing: error))")
        #expect(error?.description.contains("truncated") == true)
        for arguments in [["stats"], ["show", "1"], ["identify", "--id", "email=z@example.com"], ["verify"]] {
            let out = try CLIProcess.run(arguments + ["--db", copy, "--json"])
            #expect(!out.signaled && out.status == 1, "\(arguments[0]) ended with \(out.signaled ? "signal" : "status") \(out.status)")
            #expect(errorCode(out) == "corruptStore", "\(arguments[0]): \(out.stderr)")
        }
    }

    /// A page zeroed in the middle of the file: `verify` names it; commands that read it
    /// through LMDB exit 1 with `corruptStore` instead of aborting on LMDB's assertion.
    @Test func aZeroedPageIsCorruptStoreFromVerifyAndNoCommandAborts() async throws {
        let path = try await storeOf(400)
        let copy = temporaryPath("zeroed")
        try copyStore(path, to: copy)
        let pages = (try FileManager.default.attributesOfItem(atPath: copy + "/data.mdb")[.size] as! Int) / 4096
        #expect(pages > 60)
        let handle = try #require(FileHandle(forWritingAtPath: copy + "/data.mdb"))
        try handle.seek(toOffset: 50 * 4096)
        try handle.write(contentsOf: Data(count: 4096))
        try handle.close()

        try withStore(copy) { ledger throws in
            #expect {
                _ = try ledger.verify()
            } throws: { error in
                guard case .corruptStore(_, let reason)? = error as? LedgerError else { return false }
                return reason.contains("page 50")
            }
        }
        #expect(throws: LedgerError.self) { try Ledger.rebuild(path: copy) }
        for arguments in [["verify"], ["rebuild"]] {
            let out = try CLIProcess.run(arguments + ["--db", copy, "--json"])
            #expect(!out.signaled && out.status == 1, "\(arguments[0]) ended with \(out.signaled ? "signal" : "status") \(out.status): \(out.stderr)")
            #expect(errorCode(out) == "corruptStore", "\(arguments[0]): \(out.stderr)")
        }
        // Which pages a query reads depends on the store's layout: each one either never meets
        // page 50 (and answers) or meets it and exits 1 with corruptStore; at least one meets it.
        var met = 0
        for arguments in [["stats"], ["export"]] {
            let out = try CLIProcess.run(arguments + ["--db", copy, "--json"])
            #expect(!out.signaled && (out.status == 0 || out.status == 1), "\(arguments[0]) ended with \(out.signaled ? "signal" : "status") \(out.status): \(out.stderr)")
            if out.status == 1 {
                met += 1
                #expect(errorCode(out) == "corruptStore", "\(arguments[0]): \(out.stderr)")
            }
        }
        #expect(met > 0, "neither stats nor export read page 50")
        #expect(!FileManager.default.fileExists(atPath: copy + ".rebuild-tmp"))
    }

    /// Seeded random damage to copies of one store: bytes overwritten, pages zeroed or filled
    /// with noise. No command ends in a signal: `verify` checks every page first, and the
    /// others report what LMDB tripped over (an assertion, a bus error or a memory fault) as
    /// `corruptStore`; how many of those there were is printed.
    @Test func randomDamageNeverEndsACommandWithASignal() async throws {
        let path = try await storeOf(300)
        let original = try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
        let pages = original.count / 4096
        var random = SeededGenerator(seed: 0x1D1E_D6E5)
        var verifyCodes: [String: Int] = [:]
        var faultsReported: [String: Int] = [:]
        let runs = 100
        for run in 0..<runs {
            var damaged = original
            let what: String
            switch random.next() % 3 {
            case 0:
                let count = Int(random.next() % 16) + 1
                let offset = Int(random.next() % UInt64(original.count - count))
                for i in 0..<count { damaged[offset + i] = UInt8(truncatingIfNeeded: random.next()) }
                what = "\(count) bytes at \(offset)"
            case 1:
                let page = Int(random.next() % UInt64(pages - 2)) + 2
                damaged.replaceSubrange(page * 4096..<(page + 1) * 4096, with: Data(count: 4096))
                what = "page \(page) zeroed"
            default:
                let page = Int(random.next() % UInt64(pages - 2)) + 2
                let noise = Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) })
                damaged.replaceSubrange(page * 4096..<(page + 1) * 4096, with: noise)
                what = "page \(page) noise"
            }
            let copy = temporaryPath("random-\(run)")
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try damaged.write(to: URL(fileURLWithPath: copy + "/data.mdb"))

            let verify = try CLIProcess.run(["verify", "--db", copy, "--json"])
            #expect(!verify.signaled && (verify.status == 0 || verify.status == 1), "run \(run) (\(what)): verify ended with \(verify.signaled ? "signal" : "status") \(verify.status)")
            #expect(!verify.stderr.contains("LMDB: mdb.c") && !verify.stderr.contains("reading it failed"), "run \(run) (\(what)): verify tripped over the damage: \(verify.stderr)")
            verifyCodes[verify.status == 0 ? "ok" : errorCode(verify) ?? "?", default: 0] += 1
            // Opening alone: a query of a customer that is not there reads only the catalog.
            for arguments in [["show", "999999"], ["stats"], ["show", "1"], ["export"]] {
                let out = try CLIProcess.run(arguments + ["--db", copy, "--json"])
                #expect(!out.signaled && out.status <= 1, "run \(run) (\(what)): \(arguments[0]) ended with \(out.signaled ? "signal" : "status") \(out.status)")
                for (fault, text) in [("assertion", "LMDB: mdb.c"), ("bus error", "bus error"), ("memory fault", "memory fault")] where out.stderr.contains(text) {
                    faultsReported["\(arguments.joined(separator: " ")): \(fault)", default: 0] += 1
                }
            }
        }
        print("random damage, \(runs) runs: verify \(verifyCodes.sorted { $0.key < $1.key }); faults reported by other commands: \(faultsReported.sorted { $0.key < $1.key })")
    }

    // MARK: Read-only store

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv to run as another user"))
    func aStoreThisUserCannotWriteIsReadableAndRefusesCommandsWithReadOnly() async throws {
        let path = try await storeOf(20)
        let nobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        // The store and every directory above it readable, nothing writable, by nobody.
        var directory = path
        while directory != "/" {
            chmod(directory, 0o755)
            directory = (directory as NSString).deletingLastPathComponent
        }
        for name in ["data.mdb", "lock.mdb"] { chmod(path + "/" + name, 0o644) }
        let before = try withStore(path) { try $0.fingerprint() }
        // verify's scratch copy goes to the temporary directory when it cannot go beside the store.
        let scratch = temporaryPath("tmp-for-nobody")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        chmod(scratch, 0o1777)
        let environment = ["TMPDIR": scratch]

        let stats = try CLIProcess.run(["stats", "--db", path, "--json"], environment: environment, launcher: nobody)
        #expect(stats.status == 0 && stats.stdout.contains(#""customers":20"#), "\(stats.stderr)")
        let show = try CLIProcess.run(["show", "email=u3@example.com", "--db", path, "--json"], environment: environment, launcher: nobody)
        #expect(show.status == 0 && show.stdout.contains("u3@example.com"), "\(show.stderr)")
        let verify = try CLIProcess.run(["verify", "--db", path, "--json"], environment: environment, launcher: nobody)
        #expect(verify.status == 0, "\(verify.stderr)")
        for arguments in [["identify", "--id", "email=new@example.com"], ["update", "--id", "email=u3@example.com", "--prop", "plan=\"gold\""], ["rebuild"]] {
            let out = try CLIProcess.run(arguments + ["--db", path, "--json"], environment: environment, launcher: nobody)
            #expect(!out.signaled && out.status == 1, "\(arguments[0]): \(out.stderr)")
            #expect(errorCode(out) == "readOnly", "\(arguments[0]): \(out.stderr)")
        }
        // A new store where nobody may create one.
        let refused = try CLIProcess.run(["identify", "--db", path + "/inner", "--id", "email=n@example.com", "--json"], environment: environment, launcher: nobody)
        #expect(errorCode(refused) == "readOnly", "\(refused.stderr)")
        #expect(try withStore(path) { try $0.fingerprint() } == before)
    }

    // MARK: Paths

    @Test func aStorePathThatIsAFileIsNotADirectory() async throws {
        let file = temporaryPath("file")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: file, contents: Data("not a store".utf8))
        let error = await ledgerError { _ = try Ledger.open(path: file) }
        #expect(error == .notADirectory(path: file))
        #expect(error?.description.contains(file) == true)
        let nested = await ledgerError { _ = try Ledger.open(path: file + "/store") }
        #expect(nested == .notADirectory(path: file))
        let out = try CLIProcess.run(["identify", "--db", file, "--id", "email=a@example.com", "--json"])
        #expect(out.status == 1 && errorCode(out) == "notADirectory", "\(out.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a store")
    }

    // MARK: Ingest and import at a storage fault

    /// A batch the full disk refuses stops `ingest` there. It used to answer the batch's lines
    /// with the error and go on, so that a later, smaller batch could commit after lines that
    /// were not: out of order. Every line answered before is in the store, none after; once
    /// space is freed the store verifies and the rest of the input, sent again from the line
    /// the error names, is taken.
    @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
    func ingestStopsAtTheFirstBatchTheFullDiskRefuses() throws {
        guard let mountPoint = try Self.mountTmpfs(size: "16m") else { return }
        defer { Self.unmount(mountPoint) }
        let store = mountPoint + "/s"
        #expect(try CLIProcess.run(["init", "--db", store]).status == 0)
        // Batches of 64 lines from a file: 1–64 small, 65–128 with four lines of 840 kB (more
        // than the disk has left), 129–192 small (which would fit in what the failed batch left).
        let large = (1...14).map { #""p\#($0)":""# + String(repeating: "x", count: 60_000) + #"""# }.joined(separator: ",")
        let input = (1...192).map { n in
            #"{"op":"identify","ids":{"email":"l\#(n)@example.com"},"properties":{\#((65..<69).contains(n) ? large : #""n":\#(n)"#)},"eventId":"l\#(n)"}"#
        }
        let file = try Self.writeInput(input.joined(separator: "\n") + "\n", named: "lines.jsonl")
        let filler = try Self.fill(mountPoint, leaving: 1 << 20)

        let run = try CLIProcess.run(["ingest", file, "--json", "--db", store])
        #expect(!run.signaled && run.status == 1, "ingest ended with \(run.signaled ? "signal" : "status") \(run.status): \(run.stderr)")
        #expect(errorCode(run) == "storageFull", "\(run.stderr)")
        #expect(run.stderr.contains("ingest stopped at line 65"), "\(run.stderr)")
        #expect(Self.answeredLines(run.stdout) == Array(1...64))

        try FileManager.default.removeItem(atPath: filler)
        try Self.expectVerifies(store)
        #expect(try Self.eventIds(store) == (1...64).map { "l\($0)" })
        let rest = try CLIProcess.run(["ingest", "-", "--json", "--db", store], input: input[64...].joined(separator: "\n"))
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(Self.answeredLines(rest.stdout) == Array(1...128))
        #expect(try Self.eventIds(store) == (1...192).map { "l\($0)" })
        try Self.expectVerifies(store)
    }

    /// An import that runs out of space stops with `storageFull` (exit 1) after the batches it
    /// committed; freed space, the store verifies and the same command resumes after them.
    @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
    func importOnAFullDiskIsStorageFullAndResumesOnceSpaceIsFreed() throws {
        guard let mountPoint = try Self.mountTmpfs(size: "64m") else { return }
        defer { Self.unmount(mountPoint) }
        let store = mountPoint + "/s"
        #expect(try CLIProcess.run(["init", "--db", store]).status == 0)
        let rows = 6_000
        let csv = try Self.writeInput(Self.importCSV(rows: rows, nameLength: 1_000), named: "rows.csv")
        let arguments = ["import", csv, "--match-by", "email", "--import-id", "full", "--json", "--db", store]
        let filler = try Self.fill(mountPoint, leaving: 5 << 20)

        let run = try CLIProcess.run(arguments)
        #expect(!run.signaled && run.status == 1, "import ended with \(run.signaled ? "signal" : "status") \(run.status): \(run.stderr)")
        #expect(errorCode(run) == "storageFull", "\(run.stderr)")
        #expect(run.stdout.isEmpty, "a summary of an import that did not finish: \(run.stdout)")

        try FileManager.default.removeItem(atPath: filler)
        try Self.expectVerifies(store)
        // Whole batches, rows 1…k in order, each once, and the import not marked finished.
        let committed = try Self.importedRows(store, importId: "full")
        #expect(committed.rows == Array(1...UInt64(committed.rows.count)), "rows \(committed.rows.prefix(3))…")
        #expect(committed.rows.count % 1_000 == 0 && (1_000..<rows).contains(committed.rows.count), "\(committed.rows.count) rows committed")
        #expect(!committed.finished)

        let resumed = try CLIProcess.run(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains(#""resumedAfterRow":\#(committed.rows.count)"#), "\(resumed.stdout)")
        let imported = try Self.importedRows(store, importId: "full")
        #expect(imported.rows == Array(1...UInt64(rows)) && imported.finished)
        print("import on a full disk: \(committed.rows.count) rows committed before storageFull; store \(try FileManager.default.attributesOfItem(atPath: store + "/data.mdb")[.size] ?? 0) bytes")
        try Self.expectVerifies(store)
    }

    /// `ingest` and `import` on a store mounted read-only: `readOnly`, exit 1, the store
    /// unchanged; the same input is then taken where the store can be written.
    @Test(.enabled(if: isRoot, "a bind mount needs root"))
    func ingestAndImportOnAReadOnlyStoreAreReadOnlyAndRunOnceItIsWritable() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=ann@example.com")
        let path = ledger.env.path
        let before = try ledger.fingerprint()
        guard let mountPoint = try Self.mountReadOnly(path) else { return }
        defer { Self.unmount(mountPoint) }
        let lines = (1...3).map { #"{"op":"identify","ids":{"email":"r\#($0)@example.com"},"eventId":"r\#($0)"}"# }.joined(separator: "\n")
        let csv = try Self.writeInput(Self.importCSV(rows: 10, nameLength: 5), named: "rows.csv")

        let ingest = try CLIProcess.run(["ingest", "-", "--json", "--db", mountPoint], input: lines)
        #expect(!ingest.signaled && ingest.status == 1 && ingest.stdout.isEmpty, "\(ingest)")
        #expect(errorCode(ingest) == "readOnly" && ingest.stderr.contains("ingest stopped at line 1"), "\(ingest.stderr)")
        let imported = try CLIProcess.run(["import", csv, "--match-by", "email", "--json", "--db", mountPoint])
        #expect(!imported.signaled && imported.status == 1 && imported.stdout.isEmpty, "\(imported)")
        #expect(errorCode(imported) == "readOnly", "\(imported.stderr)")
        #expect(try ledger.fingerprint() == before)

        #expect(try CLIProcess.run(["ingest", "-", "--db", path], input: lines).status == 0)
        let again = try CLIProcess.run(["import", csv, "--match-by", "email", "--json", "--db", path])
        #expect(again.status == 0 && again.stdout.contains(#""created":10"#) && again.stdout.contains(#""resumedAfterRow":null"#), "\(again)")
        let stats = try CLIProcess.run(["stats", "--db", path, "--json"])
        #expect(stats.stdout.contains(#""customers":14"#), "\(stats.stdout)")
        try Self.expectVerifies(path)
    }

    // MARK: Helpers

    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it: `8m`) at a fresh directory,
    /// returned; nil, with the failure recorded, where mounting is refused.
    static func mountTmpfs(size: String) throws -> String? {
        let mountPoint = temporaryPath("tmpfs")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let status = try command("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint])
        guard status == 0 else {
            Issue.record("cannot mount a tmpfs at \(mountPoint) (status \(status)); this test needs mount permission")
            return nil
        }
        return mountPoint
    }

    /// Mounts directory `path` read-only at a fresh directory, returned; nil, with the failure
    /// recorded, where mounting is refused.
    static func mountReadOnly(_ path: String) throws -> String? {
        let mountPoint = temporaryPath("readonly")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try command("/bin/mount", ["--bind", path, mountPoint]) == 0 else {
            Issue.record("cannot bind-mount \(path); this test needs mount permission")
            return nil
        }
        guard try command("/bin/mount", ["-o", "remount,ro,bind", mountPoint]) == 0 else {
            unmount(mountPoint)
            Issue.record("cannot remount \(mountPoint) read-only")
            return nil
        }
        return mountPoint
    }

    /// `idledger verify` passes on the store at `path`.
    static func expectVerifies(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try CLIProcess.run(["verify", "--db", path])
        #expect(verify.status == 0, "verify: \(verify.stderr)", sourceLocation: sourceLocation)
    }

    /// Lazily, so that a store still open on the mount does not keep it.
    static func unmount(_ mountPoint: String) {
        _ = try? command("/bin/umount", ["-l", mountPoint])
    }

    /// Fills the file system holding `directory` with one file, to the last byte but
    /// `leaving`; removing the file (its path is returned) frees the space again.
    static func fill(_ directory: String, leaving: UInt64 = 0) throws -> String {
        let filler = directory + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: filler))
        let chunk = Data(count: 64 << 10)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        let small = Data(count: 512)
        while (try? handle.write(contentsOf: small)) != nil {}
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - min(size, leaving))
        try handle.close()
        return filler
    }

    /// Writes `text` to a file in a fresh temporary directory (not on a test's small mount).
    static func writeInput(_ text: String, named name: String) throws -> String {
        let file = temporaryPath(name)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// An import CSV of `rows` new customers (`email`, a `name` of `nameLength` characters).
    static func importCSV(rows: Int, nameLength: Int) -> String {
        let name = String(repeating: "n", count: nameLength)
        return "email,name\n" + (1...rows).map { "i\($0)@example.com,\(name)\n" }.joined()
    }

    /// The `line` of each result `ingest --json` printed, in order.
    static func answeredLines(_ stdout: String) -> [Int] {
        stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["line"] as? Int
        }
    }

    /// The eventIds in the store's log, in log order.
    static func eventIds(_ path: String) throws -> [String] {
        try withStore(path) { try $0.events(limit: .max).compactMap(\.eventId) }
    }

    /// The rows import `importId` has events for, in log order, and whether it finished.
    static func importedRows(_ path: String, importId: String) throws -> (rows: [UInt64], finished: Bool) {
        try withStore(path) { ledger in
            let events = try ledger.events(limit: .max).filter { $0.importId == importId }
            return (events.compactMap(\.row), events.contains { $0.kind == "importFinished" })
        }
    }

    /// Runs a system command; returns its exit status.
    static func command(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// The library on a read-only mount: the same store, opened where the file system refuses writes.
@Suite struct ReadOnlyMountTests {
    @Test(.enabled(if: StoreFaultTests.isRoot, "a bind mount needs root"))
    func aStoreOnAReadOnlyMountAnswersQueriesAndRefusesCommands() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=ann@example.com", access: ["email"], properties: ["name": "Ann"])
        let path = ledger.env.path
        let before = try ledger.fingerprint()
        guard let mountPoint = try StoreFaultTests.mountReadOnly(path) else { return }
        defer { StoreFaultTests.unmount(mountPoint) }
        try await withStoreAsync(mountPoint) { readOnly async throws in
            #expect(readOnly.env.isReadOnly)
            #expect(try readOnly.customer(.identifier(Identifier(type: "email", value: "ann@example.com"))).properties["name"] == "Ann")
            #expect(try readOnly.fingerprint() == before)
            let error = await ledgerError { try await readOnly.identify("email=bob@example.com") }
            #expect(error == .readOnly(path: readOnly.env.path), "\(String(describing: error))")
            #expect(error?.description.contains("read-only") == true)
        }
        #expect(try ledger.fingerprint() == before)
    }
}
