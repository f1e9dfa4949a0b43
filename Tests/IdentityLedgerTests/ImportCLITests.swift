import Foundation
import Testing
@testable import IdentityLedger

/// `idledger import` as a user runs it: exit status, the error on stderr, and what is left
/// in the store and on disk.
struct ImportCLITests {
    /// A store holding one customer, made by the CLI.
    private func store() throws -> String {
        let path = temporaryPath()
        let made = try CLIProcess.run(["identify", "--id", "email=a@example.com", "--db", path])
        #expect(made.status == 0, "\(made.stderr)")
        return path
    }

    /// A directory given as the file is `fileNotReadable` (exit 1), not an empty import that
    /// finishes, and the import writes nothing: no log event, no errors file.
    @Test(arguments: ["dir.jsonl", "d.csv"])
    func aDirectoryIsNotReadable(_ name: String) throws {
        let db = try store()
        let directory = temporaryPath(name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let run = try CLIProcess.run(["import", directory, "--match-by", "email", "--json", "--db", db])
        #expect(run.status == 1)
        #expect(run.stderr.contains(#""code":"fileNotReadable""#) && run.stderr.contains("Is a directory"), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + ".errors.jsonl"))
        #expect(try Ledger.open(path: db).events(from: 1, limit: .max).map(\.kind) == ["schemaChanged", "identified"])
    }

    /// `--errors` naming the input is refused (exit 1, invalidInput): the input is left whole
    /// and nothing is imported.
    @Test func errorsPointingAtTheInputIsRefused() throws {
        let db = try store()
        let contents = "email,name\nb@example.com,Bob\n"
        let file = try importFixture("c.csv", contents)
        let run = try CLIProcess.run(["import", file, "--match-by", "email", "--errors", file, "--json", "--db", db])
        #expect(run.status == 1)
        #expect(run.stderr.contains(#""code":"invalidInput""#), "\(run.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == contents)
        #expect(try Ledger.open(path: db).events(from: 1, limit: .max).map(\.kind) == ["schemaChanged", "identified"])
    }
}
