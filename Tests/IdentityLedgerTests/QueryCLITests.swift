import Foundation
import Testing
@testable import IdentityLedger

/// The query commands of `idledger` print what the store holds.
@Suite struct QueryCLITests {
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
}
