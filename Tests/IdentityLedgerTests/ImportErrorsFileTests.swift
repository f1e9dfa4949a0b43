import Foundation
import Testing
@testable import IdentityLedger

/// The errors file is a file the engine writes: when the file system refuses it, the import
/// fails with the fault's code (`notADirectory`, `storageFull`, `readOnly`), not with
/// `invalidInput`, which would blame the user's data.
@Suite struct ImportErrorsFileTests {
    private let rows = "email,name\nnot-an-email,Bad\nb@example.com,Bob\n"

    /// A parent of the errors path that is a regular file: nothing is imported.
    @Test func anErrorsFileUnderARegularFileIsNotADirectory() async throws {
        let ledger = try await makeLedger()
        let input = try importFixture("in.csv", rows)
        let error = await ledgerError { _ = try await ledger.importFile(at: input, matchBy: "email", errors: input + "/errors.jsonl") }
        #expect(error == .notADirectory(path: input), "\(String(describing: error))")
        #expect(try ledger.events(limit: 10).isEmpty)
    }

    /// A write that finds no room (`/dev/full`) is `storageFull`, naming the errors file.
    @Test func anErrorsFileWithoutRoomIsStorageFull() async throws {
        try #require(FileManager.default.fileExists(atPath: "/dev/full"))
        let ledger = try await makeLedger()
        let input = try importFixture("in.csv", rows)
        let error = await ledgerError { _ = try await ledger.importFile(at: input, matchBy: "email", errors: "/dev/full") }
        #expect(error == .storageFull(path: "/dev/full"), "\(String(describing: error))")
    }

    /// An errors file on a read-only mount is `readOnly`, naming it.
    @Test(.enabled(if: StoreFaultTests.isRoot, "a bind mount needs root"))
    func anErrorsFileOnAReadOnlyMountIsReadOnly() async throws {
        let ledger = try await makeLedger()
        let input = try importFixture("in.csv", rows)
        let directory = temporaryPath("errors")
        let mountPoint = temporaryPath("readonly-errors")
        for path in [directory, mountPoint] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try #require(try StoreFaultTests.command("/bin/mount", ["--bind", directory, mountPoint]) == 0)
        defer { _ = try? StoreFaultTests.command("/bin/umount", ["-l", mountPoint]) }
        try #require(try StoreFaultTests.command("/bin/mount", ["-o", "remount,ro,bind", mountPoint]) == 0)
        let errors = mountPoint + "/errors.jsonl"
        let error = await ledgerError { _ = try await ledger.importFile(at: input, matchBy: "email", errors: errors) }
        #expect(error == .readOnly(path: errors), "\(String(describing: error))")
        #expect(try ledger.events(limit: 10).isEmpty)
    }

    /// The tool reports it the same way: exit 1, the code in the JSON error.
    @Test func theCLIReportsTheErrorsFilesFaultByItsCode() throws {
        let db = temporaryPath()
        let made = try CLIProcess.run(["identify", "--id", "email=a@example.com", "--db", db])
        #expect(made.status == 0, "\(made.stderr)")
        let input = try importFixture("in.csv", rows)
        let run = try CLIProcess.run(["import", input, "--match-by", "email", "--errors", input + "/errors.jsonl", "--json", "--db", db])
        #expect(run.status == 1)
        #expect(run.stderr.contains(#""code":"notADirectory""#) && !run.stderr.contains("invalidInput"), "\(run.stderr)")
    }
}
