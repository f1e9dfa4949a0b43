import Foundation
import Testing
@testable import IdentityLedger
@testable import idledger

@Suite struct DurabilityTests {
    @Test func fullIsTheDefault() {
        #expect(Ledger.Options().durability == .full)
    }

    /// The mapping from `IDLEDGER_DURABILITY` to the store's options (the process test below can
    /// only see that a nosync run succeeds, not that it skipped the syncs).
    @Test func theCLIsDurabilityComesFromTheEnvironment() throws {
        let options = try GlobalOptions.parse([])
        #expect(try options.ledgerOptions(environment: [:]).durability == .full)
        #expect(try options.ledgerOptions(environment: ["IDLEDGER_DURABILITY": ""]).durability == .full)
        #expect(try options.ledgerOptions(environment: ["IDLEDGER_DURABILITY": "Full"]).durability == .full)
        #expect(try options.ledgerOptions(environment: ["IDLEDGER_DURABILITY": "nosync"]).durability == .noSync)
        #expect(try options.ledgerOptions(environment: ["IDLEDGER_DURABILITY": "NOSYNC"]).durability == .noSync)
        #expect(throws: CLIError.self) { try options.ledgerOptions(environment: ["IDLEDGER_DURABILITY": "sometimes"]) }
    }

    @Test func theCLIChoosesNoSyncByEnvironmentAndRefusesAnUnknownMode() throws {
        let path = temporaryPath()
        let line = #"{"op":"identify","ids":{"email":"a@example.com"}}"#
        let nosync = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: line, environment: ["IDLEDGER_DURABILITY": "nosync"])
        #expect(nosync.status == 0, "\(nosync.stderr)")
        #expect(try Ledger.open(path: path).lookup(Identifier(type: "email", value: "a@example.com")).map(\.customer) == [1])
        let bogus = try CLIProcess.run(["stats", "--db", path, "--json"], environment: ["IDLEDGER_DURABILITY": "sometimes"])
        #expect(bogus.status == 1)
        #expect(bogus.stderr.contains("IDLEDGER_DURABILITY"))
    }
}
