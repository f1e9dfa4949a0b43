import Testing
import IdentityLedger

/// The error handling shown in Getting started compiles and does what it says.
@Suite struct GettingStartedTests {
    private func signIn(_ ledger: Ledger, email: String, card: String) async -> (CustomerID?, String) {
        do {
            return (try await ledger.identify(IdentifyCommand(
                identifiers: [Identifier(type: "email", value: email), Identifier(type: "external_id", value: card)],
                access: ["email"])).customer, "")
        } catch .accessContactInUse(let identifier, let owner, _) {
            return (nil, "\(identifier) already logs in to customer \(owner)")
        } catch {
            return (nil, "refused: \(error.code)")
        }
    }

    @Test func aRefusalIsCaughtByItsCase() async throws {
        let ledger = try await makeLedger()
        #expect(await signIn(ledger, email: "ann@example.com", card: "M-1").0 == 1)
        #expect(await signIn(ledger, email: "ann@example.com", card: "M-2") == (nil, "email=ann@example.com already logs in to customer 1"))
        #expect(await signIn(ledger, email: "bad", card: "M-3") == (nil, "refused: invalidIdentifierValue"))
    }
}
