import Foundation
import Testing
@testable import IdentityLedger

/// `explain` and `audit` name the right guard and evidence for the stories of behaviour §10.
struct ExplainAuditTests {
    @Test func fitnessCoupleIsKeptApartByTheirCards() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("external_id=M-1", "phone=+442079460958")
        let bob = try await ledger.identify("external_id=M-2", "phone=+442079460958")
        let explanation = try ledger.explain(.id(ann.customer), .id(bob.customer))
        #expect(explanation.verdict == .keptApart)
        #expect(explanation.guards.failing == [.uniqueIdConflict])
        #expect(Set(explanation.conflictingUniqueValues) == Set(ids("external_id=M-1", "external_id=M-2")))
        #expect(explanation.shared == ids("phone=+442079460958"))
        #expect(explanation.decisions.map(\.kind) == ["mergeDeclined"])
    }

    @Test func tillAndWebAccountsAreKeptApartByTheirLogins() async throws {
        let ledger = try await makeLedger()
        let till = try await ledger.identify("phone=+15551234567", access: ["phone"])
        let web = try await ledger.identify("email=w@example.com", "phone=+15551234567", access: ["email"])
        let explanation = try ledger.explain(.identifier(Identifier(type: "email", value: "w@example.com")), .id(till.customer))
        #expect(explanation.a == web.customer)
        #expect(explanation.guards.failing == [.accessContactsDiffer])
        #expect(explanation.accessContactsA == ids("email=w@example.com"))
        #expect(explanation.accessContactsB == ids("phone=+15551234567"))
    }

    @Test func sharedBrowserIsSoftOnly() async throws {
        let ledger = try await makeLedger()
        let gus = try await ledger.identify("email=g@example.com", "cookie=laptop")
        let hana = try await ledger.identify("email=h@example.com", "cookie=laptop")
        let explanation = try ledger.explain(.id(gus.customer), .id(hana.customer))
        #expect(explanation.guards.failing == [.softIdOnly])
        #expect(explanation.softOnlyMatches == ids("cookie=laptop"))
    }

    @Test func mergedProfilesShowTheMergeThatJoinedThem() async throws {
        let ledger = try await makeLedger()
        let account = try await ledger.identify("email=f@example.com", access: ["email"])
        let visitor = try await ledger.identify("cookie=f1")
        _ = try await ledger.identify("email=f@example.com", "cookie=f1")
        let explanation = try ledger.explain(.id(account.customer), .id(visitor.customer))
        #expect(explanation.verdict == .sameCustomer)
        #expect(explanation.guards.isEmpty)
        #expect(explanation.decisions.map(\.kind) == ["merged"])
        // Two customers with nothing in common.
        let stranger = try await ledger.identify("email=s@example.com")
        #expect(try ledger.explain(.id(account.customer), .id(stranger.customer)).verdict == .notLinked)
    }

    @Test func auditListsDuplicatesConfigurationAndQuality() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("external_id=M-1", "phone=+442079460958")
        _ = try await ledger.identify("external_id=M-2", "phone=+442079460958")
        _ = try await ledger.identify(IdentifyCommand(identifiers: ids("cookie=c9"), context: CommandContext(source: "web")))
        _ = try await ledger.update(UpdateCommand(identifiers: ids("cookie=c9"), properties: ["email": "q@example.com"], context: CommandContext(source: "web")))
        let duplicates = try ledger.auditDuplicates()
        #expect(duplicates.count == 1)
        #expect(duplicates.first?.guards.failing == [.uniqueIdConflict])
        let config = try ledger.auditConfiguration()
        #expect(config.blockingTypes == ["technical_id", "external_id"])
        #expect(config.accessTypes == ["email", "phone", "discount_card"])
        let quality = try ledger.auditQuality()
        #expect(quality.identifierInProperties.map(\.key) == ["email"])
        #expect(quality.findingsBySource == ["web": 1])
        #expect(quality.eventsBySource["web"] == 2)
    }
}
