import Foundation
import Testing
@testable import IdentityLedger

/// `subject`: everything held on a person, read in one snapshot from the survivor's own records.
@Suite struct SubjectTests {
    /// Ann (1) with a login email and a member ID; a till profile (2) with her phone, merged
    /// into her when an identify presents both; a third customer (3) with another member ID and
    /// the same phone, whose merge is declined; two property writes, the later-logged one older.
    struct Story {
        let ledger: Ledger
        let ann: CustomerID
        let till: CustomerID
        let other: CustomerID
        let tierWrite: UInt64
    }

    static let newer = Date(millisecondsSince1970: 1_792_000_000_000)
    static let older = Date(millisecondsSince1970: 1_791_000_000_000)

    static func story() async throws -> Story {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", "external_id=M-1", access: ["email"], properties: ["name": "Ann"])
        let till = try await ledger.identify("phone=+442079460958")
        let merge = try await ledger.identify("email=ann@example.com", "phone=+442079460958")
        #expect(merge.customer == ann.customer && merge.merged == [till.customer])
        let other = try await ledger.identify("external_id=M-2", "phone=+442079460958")
        #expect(other.created && other.declinedGuards(ann.customer) == [.uniqueIdConflict])
        let gold = try await ledger.update("email=ann@example.com", properties: ["tier": "gold"], at: newer)
        // Logged later, but it happened earlier: it loses, as it does for `customer`.
        try await ledger.update("email=ann@example.com", properties: ["tier": "silver"], at: older)
        return Story(ledger: ledger, ann: ann.customer, till: till.customer, other: other.customer, tierWrite: gold.seq[0])
    }

    @Test func theAbsorbedIDAndAnIdentifierBothAnswerTheSurvivor() async throws {
        let s = try await Self.story()
        let viaAbsorbed = try s.ledger.subject(.id(s.till))
        let viaEmail = try s.ledger.subject(.identifier(Identifier(type: "email", value: "ANN@example.com")))
        #expect(viaAbsorbed == viaEmail)
        #expect(viaAbsorbed.customer == s.ann)
        #expect(viaAbsorbed.customers.map(\.id) == [s.ann, s.till])
        #expect(viaAbsorbed.customers.map(\.status) == [.active, .merged])
        // The survivor's own profile says the same about it.
        #expect(try s.ledger.customer(.id(s.ann)).mergedFrom == [s.till])
        #expect(viaAbsorbed.asOfSeq == (try s.ledger.position))
    }

    @Test func eachCustomerSaysWhenItWasCreatedAndWhichMergeAbsorbedIt() async throws {
        let s = try await Self.story()
        let report = try s.ledger.subject(.id(s.ann))
        let events = try s.ledger.events(from: 1, limit: .max)
        func created(_ id: CustomerID) -> Event? {
            events.first { if case .identified(id, true, _, _, _, _) = $0.body { true } else { false } }
        }
        let merge = try #require(events.first { if case .merged(s.ann, s.till, _, _, _) = $0.body { true } else { false } })
        let (survivor, absorbed) = (report.customers[0], report.customers[1])
        #expect(survivor.createdSeq == created(s.ann)?.seq && survivor.createdAt == created(s.ann)?.recordedDate)
        #expect(survivor.mergedInto == nil && survivor.mergeSeq == nil && survivor.mergedAt == nil)
        #expect(absorbed.createdSeq == created(s.till)?.seq && absorbed.createdAt == created(s.till)?.recordedDate)
        #expect(absorbed.mergedInto == s.ann && absorbed.mergeSeq == merge.seq && absorbed.mergedAt == merge.recordedDate)
    }

    /// A customer merged into one that was merged in turn is listed too, with its own merge.
    @Test func aChainOfMergesListsEveryCustomer() async throws {
        let ledger = try await makeLedger()
        let a = try await ledger.identify("email=a@example.com").customer
        let b = try await ledger.identify("email=b@example.com").customer
        let c = try await ledger.identify("email=c@example.com").customer
        try await ledger.merge(MergeCommand(into: .id(b), from: .id(c), actor: "ops"))
        try await ledger.merge(MergeCommand(into: .id(a), from: .id(b), actor: "ops"))
        let report = try ledger.subject(.id(c))
        #expect(report.customer == a)
        #expect(report.customers.map(\.id) == [a, b, c])
        #expect(report.customers.map(\.mergedInto) == [nil, a, b])
        #expect(report.history.filter { $0.kind == "merged" }.count == 2)
    }

    @Test func identifiersCarryAccessAndSince() async throws {
        let s = try await Self.story()
        let report = try s.ledger.subject(.id(s.ann))
        let byValue = Dictionary(uniqueKeysWithValues: report.identifiers.map { ($0.identifier.value, $0) })
        #expect(Set(byValue.keys) == ["ann@example.com", "M-1", "+442079460958"])
        let events = try s.ledger.events(from: 1, limit: .max)
        for held in report.identifiers {
            #expect(held.sinceAt == events.first { $0.seq == held.identifier.since }?.recordedDate, "\(held)")
        }
        #expect(byValue["ann@example.com"]?.identifier.access == true)
        #expect(byValue["+442079460958"]?.identifier.access == false)
        // The phone came with the till profile: since the event that created it.
        #expect(byValue["+442079460958"]?.identifier.since == report.customers[1].createdSeq)
        #expect(byValue["ann@example.com"]?.identifier.since == report.customers[0].createdSeq)
        #expect(report.identifiers.map(\.identifier) == (try s.ledger.customer(.id(s.ann)).identifiers))
    }

    @Test func propertiesCarryTheWriteThatHolds() async throws {
        let s = try await Self.story()
        let report = try s.ledger.subject(.id(s.ann))
        #expect(Set(report.properties.keys) == ["name", "tier"])
        #expect(report.properties["tier"] == .init(value: "gold", occurredAt: Self.newer, seq: s.tierWrite))
        #expect(report.properties["name"]?.value == "Ann")
        #expect(report.properties.mapValues(\.value) == (try s.ledger.customer(.id(s.ann)).properties))
    }

    @Test func historyHoldsTheIdentifyTheMergeAndTheDeclinedMerge() async throws {
        let s = try await Self.story()
        let report = try s.ledger.subject(.id(s.till))
        #expect(report.history == (try s.ledger.history(.id(s.ann))))
        #expect(report.history.map(\.seq) == report.history.map(\.seq).sorted())
        #expect(report.history.contains { if case .identified(s.ann, true, _, _, _, _) = $0.body { true } else { false } })
        let mergeGuards = report.history.compactMap { if case .merged(s.ann, s.till, _, let guards, _) = $0.body { guards } else { nil } }
        #expect(mergeGuards.count == 1 && mergeGuards[0].map(\.guard) == GuardName.evaluatedByDefault && mergeGuards[0].allPassed)
        let declined = report.history.compactMap { if case .mergeDeclined(s.other, s.ann, let guards) = $0.body { guards } else { nil } }
        #expect(declined.count == 1 && declined[0].failing == [.uniqueIdConflict])
        #expect(declined.first?.first { $0.guard == .uniqueIdConflict }?.evidence.map(\.identifier).contains(Identifier(type: "external_id", value: "M-2")) == true)
        // The third customer's own creation is not Ann's history.
        #expect(!report.history.contains { if case .identified(s.other, true, _, _, _, _) = $0.body { true } else { false } })
    }

    /// Read while a writer keeps updating the customer, every report agrees with itself: the
    /// property's write is the last update in its history, and nothing is past `asOfSeq`.
    @Test func aReportIsOneSnapshotWhileCommandsCommit() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", properties: ["visits": 0]).customer
        let writer = Task {
            for visit in 1...150 { try await ledger.update("email=ann@example.com", properties: ["visits": .int(Int64(visit))]) }
        }
        for _ in 0..<300 {
            let report = try ledger.subject(.id(ann))
            let last = try #require(report.history.last)
            #expect(last.seq <= report.asOfSeq)
            #expect(report.properties["visits"]?.seq == last.seq, "\(report.properties) vs \(last.seq)")
            if case .updated(_, _, _, let writes) = last.body { #expect(writes.first?.value == report.properties["visits"]?.value) }
            await Task.yield()
        }
        try await writer.value
        #expect(try ledger.subject(.id(ann)).properties["visits"]?.value == .int(150))
    }

    @Test func anUnknownCustomerIsRefused() async throws {
        let s = try await Self.story()
        let byID = await ledgerError { _ = try s.ledger.subject(.id(99)) }
        #expect(byID?.code == "customerNotFound")
        let byValue = await ledgerError { _ = try s.ledger.subject(.identifier(Identifier(type: "email", value: "nobody@example.com"))) }
        #expect(byValue?.code == "customerNotFound")
        // The phone is held by Ann and the third customer: it names no one customer.
        let shared = await ledgerError { _ = try s.ledger.subject(.identifier(Identifier(type: "phone", value: "+442079460958"))) }
        #expect(shared?.code == "ambiguousCustomer")
    }

    /// The report's JSON: times as ISO 8601, the merge keys null for the survivor, events as `history --json` writes them.
    @Test func theReportEncodesAsOneDocument() async throws {
        let s = try await Self.story()
        let report = try s.ledger.subject(.id(s.ann))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        #expect(Set(object.keys) == ["customer", "customers", "identifiers", "properties", "history", "asOfSeq"])
        let customers = try #require(object["customers"] as? [[String: Any]])
        #expect(customers[0]["mergedInto"] is NSNull && customers[1]["mergedInto"] as? Int == Int(s.ann))
        #expect(customers[1]["mergedAt"] as? String == formatTimestamp(report.customers[1].mergedAt!))
        let tier = (object["properties"] as? [String: [String: Any]])?["tier"]
        #expect(tier?["occurredAt"] as? String == "2026-10-14T17:46:40.000Z" && tier?["value"] as? String == "gold")
        let history = try #require(object["history"] as? [[String: Any]])
        #expect(history.count == report.history.count)
        let compact = try #require(try CompactJSONEncoder().encode(EventOutput(report.history[0])).data(using: .utf8))
        #expect(NSDictionary(dictionary: history[0]) == NSDictionary(dictionary: try #require(try JSONSerialization.jsonObject(with: compact) as? [String: Any])))
    }

    /// `idledger subject` through a real process: one JSON document on one line, the report's fields.
    @Test func theCLIPrintsTheReport() throws {
        let path = temporaryPath()
        for arguments in [
            ["identify", "--id", "email=ann@example.com", "--id", "external_id=M-1", "--access", "email", "--prop", "name=Ann"],
            ["identify", "--id", "phone=+442079460958"],
            ["identify", "--id", "email=ann@example.com", "--id", "phone=+442079460958"],
            ["identify", "--id", "external_id=M-2", "--id", "phone=+442079460958"],
            ["update", "--id", "email=ann@example.com", "--prop", "tier=gold", "--at", "2026-10-14T17:46:40Z"],
        ] {
            let run = try CLIProcess.run(arguments + ["--db", path])
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
        }
        for reference in ["2", "email=ann@example.com"] {
            let run = try CLIProcess.run(["subject", reference, "--db", path])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.split(separator: "\n").count == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect(object["customer"] as? Int == 1 && object["asOfSeq"] as? Int == 8)
            let customers = try #require(object["customers"] as? [[String: Any]])
            #expect(customers.map { $0["id"] as? Int } == [1, 2] && customers.map { $0["status"] as? String } == ["active", "merged"])
            #expect(customers[1]["mergedInto"] as? Int == 1 && customers[1]["mergeSeq"] as? Int == 4 && customers[1]["mergedAt"] is String)
            let identifiers = try #require(object["identifiers"] as? [[String: Any]])
            let email = try #require(identifiers.first { $0["type"] as? String == "email" })
            #expect(email["access"] as? Bool == true && email["since"] as? Int == 2 && email["sinceAt"] is String)
            let tier = (object["properties"] as? [String: [String: Any]])?["tier"]
            #expect(tier?["value"] as? String == "gold" && tier?["occurredAt"] as? String == "2026-10-14T17:46:40.000Z" && tier?["seq"] as? Int == 8)
            let history = try #require(object["history"] as? [[String: Any]])
            #expect(history.map { $0["kind"] as? String } == ["identified", "identified", "merged", "identified", "mergeDeclined", "updated"])
            #expect((history[2]["guards"] as? [[String: Any]])?.count == 3)
            #expect(history[4]["customer"] as? Int == 3 && (history[4]["guards"] as? [[String: Any]])?.contains { $0["passed"] as? Bool == false } == true)
        }
        let unknown = try CLIProcess.run(["subject", "99", "--json", "--db", path])
        #expect(unknown.status == 1 && unknown.stdout.isEmpty)
        let error = try JSONSerialization.jsonObject(with: Data(unknown.stderr.utf8)) as? [String: [String: String]]
        #expect(error?["error"]?["code"] == "customerNotFound", "\(unknown.stderr)")
        #expect(try CLIProcess.run(["subject", "007", "--db", path]).status == 64)
    }
}
