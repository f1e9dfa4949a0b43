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

    /// JSON Lines on stdout, one object per line.
    private func jsonLines(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let run = try CLIProcess.run(arguments + ["--json"])
        #expect(run.status == 0, "\(arguments): \(run.stderr)", sourceLocation: sourceLocation)
        return try run.stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// 1 schemaChanged, 2 identified 1, 3 identified 2, 4 merged 2 into 1, 5 identified 3.
    private func mergedStore() throws -> String {
        let path = temporaryPath()
        try prepare(path, [
            ["identify", "--id", "email=a@example.com"], ["identify", "--id", "email=b@example.com"],
            ["merge", "1", "2", "--actor", "ops"], ["identify", "--id", "email=c@example.com"],
        ])
        return path
    }

    /// `log --kind`, `--customer` and `--since` keep the events asked for, together and with `--limit`.
    @Test func logFilters() throws {
        let path = try mergedStore()
        func seqs(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [Int] {
            try jsonLines(["log", "--db", path] + arguments, sourceLocation: sourceLocation).map { $0["seq"] as? Int ?? -1 }
        }
        #expect(try seqs(["--kind", "merged"]) == [4])
        #expect(try seqs(["--kind", "identified", "--kind", "merged"]) == [2, 3, 4, 5])
        #expect(try seqs(["--kind", "identified", "--limit", "2"]) == [2, 3])
        #expect(try seqs(["--kind", "identified", "--from", "3", "--limit", "2"]) == [3, 5])
        #expect(try seqs(["--customer", "2"]) == [3, 4])
        // A value names the customer holding it now: b@example.com went to 1 with the merge.
        #expect(try seqs(["--customer", "email=b@example.com"]) == [2, 4])
        #expect(try seqs(["--customer", "2", "--kind", "merged"]) == [4])

        let all = try jsonLines(["log", "--db", path])
        let third = try #require(all.count == 5 ? all[2]["recordedAt"] as? String : nil)
        let expected = all.filter { ($0["recordedAt"] as? String ?? "") >= third }.map { $0["seq"] as? Int ?? -1 }
        #expect(try seqs(["--since", third]) == expected)
        #expect(expected.first ?? 0 <= 3 && expected.last == 5)
        #expect(try seqs(["--since", "2999-01-01T00:00:00Z"]) == [])

        let text = try CLIProcess.run(["log", "--db", path, "--kind", "merged"])
        #expect(text.stdout.split(separator: "\n").count == 1 && text.stdout.contains("merged 2 into 1"), "\(text.stdout)")

        for bad in [["--kind", "merge"], ["--since", "yesterday"], ["--customer", "007"]] {
            let run = try CLIProcess.run(["log", "--db", path] + bad)
            #expect(run.status == 64 && run.stderr.hasPrefix("error usage: "), "\(bad): \(run.stderr)")
        }
        let unknown = try CLIProcess.run(["log", "--db", path, "--customer", "email=nobody@example.com"])
        #expect(unknown.status == 1 && unknown.stderr.hasPrefix("error customerNotFound: "), "\(unknown.stderr)")
    }

    /// `export --as-of` prints the customers active then, as they were; `--limit` the first N.
    @Test func exportAsOfAndLimit() throws {
        let path = try mergedStore()
        func ids(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> [Int] {
            try jsonLines(["export", "--db", path] + arguments, sourceLocation: sourceLocation).map { $0["id"] as? Int ?? -1 }
        }
        #expect(try ids([]) == [1, 3])
        #expect(try ids(["--as-of", "3"]) == [1, 2])
        #expect(try ids(["--as-of", "1"]) == [])
        #expect(try ids(["--limit", "1"]) == [1])
        #expect(try ids(["--as-of", "3", "--limit", "1"]) == [1])
        let before = try jsonLines(["export", "--db", path, "--as-of", "3"])
        let first = (before.first?["identifiers"] as? [[String: Any]])?.map { $0["value"] as? String }
        #expect(first == ["a@example.com"])
        let now = try jsonLines(["export", "--db", path, "--limit", "1"])
        #expect((now.first?["identifiers"] as? [[String: Any]])?.count == 2)
        for bad in [["--limit", "0"], ["--as-of", "soon"]] {
            let run = try CLIProcess.run(["export", "--db", path] + bad)
            #expect(run.status == 64, "\(bad): \(run.stderr)")
        }
    }
}
