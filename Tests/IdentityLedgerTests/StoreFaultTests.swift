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
        let mountPoint = temporaryPath("full")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try Self.command("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint])
        guard mount == 0 else {
            Issue.record("cannot mount a tmpfs at \(mountPoint) (status \(mount)); this test needs mount permission")
            return
        }
        defer { _ = try? Self.command("/bin/umount", ["-l", mountPoint]) }
        let store = mountPoint + "/s"
        var acknowledged: [String] = []
        for i in 0..<5 {
            let out = try CLIProcess.run(["identify", "--db", store, "--id", "email=a\(i)@example.com", "--json"])
            #expect(out.status == 0, "\(out.stderr)")
            acknowledged.append("a\(i)@example.com")
        }
        // Fill the file system to the last byte.
        let filler = mountPoint + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: filler))
        let chunk = Data(count: 64 << 10)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        let small = Data(count: 512)
        while (try? handle.write(contentsOf: small)) != nil {}
        try handle.close()

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
        let mountPoint = temporaryPath("readonly")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try run("/bin/mount", ["--bind", path, mountPoint]) == 0 else {
            Issue.record("cannot bind-mount \(path); this test needs mount permission")
            return
        }
        defer { _ = try? run("/bin/umount", ["-l", mountPoint]) }
        guard try run("/bin/mount", ["-o", "remount,ro,bind", mountPoint]) == 0 else {
            Issue.record("cannot remount \(mountPoint) read-only")
            return
        }
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

    private func run(_ path: String, _ arguments: [String]) throws -> Int32 {
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
