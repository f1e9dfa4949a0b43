import Foundation
import Testing
@testable import IdentityLedger

/// `idledger` says things one way across its commands, as a new user meets them.
@Suite struct ConsistencyCLITests {
    /// Runs each command against `path`, expecting success.
    private func prepare(_ path: String, _ commands: [[String]], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for arguments in commands {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 0, "\(arguments): \(run.stderr)", sourceLocation: sourceLocation)
        }
    }

    /// A single command's error names its code as a failed `ingest` line does, usage errors
    /// included, and nothing on stderr is capitalised differently.
    @Test func errorsNameTheirCodeTheSameWayEverywhere() throws {
        let path = temporaryPath()
        try prepare(path, [["identify", "--id", "technical_id=T-1", "--id", "external_id=E-1"]])

        // Another person's record carrying T-1: their own external ID conflicts.
        let duplicate = try CLIProcess.run(["identify", "--db", path, "--id", "technical_id=T-1", "--id", "external_id=E-2"])
        #expect(duplicate.status == 1)
        #expect(duplicate.stderr.hasPrefix("error duplicateUniqueIdentifier: "), "\(duplicate.stderr)")

        let ingest = try CLIProcess.run(["ingest", "--db", path, "-"], input: #"{"op":"identify","ids":{"technical_id":"T-1","external_id":"E-2"}}"# + "\n")
        #expect(ingest.stdout.hasPrefix("line 1: error duplicateUniqueIdentifier: "), "\(ingest.stdout)")

        let missing = try CLIProcess.run(["show", "99", "--db", path])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error customerNotFound: "), "\(missing.stderr)")
        let noStore = try CLIProcess.run(["show", "1", "--db", temporaryPath()])
        #expect(noStore.status == 1 && noStore.stderr.hasPrefix("error storeNotFound: "), "\(noStore.stderr)")

        for arguments in [["show", "--db", path], ["show", "+1", "--db", path], ["log", "--bogus", "--db", path]] {
            let usage = try CLIProcess.run(arguments)
            #expect(usage.status == 64, "\(arguments)")
            #expect(usage.stderr.hasPrefix("error usage: "), "\(arguments): \(usage.stderr)")
            #expect(!usage.stderr.contains("Error"), "\(arguments): \(usage.stderr)")
        }

        let json = try CLIProcess.run(["show", "99", "--json", "--db", path])
        let object = try JSONSerialization.jsonObject(with: Data(json.stderr.utf8)) as? [String: [String: String]]
        #expect(object?["error"]?["code"] == "customerNotFound")
    }

    /// `--help` says how errors are printed, with and without `--json`.
    @Test func helpSaysWhereErrorsGo() throws {
        let help = try CLIProcess.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("error CODE: message"), "\(help.stdout)")
        #expect(help.stdout.contains(#"{"error":{"code":"CODE""#), "\(help.stdout)")
    }

    /// `idledger --version` prints the tool's name and version and exits 0; `--help` offers it.
    @Test func versionIsPrinted() throws {
        let version = try CLIProcess.run(["--version"])
        #expect(version.status == 0, "\(version.stderr)")
        #expect(version.stdout.wholeMatch(of: /idledger [0-9]+\.[0-9]+\.[0-9]+\n/) != nil, "\(version.stdout)")
        let help = try CLIProcess.run(["--help"])
        #expect(help.stdout.contains("--version"))
        #expect(help.stdout.contains("--generate-completion-script"))
    }
}
