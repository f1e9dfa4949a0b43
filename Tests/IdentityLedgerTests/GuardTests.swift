import Foundation
import Testing
@testable import IdentityLedger

/// Each guard on its own: it fails exactly when behaviour §4 says, and every
/// merge records all three results.
struct GuardTests {
    @Test func uniqueIdConflictBlocksDifferentValuesOfABlockingType() async throws {
        let ledger = try await makeLedger()
        let a = try await ledger.identify("external_id=A", "email=shared@example.com")
        let b = try await ledger.identify("external_id=B", "email=shared@example.com")
        #expect(b.created)
        let guards = try #require(b.declined.first { $0.customer == a.customer }?.guards)
        let unique = try #require(guards.first { $0.guard == .uniqueIdConflict })
        #expect(!unique.passed)
        #expect(Set(unique.evidence.map(\.identifier)) == Set(ids("external_id=A", "external_id=B")))
        // Each value names the side holding it, in the result and in the logged decline; the
        // sentence is rendered from them.
        let sides = { (results: [GuardResult]) in
            results.first { $0.guard == .uniqueIdConflict }?.evidence.map { "\($0.side.map { "\($0)" } ?? "nil") \($0.identifier)" }
        }
        #expect(sides(guards) == ["cluster external_id=B", "candidate external_id=A"])
        #expect(unique.detail == "external_id differs: B here, A on customer \(a.customer) (blockMergeOnConflict)")
        let logged = try ledger.events(from: 1, limit: 10).compactMap { event -> [GuardResult]? in
            if case .mergeDeclined(_, _, let guards) = event.body { return guards } else { return nil }
        }
        #expect(logged.count == 1 && sides(logged[0]) == sides(guards) && logged[0] == guards)
    }

    @Test func uniqueIdConflictIgnoresTypesWithoutBlocking() async throws {
        var schema = Schema.default
        schema.types[1].blockMergeOnConflict = false // external_id
        let ledger = try await makeLedger(schema: schema)
        let a = try await ledger.identify("external_id=A", "email=shared@example.com")
        let b = try await ledger.identify("external_id=B", "email=shared@example.com")
        #expect(b.customer == a.customer)
        // Without the block, the survivor holds both values of the unique type.
        #expect(try ledger.customer(.id(a.customer)).identifiers.filter { $0.type == "external_id" }.count == 2)
    }

    @Test func uniqueIdConflictPassesWhenOneSideHasNoValue() async throws {
        let ledger = try await makeLedger()
        let guest = try await ledger.identify("email=g@example.com")
        let member = try await ledger.identify("external_id=M-9", "email=g@example.com")
        #expect(member.customer == guest.customer)
        #expect(!member.created)
    }

    @Test func accessContactsDifferWhenTheCommandLogsInWithAnotherContact() async throws {
        let ledger = try await makeLedger()
        let account = try await ledger.identify("email=a@example.com", "phone=+447700900001", access: ["email"])
        let other = try await ledger.identify("email=b@example.com", "phone=+447700900001", access: ["email"])
        #expect(other.created)
        #expect(other.declinedGuards(account.customer) == [GuardName.accessContactsDiffer])
    }

    @Test func accessContactsDifferWhenAnAcceptedCustomerAlreadyHasAccess() async throws {
        let ledger = try await makeLedger()
        let one = try await ledger.identify("email=one@example.com", access: ["email"])
        let two = try await ledger.identify("phone=+447700900002", access: ["phone"])
        // Both accounts match; the first is accepted, the second is an account of its own.
        let result = try await ledger.identify("email=one@example.com", "phone=+447700900002")
        #expect(result.customer == one.customer)
        #expect(result.merged.isEmpty)
        #expect(result.declinedGuards(two.customer) == [GuardName.accessContactsDiffer])
    }

    @Test func aGuestWithoutCredentialsMergesIntoAnAccount() async throws {
        let ledger = try await makeLedger()
        let guest = try await ledger.identify("phone=+447700900003", properties: ["cart": 3])
        let account = try await ledger.identify("email=c@example.com", access: ["email"])
        let login = try await ledger.identify("email=c@example.com", "phone=+447700900003", access: ["email"])
        #expect(login.customer == guest.customer) // lowest known ID survives
        #expect(login.merged == [account.customer])
        let merge = try #require(try ledger.events(limit: 100).last { $0.kind == "merged" })
        guard case .merged(_, _, let trigger, let guards, let forced) = merge.body else { return }
        #expect(!forced)
        #expect(guards.map(\.guard) == GuardName.evaluatedByDefault && guards.allPassed)
        #expect(!trigger.isEmpty)
    }

    @Test func softIdOnlyKeepsKnownCustomersApartButAdoptsAnonymousOnes() async throws {
        let ledger = try await makeLedger()
        let anonymous = try await ledger.identify("cookie=k1")
        let known = try await ledger.identify("email=d@example.com", "cookie=k1")
        #expect(known.customer == anonymous.customer) // the anonymous visitor becomes known
        #expect(!known.created)

        let second = try await ledger.identify("email=e@example.com", "cookie=k1")
        #expect(second.created)
        #expect(second.declinedGuards(known.customer) == [GuardName.softIdOnly])
    }

    @Test func everyFailingGuardIsReportedAndADeclineIsRecordedOncePerPairAndGuardSet() async throws {
        let ledger = try await makeLedger()
        let first = try await ledger.identify("external_id=X1", "email=f@example.com", "phone=+447700900005", access: ["email"])
        let second = try await ledger.identify("external_id=X3", "email=g@example.com", "phone=+447700900005", access: ["email"])
        #expect(second.created)
        #expect(second.declinedGuards(first.customer) == [GuardName.uniqueIdConflict, .accessContactsDiffer])
        let again = try await ledger.identify("external_id=X3", "email=g@example.com", "phone=+447700900005", access: ["email"])
        #expect(again.customer == second.customer)
        #expect(!again.declined.isEmpty)
        let declines = try ledger.events(limit: 100).filter { $0.kind == "mergeDeclined" }
        #expect(declines.count == 1)
        guard case .mergeDeclined(let customer, let candidate, let guards)? = declines.first?.body else { return }
        #expect(Set([customer, candidate]) == [first.customer, second.customer])
        #expect(guards.map(\.guard) == GuardName.evaluatedByDefault)
    }

    @Test func manualMergeIsForcedAndRecordsTheGuards() async throws {
        let ledger = try await makeLedger()
        let a = try await ledger.identify("external_id=P1", "email=p@example.com", access: ["email"])
        let b = try await ledger.identify("external_id=P2", "email=p2@example.com", access: ["email"])
        try await expectRefused(ledger, code: "mergeBlocked") {
            _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops", requireGuards: true))
        }
        let merge = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops", note: "same person"))
        #expect(merge.merged == [b.customer])
        #expect(Set(merge.guards.failing) == [.uniqueIdConflict, .accessContactsDiffer])
        let event = try #require(try ledger.events(limit: 100).last)
        #expect(event.actor == "ops" && event.note == "same person")
        guard case .merged(_, _, _, _, let forced) = event.body else { Issue.record("not a merge"); return }
        #expect(forced)
        // After a forced merge the survivor holds both cards and both logins.
        let survivor = try ledger.customer(.id(b.customer))
        #expect(survivor.id == a.customer)
        #expect(survivor.identifiers.filter(\.access).count == 2)
        #expect(try ledger.owner("external_id=P2") == a.customer)
    }
    /// Identify reads its candidates without their soft identifiers. On random streams,
    /// every guard result (verdict, detail, evidence) and the known/anonymous call must be
    /// what the full customers give, in both of identify's uses: a pair of customers, and a
    /// command's values plus an accepted customer against the next candidate.
    @Test(arguments: [UInt64(21), 22])
    func guardsGiveTheSameResultsWithoutSoftIdentifiers(seed: UInt64) async throws {
        let (ledger, _) = try await PropertyTests.storeAfterRandomStream(seed: seed, commands: 600)
        let schema = try ledger.schema()
        let soft = schema.types.filter { $0.kind == .soft }.map(\.name)
        try ledger.env.read { txn in
            let reader = ProjectionReader(txn: txn, db: ledger.db)
            let count = CustomerID(try reader.customerCount)
            var rng = SeededGenerator(seed: seed)
            var softSkipped = 0
            for _ in 0..<400 {
                let ids = (0..<3).map { _ in CustomerID.random(in: 1...count, using: &rng) }
                let full = try ids.map(reader.existingCustomer)
                let views = try ids.map { CustomerHoldings(id: $0, identifiers: try reader.heldIdentifiers(of: $0, excluding: soft)) }
                softSkipped += full[1].identifiers.count - views[1].identifiers.count
                let bySoft = Bool.random(using: &rng)
                #expect(Cluster(customer: full[0], schema: schema).evaluate(full[1], reachedOnlyBySoft: bySoft)
                    == Cluster(customer: views[0], schema: schema).evaluate(views[1], reachedOnlyBySoft: bySoft))

                let presented = full[0].identifiers.filter { _ in Bool.random(using: &rng) }
                    .map { PresentedIdentifier(identifier: $0.identifier, access: $0.access) }
                var withFull = Cluster(presented: presented, schema: schema)
                var withViews = Cluster(presented: presented, schema: schema)
                withFull.accept(full[2])
                withViews.accept(views[2])
                #expect(withFull.isKnown(full[2]) == withViews.isKnown(views[2]))
                #expect(withFull.evaluate(full[1], reachedOnlyBySoft: bySoft) == withViews.evaluate(views[1], reachedOnlyBySoft: bySoft))
            }
            // The stream gives customers soft identifiers, so the views did leave some out.
            #expect(softSkipped > 0)
        }
    }
    /// Skipping soft types matches type names exactly: `cookie_id` (unique, blocking) is
    /// read although soft `cookie` is a prefix of its name, so its conflict declines the merge.
    @Test func aTypeNamedLikeASoftOneStillCountsForTheGuards() async throws {
        let schema = Schema(types: Schema.default.types + [IdentifierType(name: "cookie_id", kind: .unique, blockMergeOnConflict: true)])
        let ledger = try await makeLedger(schema: schema)
        let ann = try await ledger.identify("email=ann@example.com", "cookie_id=K1", "cookie=c1")
        let next = try await ledger.identify("email=ann@example.com", "cookie_id=K2")
        #expect(next.customer != ann.customer)
        #expect(next.declined.map(\.customer) == [ann.customer])
        #expect(next.declined.first?.guards.first { $0.guard == .uniqueIdConflict }?.passed == false)
    }
}

/// Stored events name guards by bit: the bits are pinned, whatever the order of the cases.
@Suite struct GuardBitTests {
    @Test func eachGuardHasItsFixedBit() {
        let bits = Dictionary(uniqueKeysWithValues: GuardName.allCases.map { ($0.rawValue, $0.bit) })
        #expect(bits == ["uniqueIdConflict": 1, "accessContactsDiffer": 2, "softIdOnly": 4, "valueLimit": 8])
        for name in GuardName.allCases { #expect(GuardName(bit: name.bit) == name) }
        #expect(GuardName(bit: 16) == nil && GuardName(bit: 0) == nil && GuardName(bit: 3) == nil)
    }

    @Test func aStoredFailingGuardSetDecodesToItsGuards() throws {
        #expect(DeclinedCandidate(customer: 9, failingMask: 0b101).failingGuards == [.uniqueIdConflict, .softIdOnly])
        #expect(DeclinedCandidate(customer: 9, failingMask: 0b010).failingGuards == [.accessContactsDiffer])
        // A guard result as event format 4 stored it: its bit, passed, detail, evidence.
        var stored = BinaryWriter()
        stored.write(byte: 2)
        stored.write(false)
        stored.write("contacts differ")
        stored.write([Identifier(type: "email", value: "a@example.com")]) { $0.write($1) }
        var reader = BinaryReader(stored.bytes)
        #expect(try reader.readGuardResult(version: 4) == GuardResult(
            guard: .accessContactsDiffer, passed: false, finding: .written("contacts differ"),
            evidence: [GuardEvidence(Identifier(type: "email", value: "a@example.com"), side: nil)]))
        var unknown = BinaryReader([16, 0])
        #expect(throws: BinaryReader.Failure.self) { try unknown.readGuardResult(version: 5) }

        // The fixture of the current format, written before the bits were written out: Bob's
        // decline (event 7) is stored under accessContactsDiffer's bit, 2.
        let path = temporaryPath("fixture-bits")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: FormatFixtureTests.fixture(format: Ledger.storeFormat), toPath: path + "/data.mdb")
        let ledger = try Ledger.open(path: path)
        #expect(try ledger.env.read { txn in try txn.count(ledger.db.declines) } == 1)
        try ledger.env.read { txn in
            try txn.forEach(ledger.db.declines, prefix: []) { entry in
                #expect(entry.key.last == 2, "decline key \(entry.key)")
                return true
            }
        }
        let events = try ledger.events(limit: .max)
        if case .mergeDeclined(_, _, let guards) = events[6].body {
            #expect(guards.failing == [.accessContactsDiffer] && guards.map(\.guard) == [.uniqueIdConflict, .accessContactsDiffer, .softIdOnly])
        } else {
            Issue.record("event 7 is \(events[6].kind)")
        }
    }
}
