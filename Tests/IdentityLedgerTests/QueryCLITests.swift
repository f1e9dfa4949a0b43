import Foundation
import Testing
@testable import IdentityLedger

/// The query commands of `idledger` print what the store holds.
@Suite struct QueryCLITests {
    /// `history --limit N --after SEQ` pages through a customer's events in log order.
    @Test func historyPagesWithLimitAndAfter() throws {
        let path = temporaryPath()
        for i in 1...5 {
            #expect(try CLIProcess.run(["update", "--db", path, "--id", "email=ann@example.com", "--prop", "visit=\(i)"]).status == 0)
        }
        func page(_ arguments: [String]) throws -> [Int] {
            let run = try CLIProcess.run(["history", "email=ann@example.com", "--json", "--db", path] + arguments)
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["seq"] as? Int }
        }
        let all = try page([])
        #expect(all.count == 5)
        let first = try page(["--limit", "2"])
        let second = try page(["--limit", "2", "--after", String(first.last!)])
        let rest = try page(["--after", String(second.last!)])
        #expect(first + second + rest == all && first.count == 2 && second.count == 2)
        #expect(try page(["--limit", "0"]).isEmpty)
    }

    /// `lookup` normalizes the value before looking it up, and prints it as stored.
    @Test func lookupPrintsTheNormalizedValue() throws {
        let path = temporaryPath()
        let identify = try CLIProcess.run(["identify", "--db", path, "--id", "phone=+44 20 7946 0958"])
        #expect(identify.status == 0, "\(identify.stderr)")
        let run = try CLIProcess.run(["lookup", "phone=0044 20 7946 0958", "--json", "--db", path])
        #expect(run.status == 0, "\(run.stderr)")
        let output = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(output?["type"] as? String == "phone" && output?["value"] as? String == "+442079460958")
        #expect((output?["holders"] as? [[String: Any]])?.map { $0["customer"] as? Int } == [1])
    }

    /// `lookup --as-of` reads the value by the schema in force then: a type removed since is
    /// still known at that point (behaviour §2: time travel uses the schema of its point).
    @Test func lookupAsOfUsesTheSchemaOfThatPoint() throws {
        let path = temporaryPath()
        let directory = temporaryPath("schemas")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let withLoyalty = directory + "/with.json", without = directory + "/without.json"
        try #"{"types":[{"name":"email","kind":"contact","normalize":"email","canGrantAccess":true},{"name":"loyalty","kind":"unique"}]}"#
            .write(toFile: withLoyalty, atomically: true, encoding: .utf8)
        try #"{"types":[{"name":"email","kind":"contact","normalize":"email","canGrantAccess":true}]}"#
            .write(toFile: without, atomically: true, encoding: .utf8)
        for arguments in [
            ["init", "--schema", withLoyalty], ["identify", "--id", "email=a@example.com", "--id", "loyalty=L1"],
            ["detach", "1", "loyalty=L1", "--actor", "ops"], ["schema", "set", without],
        ] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        let then = try CLIProcess.run(["lookup", "loyalty=L1", "--as-of", "2", "--json", "--db", path])
        #expect(then.status == 0, "\(then.stderr)")
        let output = try JSONSerialization.jsonObject(with: Data(then.stdout.utf8)) as? [String: Any]
        #expect((output?["holders"] as? [[String: Any]])?.map { $0["customer"] as? Int } == [1])
        let now = try CLIProcess.run(["lookup", "loyalty=L1", "--json", "--db", path])
        #expect(now.status == 1 && now.stderr.contains("unknownIdentifierType"))
    }

    /// A manual merge that every guard allowed is printed as such, not as "forced past" nothing.
    @Test func logPrintsAManualMergeThatEveryGuardAllowed() throws {
        let path = temporaryPath()
        for arguments in [["identify", "--id", "email=a@example.com"], ["identify", "--id", "email=b@example.com"], ["merge", "1", "2", "--actor", "ops"]] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        let log = try CLIProcess.run(["log", "--db", path])
        #expect(log.stdout.contains("merged 2 into 1 (manual; every guard passed)"), "\(log.stdout)")
        #expect(!log.stdout.contains("forced past )"))
    }

    /// `show --json` says since when the customer holds each identifier (behaviour §3: since).
    @Test func showPrintsWhereEachIdentifierWasGot() throws {
        let path = temporaryPath()
        for arguments in [["identify", "--id", "email=a@example.com"], ["identify", "--id", "email=a@example.com", "--id", "cookie=c1"]] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        let show = try CLIProcess.run(["show", "1", "--json", "--db", path])
        let output = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        let identifiers = output?["identifiers"] as? [[String: Any]]
        // Position 1 is the default schema; the email came with 2, the cookie with 3.
        #expect(identifiers?.map { "\($0["value"] ?? "")@\($0["since"] ?? "")" } == ["c1@3", "a@example.com@2"])
    }
}
