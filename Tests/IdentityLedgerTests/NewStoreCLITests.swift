import Foundation
import Testing
@testable import IdentityLedger

/// A writing command creates the store on a new path only if it writes something: a refused
/// one (or an `ingest` whose every line fails) is decided against an empty store first and
/// creates nothing, not even the directory. Nothing is ever deleted afterwards, so commands
/// racing on a new path cannot lose each other's writes.
@Suite struct NewStoreCLITests {
    @Test func aRefusedFirstCommandCreatesNothing() throws {
        let root = temporaryPath("new-stores")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let csv = root + "/rows.csv"
        try Data("email,name\nann@example.com,Ann\n".utf8).write(to: URL(fileURLWithPath: csv))
        let schema = root + "/schema.json"
        try Data(#"{"types":[{"name":"email","kind":"contact","normalize":"email","canGrantAccess":true}]}"#.utf8).write(to: URL(fileURLWithPath: schema))
        let badSchema = root + "/bad-schema.json"
        try Data(#"{"types":[{"name":"email","kind":"uniq"}]}"#.utf8).write(to: URL(fileURLWithPath: badSchema))
        let refusals: [(String, [String], String)] = [
            ("merge", ["merge", "1", "2", "--actor", "ops"], ""),
            ("detach", ["detach", "1", "email=a@example.com", "--actor", "ops"], ""),
            ("identify", ["identify", "--id", "email=bad"], ""),
            ("update", ["update", "--id", "phone=1", "--prop", "a=1"], ""),
            ("ingest", ["ingest", "-"], #"{"op":"identify","ids":{"email":"bad"}}"# + "\n" + #"{"op":"merge","into":1,"from":2,"actor":"ops"}"# + "\n"),
            ("import-match-by", ["import", csv, "--match-by", "nosuchtype"], ""),
            ("import-unreadable", ["import", root + "/missing.csv", "--match-by", "email"], ""),
            ("schema-set", ["schema", "set", badSchema], ""),
            ("schema-set-unreadable", ["schema", "set", root + "/missing.json"], ""),
        ]
        // The commands decide in scratch stores under their own temporary directory here,
        // which must be empty again afterwards.
        let temporary = root + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        for (name, arguments, input) in refusals {
            let path = root + "/" + name
            let run = try CLIProcess.run(arguments + ["--db", path], input: input, environment: ["TMPDIR": temporary])
            #expect(run.status == 1 || (name == "ingest" && run.status == 2), "\(name): \(run.status) \(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(name) created \(path)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "\(name) left its scratch store")
        }
        // A directory that was there before stays as it was.
        let existing = root + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        #expect(try CLIProcess.run(["identify", "--id", "email=bad", "--db", existing]).status == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)
        // One good ingest line creates the store, with that line only; init creates an empty store.
        let partly = root + "/partly"
        let ingest = try CLIProcess.run(["ingest", "-", "--db", partly], input: #"{"op":"identify","ids":{"email":"bad"}}"# + "\n" + #"{"op":"identify","ids":{"email":"a@example.com"}}"# + "\n", environment: ["TMPDIR": temporary])
        #expect(ingest.status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "ingest left its scratch store")
        #expect(try Ledger.open(path: partly).events(limit: .max).count == 2)
        let created = root + "/created"
        #expect(try CLIProcess.run(["init", "--db", created]).status == 0)
        #expect(try CLIProcess.run(["identify", "--id", "email=bad", "--db", created]).status == 1)
        #expect(FileManager.default.fileExists(atPath: created + "/data.mdb"))
        // A good import and a good schema write for real, once each.
        let imported = root + "/imported"
        #expect(try CLIProcess.run(["import", csv, "--match-by", "email", "--db", imported]).status == 0)
        #expect(try Ledger.open(path: imported).events(limit: .max).map(\.kind) == ["schemaChanged", "importStarted", "identified", "importFinished"])
        let schemed = root + "/schemed"
        #expect(try CLIProcess.run(["schema", "set", schema, "--db", schemed]).status == 0)
        #expect(try Ledger.open(path: schemed).schema().types.map(\.name) == ["email"])
    }

    /// The race that lost acknowledged writes: on a new path, refused and good commands start
    /// at once. A refused one used to create the store, find its log empty and delete it, while
    /// the good one was writing into it (or had just been acknowledged); refused processes then
    /// also crashed in liblmdb on files deleted under them. Now every acknowledged write is in
    /// the store afterwards, every refused process exits 1, and a path where only refused
    /// commands ran has no store and no directory.
    @Test func refusedAndGoodFirstCommandsRacingOnANewPath() throws {
        let executable = try CLIProcess.require()
        let root = temporaryPath("new-store-race")
        let started = Date()
        var rounds = 0
        while rounds < 60, Date().timeIntervalSince(started) < 30 {
            let mixed = root + "/mixed-\(rounds)"
            let refusedOnly = root + "/refused-\(rounds)"
            let bad = ["identify", "--id", "email=bad", "--json"]
            let phone = ["identify", "--id", "phone=1", "--json"]
            let good = ["identify", "--id", "email=good\(rounds)@x.com", "--json"]
            let runs = [bad, bad, good, bad, phone, phone].map { ($0, mixed) } + [bad, phone, bad].map { ($0, refusedOnly) }
            let children = try runs.map { arguments, path in try Child(executable, arguments + ["--db", path]) }
            let results = children.map { $0.wait() }
            for ((arguments, _), result) in zip(runs, results) where arguments != good {
                #expect(result.exitedNormally && result.status == 1, "round \(rounds): \(arguments) ended \(result)")
                #expect(result.stderr.contains("\"code\":\"invalidIdentifierValue\""), "round \(rounds): \(result.stderr)")
            }
            let goodResult = results[2]
            #expect(goodResult.exitedNormally && goodResult.status == 0, "round \(rounds): \(goodResult)")
            #expect(goodResult.stdout.contains(#""created":true"#), "round \(rounds): \(goodResult.stdout)")
            let owner = try Ledger.open(path: mixed).owner("email=good\(rounds)@x.com")
            #expect(owner != nil, "round \(rounds): the acknowledged write is gone")
            #expect(!FileManager.default.fileExists(atPath: refusedOnly), "round \(rounds): refused commands created \(refusedOnly)")
            rounds += 1
        }
        #expect(rounds >= 5, "only \(rounds) rounds ran")
    }

    @Test func aLazyLedgerCreatesTheStoreOnlyWhenWorkWrites() async throws {
        let path = temporaryPath("lazy")
        let store = try LazyLedger(path: path)
        let refused = await ledgerError {
            _ = try await store.write { ledger throws(LedgerError) in try await ledger.identify(IdentifyCommand(identifiers: ids("email=bad"), access: [])) }
        }
        #expect(refused?.code == "invalidIdentifierValue")
        let batch = try await store.write { ledger throws(LedgerError) in
            try await ledger.execute(batch: [.identify(IdentifyCommand(identifiers: ids("phone=1"), access: []))])
        }
        #expect(batch.count == 1 && (try? batch[0].get()) == nil)
        #expect(!FileManager.default.fileExists(atPath: path))
        let result = try await store.write { ledger throws(LedgerError) in try await ledger.identify(IdentifyCommand(identifiers: ids("email=a@example.com"), access: ["email"])) }
        #expect(result.created && result.seq == [2])
        #expect(try Ledger.open(path: path).events(limit: .max).count == 2)
        // The store exists now: work runs on it directly.
        let again = try await store.write { ledger throws(LedgerError) in try await ledger.identify(IdentifyCommand(identifiers: ids("email=a@example.com"), access: ["email"])) }
        #expect(!again.created && again.customer == result.customer)
    }

    /// A temporary directory where no scratch store can be made decides nothing: the command
    /// goes to the store itself, which it creates.
    @Test func aCommandOnANewPathWorksWithoutAScratchStore() throws {
        let path = temporaryPath("no-scratch")
        let run = try CLIProcess.run(["identify", "--db", path, "--id", "email=a@example.com", "--json"], environment: ["TMPDIR": "/nonexistent-\(getpid())"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: path + "/data.mdb"))
        let refused = try CLIProcess.run(["identify", "--db", temporaryPath("no-scratch-refused"), "--id", "email=bad"], environment: ["TMPDIR": "/nonexistent-\(getpid())"])
        #expect(refused.status == 1, "\(refused.stderr)")
    }

    /// A one-character relative path (`--db s`, `--db t/`) once crashed in Foundation's
    /// `deletingLastPathComponent` (SIGILL); now the store is made in the working directory.
    @Test(arguments: [["init"], ["identify", "--id", "email=a@example.com"]])
    func aOneCharacterRelativePathMakesTheStoreInTheWorkingDirectory(_ command: [String]) throws {
        let directory = temporaryPath("cwd")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for db in ["s", "t/"] {
            let run = try CLIProcess.run(command + ["--db", db], directory: directory)
            #expect(!run.signaled && run.status == 0, "\(command) --db \(db): \(run.status) \(run.stderr)")
            #expect(FileManager.default.fileExists(atPath: directory + "/" + db + (db.hasSuffix("/") ? "" : "/") + "data.mdb"), "\(command) --db \(db)")
        }
        // The store opened again by the same relative path, and verified beside it.
        let verify = try CLIProcess.run(["verify", "--db", "s"], directory: directory)
        #expect(!verify.signaled && verify.status == 0, "\(verify.stderr)")
        if command[0] == "identify" {
            let lookup = try CLIProcess.run(["lookup", "email=a@example.com", "--db", "s", "--json"], directory: directory)
            #expect(lookup.status == 0 && lookup.stdout.contains("\"customer\""), "\(lookup.stdout) \(lookup.stderr)")
        }
    }
}

/// An `idledger` child process started without waiting for it.
struct Child {
    struct Result: CustomStringConvertible {
        var status: Int32
        var exitedNormally: Bool
        var stdout: String
        var stderr: String
        var description: String { "\(exitedNormally ? "exit" : "signal") \(status), stdout \(stdout), stderr \(stderr)" }
    }

    let process = Process()
    private let stdout: CLIProcess.Drain
    private let stderr: CLIProcess.Drain

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe(), err = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        stdout = CLIProcess.Drain(out.fileHandleForReading)
        stderr = CLIProcess.Drain(err.fileHandleForReading)
    }

    var isRunning: Bool { process.isRunning }

    func wait() -> Result {
        process.waitUntilExit()
        return Result(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit, stdout: stdout.wait(), stderr: stderr.wait())
    }
}
