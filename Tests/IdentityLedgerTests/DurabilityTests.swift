import Foundation
import Testing
@testable import IdentityLedger

@Suite struct DurabilityTests {
    @Test func fullIsTheDefault() {
        #expect(Ledger.Options().durability == .full)
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
