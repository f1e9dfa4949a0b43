import Foundation
import Testing
@testable import IdentityLedger

/// The stories of docs/behaviour.md §10, one test each.
struct StoryTests {
    /// §10.1: a couple at a fitness club share the household phone, each with
    /// their own membership card. The phone matches; the cards prove two people.
    @Test func fitnessClubCoupleStaysApart() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("external_id=M-1", "phone=+44 20 7946 0958", properties: ["name": "Ann"])
        let bob = try await ledger.identify("external_id=M-2", "phone=+442079460958", properties: ["name": "Bob"])

        #expect(ann.created && bob.created)
        #expect(ann.customer != bob.customer)
        #expect(bob.merged.isEmpty)
        #expect(bob.declinedGuards(ann.customer) == [GuardName.uniqueIdConflict])
        // Bob's identify event records the declined candidate with the guard that failed.
        let identified = try #require(try ledger.events(from: bob.seq.first!, limit: 1).first)
        if case .identified(_, _, _, _, let declined, _) = identified.body {
            #expect(declined.map(\.customer) == [ann.customer] && declined.first?.failingGuards == [.uniqueIdConflict])
        } else {
            Issue.record("event \(identified.seq) is \(identified.kind)")
        }
        // Both hold the phone; neither lost their card.
        #expect(try ledger.lookup(Identifier(type: "phone", value: "+442079460958")).map(\.customer) == [ann.customer, bob.customer])
        #expect(try ledger.customer(.id(bob.customer)).properties["name"] == .string("Bob"))

        // The decline is on record once, with all three guard results.
        let declines = try ledger.events(limit: 100).filter { $0.kind == "mergeDeclined" }
        #expect(declines.count == 1)
        if case .mergeDeclined(_, _, let guards)? = declines.first?.body {
            #expect(guards.map(\.guard) == GuardName.evaluatedByDefault)
        }

        // A till scan of the shared phone alone cannot say whose visit it is.
        try await expectRefused(ledger, code: "ambiguousCustomer") {
            try await ledger.identify("phone=+442079460958")
        }
        // Ann scanning her card with the phone is hers, and records nothing new about Bob.
        let visit = try await ledger.identify("external_id=M-1", "phone=+442079460958")
        #expect(visit.customer == ann.customer && !visit.created)
        #expect(try ledger.events(limit: 100).filter { $0.kind == "mergeDeclined" }.count == 1)
    }

    /// §10.2: a till customer logs in with the phone, a web customer with the
    /// email; the web customer later adds the same phone at checkout.
    @Test func tillAndWebCustomersSharingAPhoneStayApart() async throws {
        let ledger = try await makeLedger()
        let till = try await ledger.identify("phone=+15551234567", access: ["phone"], properties: ["channel": "pos"])
        let web = try await ledger.identify("email=b@example.com", access: ["email"])
        let checkout = try await ledger.identify("email=b@example.com", "phone=+1 555 123 4567", access: ["email"])

        #expect(checkout.customer == web.customer)
        #expect(checkout.merged.isEmpty)
        #expect(checkout.declinedGuards(till.customer) == [.accessContactsDiffer])
        // The phone now sits on both; it still grants access only to the till customer.
        let holders = try ledger.lookup(Identifier(type: "phone", value: "+15551234567"))
        #expect(holders.map(\.customer) == [till.customer, web.customer])
        #expect(holders.map(\.access) == [true, false])

        // Declaring the phone as the web customer's login would hand over the till account.
        let error = try await expectRefused(ledger, code: "accessContactInUse") {
            try await ledger.identify("email=b@example.com", "phone=+15551234567", access: ["email", "phone"])
        }
        if case .accessContactInUse(let identifier, let owner, let guards)? = error {
            #expect(identifier == Identifier(type: "phone", value: "+15551234567"))
            #expect(owner == till.customer)
            #expect(guards.failing == [.accessContactsDiffer])
        }
    }

    /// §10.3: an import re-uses a technical ID that belongs to another customer.
    @Test func reusedTechnicalIdIsRefusedNamingTheOwner() async throws {
        let ledger = try await makeLedger()
        let owner = try await ledger.identify("technical_id=T-1", "external_id=E-1", "email=a@example.com", access: ["email"])

        // Another person's record carrying T-1: their own external ID conflicts.
        let conflict = try await expectRefused(ledger, code: "duplicateUniqueIdentifier") {
            try await ledger.identify("technical_id=T-1", "external_id=E-2")
        }
        if case .duplicateUniqueIdentifier(let identifier, let ownerID, let guards)? = conflict {
            #expect(identifier == Identifier(type: "technical_id", value: "T-1"))
            #expect(ownerID == owner.customer)
            #expect(guards.failing == [.uniqueIdConflict])
        }
        // A different login email with T-1: the access guard keeps the account safe.
        let access = try await expectRefused(ledger, code: "duplicateUniqueIdentifier") {
            try await ledger.identify("technical_id=T-1", "email=other@example.com", access: ["email"])
        }
        if case .duplicateUniqueIdentifier(_, let ownerID, let guards)? = access {
            #expect(ownerID == owner.customer)
            #expect(guards.failing == [.accessContactsDiffer])
        }
        // Re-sending the owner's own data is a match, not an error.
        let again = try await ledger.identify("technical_id=T-1", "email=A@Example.com", access: ["email"])
        #expect(again.customer == owner.customer && !again.created)
    }

    /// §10.4: the website sent the email with `update` instead of `identify`; the profiles
    /// stay apart with a warning until an identify with the email and the cookie merges them.
    @Test func updateThatShouldHaveBeenIdentify() async throws {
        let ledger = try await makeLedger()
        let pos = try await ledger.identify("email=ann@example.com", access: ["email"], properties: ["name": "Ann"])
        let visitor = try await ledger.identify("cookie=c-42")
        let wrong = try await ledger.update("cookie=c-42", properties: ["email": "ann@example.com"])

        #expect(wrong.customer == visitor.customer)
        #expect(wrong.warnings.map(\.code) == ["identifierInProperties"])
        #expect(try ledger.customer(.id(visitor.customer)).identifiers.map { $0.type } == ["cookie"])
        #expect(try ledger.lookup(Identifier(type: "email", value: "ann@example.com")).map(\.customer) == [pos.customer])

        // The fix: identify with the confirmed email together with the cookie.
        let fixed = try await ledger.identify("email=ann@example.com", "cookie=c-42")
        #expect(fixed.customer == pos.customer)
        #expect(fixed.merged == [visitor.customer])
        let merged = try ledger.customer(.id(visitor.customer))
        #expect(merged.id == pos.customer)
        #expect(merged.resolvedFrom?.id == visitor.customer)
        #expect(merged.resolvedFrom?.mergedInto == pos.customer)
        #expect(merged.properties["email"] == .string("ann@example.com"))
        #expect(merged.properties["name"] == .string("Ann"))
        #expect(merged.mergedFrom == [visitor.customer])
    }

    /// A shared browser: two known people log in on the same browser; the cookie never merges them,
    /// and it follows the last person who logged in.
    /// A soft value that nobody claimed (imports claim nothing) goes to its first holder: the
    /// lowest customer ID, for identify and update alike (docs/decisions.md).
    @Test func anUnclaimedSoftValueGoesToItsFirstHolder() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("shared.csv", """
            email,cookie
            ann@example.com,shared
            bob@example.com,shared

            """)
        let summary = try await ledger.importFile(at: file, matchBy: "email")
        #expect(summary.created == 2)
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "shared")).map(\.customer) == [1, 2])
        let visit = try await ledger.identify("cookie=shared")
        #expect(visit.customer == 1 && !visit.created && visit.merged.isEmpty)
        let update = try await ledger.update("cookie=shared", properties: ["seen": true])
        #expect(update.customer == 1)
    }

    @Test func sharedBrowserNeverMergesTwoKnownCustomers() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", "cookie=shared", access: ["email"])
        let bob = try await ledger.identify("email=bob@example.com", "cookie=shared", access: ["email"])

        #expect(bob.created)
        #expect(bob.declinedGuards(ann.customer).contains(.softIdOnly))
        // Bob logged in last: anonymous activity on the browser now belongs to him.
        let browsing = try await ledger.identify("cookie=shared")
        #expect(browsing.customer == bob.customer)
        let update = try await ledger.update("cookie=shared", properties: ["lastPage": "/shoes"])
        #expect(update.customer == bob.customer)
        // Ann logs in again and takes the browser back.
        _ = try await ledger.identify("email=ann@example.com", "cookie=shared", access: ["email"])
        #expect(try await ledger.identify("cookie=shared").customer == ann.customer)
    }
}
