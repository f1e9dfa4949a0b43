import Foundation
import Testing
@testable import IdentityLedger
@testable import idledger

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

    /// `--as-of` takes a date alone, the start of that day in UTC; `--help` says the times are
    /// the engine's recorded times.
    @Test func asOfTakesADateAlone() throws {
        let path = try mergedStore()
        let created = try jsonLines(["show", "1", "--db", path]).first?["createdAt"] as? String ?? ""
        let today = String(created.prefix(10))
        let day = try #require(parseTimestamp(today + "T00:00:00Z"))
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        let tomorrow = dateOnly.string(from: day.addingTimeInterval(86_400))
        // The start of today: before every event of this store (made just now), so nobody yet.
        let atStart = try CLIProcess.run(["export", "--db", path, "--as-of", today, "--json"])
        #expect(atStart.status == 0 && atStart.stdout.isEmpty, "\(atStart.stderr)")
        let early = try CLIProcess.run(["show", "1", "--db", path, "--as-of", today])
        #expect(early.status == 1 && early.stderr.hasPrefix("error customerNotFound: "), "\(early.stderr)")
        // The start of tomorrow: everything (a warning if that is still in the future).
        #expect(try jsonLines(["export", "--db", path, "--as-of", tomorrow]).map { $0["id"] as? Int } == [1, 3])
        #expect(try jsonLines(["log", "--db", path, "--since", tomorrow]).isEmpty)
        #expect(try jsonLines(["log", "--db", path, "--since", today]).count == 5)
        for bad in ["2026-02-30", "2026-12-1", "2026-12-01T"] {
            let run = try CLIProcess.run(["show", "1", "--db", path, "--as-of", bad])
            #expect(run.status == 64, "\(bad): \(run.stderr)")
        }
        let help = try CLIProcess.run(["show", "--help"])
        #expect(help.stdout.contains("recorded times"), "\(help.stdout)")
        #expect(help.stdout.contains("2026-12-01"), "\(help.stdout)")
    }

    /// An `--as-of` past the end of the log answers the state at the end, and warns that it did.
    @Test func asOfPastTheEndWarns() throws {
        let path = try mergedStore()
        let past = try CLIProcess.run(["show", "1", "--db", path, "--as-of", "99"])
        #expect(past.status == 0 && past.stdout.hasPrefix("customer 1 (active)"), "\(past.stderr)")
        #expect(past.stderr == "warning asOfPastTheEnd: --as-of 99 is past the end of the log, which ends at seq 5: this is the state at its end\n")
        let json = try CLIProcess.run(["export", "--db", path, "--as-of", "6", "--json"])
        let warning = try JSONSerialization.jsonObject(with: Data(json.stderr.utf8)) as? [String: [String: String]]
        #expect(warning?["warning"]?["code"] == "asOfPastTheEnd")
        #expect(json.stdout.split(separator: "\n").count == 2)
        let future = try CLIProcess.run(["history", "1", "--db", path, "--as-of", "2999-01-01"])
        #expect(future.status == 0 && future.stderr.contains("later than now"), "\(future.stderr)")
        // At the end itself, or before it: no warning.
        for point in ["5", "2"] {
            let run = try CLIProcess.run(["lookup", "email=a@example.com", "--db", path, "--as-of", point])
            #expect(run.status == 0 && run.stderr.isEmpty, "\(point): \(run.stderr)")
        }
    }

    /// Asking for a customer as of before it existed says when it was created.
    @Test func asOfBeforeACustomerExistedSaysWhenItWasCreated() throws {
        let path = try mergedStore()
        let three = try CLIProcess.run(["show", "3", "--db", path, "--as-of", "4"])
        #expect(three.status == 1)
        #expect(three.stderr.hasPrefix("error customerNotFound: customer 3 did not exist yet as of 4: it was created at seq 5 ("), "\(three.stderr)")
        // A merged ID: its own creation, not its survivor's.
        let two = try CLIProcess.run(["history", "2", "--db", path, "--as-of", "1", "--json"])
        let error = try JSONSerialization.jsonObject(with: Data(two.stderr.utf8)) as? [String: [String: String]]
        #expect(error?["error"]?["code"] == "customerNotFound")
        #expect(error?["error"]?["message"]?.hasPrefix("customer 2 did not exist yet as of 1: it was created at seq 3 (") == true, "\(two.stderr)")
        let value = try CLIProcess.run(["show", "email=c@example.com", "--db", path, "--as-of", "3"])
        #expect(value.stderr.hasPrefix("error customerNotFound: no customer held email=c@example.com as of 3; customer 3 holds it now (created at seq 5, "), "\(value.stderr)")
        // A customer that does not exist at all: the plain error.
        let none = try CLIProcess.run(["show", "9", "--db", path, "--as-of", "3"])
        #expect(none.stderr == "error customerNotFound: no customer 9\n" || !none.stderr.contains("created"), "\(none.stderr)")
    }

    /// The library reads a date alone as the start of that day in UTC, and still refuses dates
    /// that do not exist.
    @Test func asOfParsingReadsADateAlone() {
        #expect(AsOf(parsing: "2026-12-01") == .time(parseTimestamp("2026-12-01T00:00:00Z")!))
        #expect(AsOf(parsing: "2026-12-01T10:00:00Z") == .time(parseTimestamp("2026-12-01T10:00:00Z")!))
        #expect(AsOf(parsing: "12") == .seq(12))
        for bad in ["2026-02-30", "2026-13-01", "2026-12-1", "26-12-01", "2026-12-01Z"] {
            #expect(AsOf(parsing: bad) == nil, "\(bad)")
        }
    }

    /// `explain` of one customer twice, or of a merged ID and its survivor, says what it is
    /// instead of "customers 1 and 1 are one profile".
    @Test func explainOfOneCustomerReadsCorrectly() throws {
        let path = try mergedStore()
        func explain(_ a: String, _ b: String) throws -> String {
            try CLIProcess.run(["explain", a, b, "--db", path]).stdout
        }
        let same = try explain("1", "1")
        #expect(same.hasPrefix("both name customer 1: there is nothing to compare\n"), "\(same)")
        for (a, b) in [("1", "2"), ("2", "1"), ("2", "2")] {
            let merged = try explain(a, b)
            #expect(merged.hasPrefix("customer 2 is customer 1 since its merge at seq 4\n  past decisions:\n"), "\(a) \(b): \(merged)")
            #expect(!merged.contains("1 and 1") && !merged.contains("access contacts"), "\(merged)")
        }
        #expect(try explain("email=b@example.com", "1").hasPrefix("email=b@example.com and customer 1 both name customer 1\n"))
        // A merged ID against another customer: the redirect, then the verdict for the survivor.
        let other = try explain("2", "3").split(separator: "\n")
        #expect(other.first == "customer 2 is customer 1 since its merge at seq 4")
        #expect(other.dropFirst().first?.hasPrefix("customers 1 and 3 share no identifier") == true, "\(other)")
        let json = try jsonLines(["explain", "2", "1", "--db", path]).first
        #expect(json?["verdict"] as? String == "sameCustomer")
        let redirects = json?["resolvedFrom"] as? [[String: Any]]
        #expect(redirects?.count == 1 && redirects?.first?["id"] as? Int == 2 && redirects?.first?["mergeSeq"] as? Int == 4)
    }

    /// `detach` echoes the value it detached as the engine matched it.
    @Test func detachEchoesTheNormalizedValue() throws {
        let path = temporaryPath()
        try prepare(path, [["identify", "--id", "phone=+44 20 7946 0958", "--id", "email=Ann@Example.com", "--access", "email"]])
        let run = try CLIProcess.run(["detach", "1", "phone=0044 20 7946 0958", "--actor", "ops", "--db", path])
        #expect(run.status == 0 && run.stdout == "customer 1: detached phone=+442079460958\n", "\(run.stdout) \(run.stderr)")
        let access = try CLIProcess.run(["detach", "1", "email=ANN@example.com", "--access-only", "--actor", "ops", "--db", path])
        #expect(access.stdout.hasPrefix("customer 1: cleared the access flag of email=ann@example.com"), "\(access.stdout) \(access.stderr)")
    }

    /// `stats` puts its counts in one right-aligned column and the map size in binary units.
    @Test func statsIsAlignedWithHumanSizes() throws {
        let path = try mergedStore()
        let run = try CLIProcess.run(["stats", "--db", path])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let numberEnds = Set(lines.map { line in
            // Where the count ends: the first digit run after the label.
            let digits = line.firstRange(of: /[0-9]+/)!
            return line.distance(from: line.startIndex, to: digits.upperBound)
        })
        #expect(numberEnds.count == 1, "\(run.stdout)")
        #expect(lines.contains { $0.wholeMatch(of: /map size +[0-9.]+  (KiB|MiB|GiB) \([0-9]+ bytes\)/) != nil }, "\(run.stdout)")
        #expect(lines.contains { $0.wholeMatch(of: /customers +3  \(2 active, 1 merged\)/) != nil }, "\(run.stdout)")
        #expect(Stats.humanSize(512) == ("512", "bytes") && Stats.humanSize(64 << 20) == ("64", "MiB") && Stats.humanSize(3 << 29) == ("1.5", "GiB"))
    }

    /// `init --json`'s `seq` is the position of the schema it recorded, or null.
    @Test func initSeqIsANumberOrNull() throws {
        let path = temporaryPath()
        let schema = temporaryPath("schema.json")
        try FileManager.default.createDirectory(atPath: (schema as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try #"{"types":[{"name":"email","kind":"contact","normalize":"email","canGrantAccess":true}]}"#.write(toFile: schema, atomically: true, encoding: .utf8)
        let plain = try jsonLines(["init", "--db", path]).first
        #expect(plain?["seq"] is NSNull, "\(String(describing: plain))")
        let recorded = try jsonLines(["init", "--db", path, "--schema", schema]).first
        #expect(recorded?["seq"] as? Int == 1, "\(String(describing: recorded))")
        let again = try jsonLines(["init", "--db", path, "--schema", schema]).first
        #expect(again?["seq"] is NSNull && again?["created"] as? Bool == false)
    }

    /// `audit` calls events without a source "(none)" in text and JSON alike.
    @Test func auditNamesEventsWithoutASourceTheSameWay() throws {
        let path = temporaryPath()
        try prepare(path, [["identify", "--id", "email=a@example.com"], ["identify", "--id", "email=b@example.com", "--source", "web"]])
        let text = try CLIProcess.run(["audit", "quality", "--db", path]).stdout
        #expect(text.contains("events by source: (none) 2, web 1"), "\(text)")
        let json = try jsonLines(["audit", "quality", "--db", path]).first?["quality"] as? [String: Any]
        #expect(json?["eventsBySource"] as? [String: Int] == ["(none)": 2, "web": 1], "\(String(describing: json))")
    }
}
