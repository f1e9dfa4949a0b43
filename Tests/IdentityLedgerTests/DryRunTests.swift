import Foundation
import Testing
@testable import IdentityLedger

/// A dry run decides against the same state as the real run and returns the same result,
/// field by field, while the store's data file stays byte for byte as it was.
@Suite struct DryRunTests {
    /// The couple of the fitness club: one household phone, a loyalty card each.
    private func couple() async throws -> Ledger {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("external_id=card-1", "phone=+447700900111", "email=ann@example.com", access: ["email"])
        _ = try await ledger.identify("external_id=card-2", "phone=+447700900111")
        _ = try await ledger.identify("cookie=c-web", "email=bob@example.com")
        _ = try await ledger.identify("cookie=c-anon") // an anonymous visitor, customer 4
        _ = try await ledger.identify("email=erin@example.com") // customer 5
        return ledger
    }

    private func outcome(_ body: () async throws(LedgerError) -> CommandResult) async -> Result<CommandResult, LedgerError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    private func dataFile(_ ledger: Ledger) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: ledger.env.path + "/data.mdb"))
    }

    /// Runs `command` dry, checks nothing changed, then for real: the results must be equal.
    @discardableResult
    private func expectDryRunMatches(_ command: Command, on ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Result<CommandResult, LedgerError> {
        let before = try dataFile(ledger)
        let events = try ledger.events(limit: 1000).count
        let dry = await outcome { () async throws(LedgerError) in try await ledger.execute(command, dryRun: true) }
        #expect(try dataFile(ledger) == before, "a dry run changed the data file", sourceLocation: sourceLocation)
        #expect(try ledger.events(limit: 1000).count == events, sourceLocation: sourceLocation)
        let real = await outcome { () async throws(LedgerError) in try await ledger.execute(command) }
        #expect(dry == real, sourceLocation: sourceLocation)
        return real
    }

    @Test func identifyDeclinesAndMergesAsTheRealRunDoes() async throws {
        let ledger = try await couple()
        // Declined: the phone reaches both card holders, whose cards differ.
        let declined = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("phone=+447700900111", "external_id=card-3"))), on: ledger).get()
        #expect(declined.created && declined.declined.count == 2)
        // Merged: the anonymous visitor signs in as Erin.
        let merged = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("cookie=c-anon", "email=erin@example.com"))), on: ledger).get()
        #expect(merged.customer == 5 && merged.merged == [4])
        // Created, with a warning for an identifier sent as a property.
        let warned = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("email=new@example.com"), properties: ["phone": "+447700900999"])), on: ledger).get()
        #expect(warned.created && warned.warnings.map(\.code) == ["identifierInProperties"])
        // Refused: an access contact another customer logs in with.
        let refused = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("email=ann@example.com", "external_id=card-2"), access: ["email"])), on: ledger)
        #expect(refused.failureCode == "accessContactInUse")
        // An idempotent repeat answers the first result; the same eventId with other content is refused.
        let first = try await ledger.identify(IdentifyCommand(identifiers: ids("email=gus@example.com"), context: CommandContext(eventId: "e-1")))
        let repeated = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("email=gus@example.com"), context: CommandContext(eventId: "e-1"))), on: ledger).get()
        #expect(repeated == first)
        let conflict = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("email=hal@example.com"), context: CommandContext(eventId: "e-1"))), on: ledger)
        #expect(conflict.failureCode == "eventIdConflict")
    }

    /// The first command of an empty store also seeds the default schema: the positions say so.
    @Test func aDryRunOnAnEmptyStoreReportsThePositionsOfItsFirstWrite() async throws {
        let ledger = try await makeLedger()
        let result = try await expectDryRunMatches(.identify(IdentifyCommand(identifiers: ids("email=ann@example.com"))), on: ledger).get()
        #expect(result.seq == [2])
    }

    @Test func updateMergeAndDetachAsTheRealRunDoes() async throws {
        let ledger = try await couple()
        try await expectDryRunMatches(.update(UpdateCommand(identifiers: ids("external_id=card-1"), properties: ["tier": "gold"])), on: ledger)
        try await expectDryRunMatches(.update(UpdateCommand(identifiers: ids("phone=+447700900111"), properties: ["tier": "gold"])), on: ledger)
        try await expectDryRunMatches(.merge(MergeCommand(into: .id(1), from: .id(2), actor: "ops", requireGuards: true)), on: ledger)
        try await expectDryRunMatches(.merge(MergeCommand(into: .id(1), from: .id(2), actor: "ops", note: "same person")), on: ledger)
        try await expectDryRunMatches(.detach(DetachCommand(customer: .id(1), identifier: Identifier(type: "email", value: "ANN@example.com"), actor: "ops")), on: ledger)
        try await expectDryRunMatches(.detach(DetachCommand(customer: .id(3), identifier: Identifier(type: "email", value: "nobody@example.com"), actor: "ops")), on: ledger)
    }

    @Test func aBatchDryRunSeesItsOwnEarlierCommands() async throws {
        let ledger = try await couple()
        let commands: [Command] = [
            .identify(IdentifyCommand(identifiers: ids("email=carol@example.com", "external_id=card-7"))),
            .update(UpdateCommand(identifiers: ids("external_id=card-7"), properties: ["tier": "silver"])),
            .identify(IdentifyCommand(identifiers: ids("email=bad"))),
            .merge(MergeCommand(into: .id(6), from: .id(3), actor: "ops")),
        ]
        let before = try dataFile(ledger)
        let dry = try await ledger.execute(batch: commands, dryRun: true)
        #expect(try dataFile(ledger) == before)
        let real = try await ledger.execute(batch: commands)
        #expect(dry == real)
        #expect(try dry[1].get().customer == 6) // the update found the customer the first command created
    }

    @Test func anImportDryRunCountsAndRejectsAsTheRealRunDoes() async throws {
        let ledger = try await couple()
        let file = temporaryPath("customers.csv")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try """
            external_id,email,name
            card-1,ann@example.com,Ann
            card-5,erin@example.com,Erin
            card-5,erin@example.com,Erin again
            card-6,ann@example.com,Not Ann
            card-8,bad,Bad
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let before = try dataFile(ledger)
        let dry = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".dry-errors", dryRun: true)
        #expect(try dataFile(ledger) == before)
        let real = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".errors")
        #expect([dry.rows, dry.created, dry.updated, dry.rejected] == [real.rows, real.created, real.updated, real.rejected])
        #expect([dry.rows, dry.created, dry.updated, dry.rejected] == [5, 2, 2, 1]) // card-6 shares a contact that grants no access: no conflict
        #expect(try String(contentsOfFile: file + ".dry-errors", encoding: .utf8) == String(contentsOfFile: file + ".errors", encoding: .utf8))
    }

    @Test func aDryRunOnANewPathCreatesNothingAndPrintsTheRealResult() throws {
        let path = temporaryPath()
        let arguments = ["identify", "--id", "email=ann@example.com", "--access", "email", "--json", "--db", path]
        let dry = try CLIProcess.run(arguments + ["--dry-run"])
        #expect(dry.status == 0)
        #expect(dry.stderr.contains("dry run: nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: path))
        let real = try CLIProcess.run(arguments)
        #expect(real.status == 0)
        #expect(dry.stdout == real.stdout)
        #expect(real.stdout.contains(#""created":true"#))
    }

    /// Where no store could be created, a dry run fails as the real run does.
    @Test func aDryRunWhereNoStoreCanBeCreatedFailsAsTheRealRun() throws {
        let file = temporaryPath("plain-file")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "not a directory".write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = ["identify", "--id", "email=ann@example.com", "--db", file + "/store"]
        let dry = try CLIProcess.run(arguments + ["--dry-run"])
        let real = try CLIProcess.run(arguments)
        #expect(real.status == 1 && real.stderr.contains("notADirectory"), "\(real.stderr)")
        #expect(dry.status == real.status)
        #expect(dry.stderr.contains("notADirectory"), "\(dry.stderr)")
    }

    @Test func anIngestDryRunDecidesEachLineAfterTheOnesBefore() throws {
        let path = temporaryPath()
        let input = [
            #"{"op":"identify","ids":{"external_id":"k-1","email":"ann@example.com"}}"#,
            #"{"op":"update","ids":{"external_id":"k-1"},"properties":{"tier":"gold"}}"#,
            #"{"op":"identify","ids":{"email":"bad"}}"#,
        ].joined(separator: "\n") + "\n"
        let dry = try CLIProcess.run(["ingest", "-", "--json", "--dry-run", "--db", path], input: input)
        #expect(dry.status == 2)
        #expect(!FileManager.default.fileExists(atPath: path))
        let real = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        #expect(dry.stdout == real.stdout)
        #expect(real.stdout.split(separator: "\n").count == 3)
    }
}

extension Result where Failure == LedgerError {
    /// The error's code, nil for a success.
    var failureCode: String? {
        if case .failure(let error) = self { error.code } else { nil }
    }
}
