import Foundation
import Testing
@testable import IdentityLedger

/// Junk identifiers (behaviour §2.7): blocked values and patterns are dropped before
/// resolution, `maxValues` keeps merges from building a mega-profile, and `audit values`
/// lists what is set apart.
@Suite struct JunkIdentifierTests {
    /// The default schema with junk protection on `email`, `phone` and `discount_card`.
    static func junkSchema(maxEmails: Int? = nil) -> Schema {
        var schema = Schema.default
        for index in schema.types.indices {
            switch schema.types[index].name {
            case "email":
                schema.types[index].blockedValues = ["test@test.com"]
                schema.types[index].blockedPatterns = ["noreply@.*"]
                schema.types[index].maxValues = maxEmails
            case "phone": schema.types[index].blockedValues = ["+10000000000"]
            case "discount_card": schema.types[index].blockedPatterns = ["0+", "none|undefined"]
            default: break
            }
        }
        return schema
    }

    /// Two guests giving the junk email stay two customers; each result says the value was dropped.
    @Test func aBlockedValueIsDroppedWithAWarningAndMergesNoOne() async throws {
        let ledger = try await makeLedger(schema: Self.junkSchema())
        let first = try await ledger.identify("email=TEST@test.com", "cookie=c-1")
        let second = try await ledger.identify("email=test@test.com", "cookie=c-2")
        #expect(first.created && second.created && first.customer != second.customer)
        #expect(second.warnings.map(\.code) == ["blockedIdentifier"])
        #expect(second.warnings.first?.message.contains("email=test@test.com") == true, "\(second.warnings)")
        #expect(try ledger.lookup(Identifier(type: "email", value: "test@test.com")).isEmpty)
        #expect(try ledger.customer(.id(first.customer)).identifiers.map(\.identifier) == ids("cookie=c-1"))
        // Patterns match the whole normalized value only.
        let card = try await ledger.identify("discount_card=0000", "discount_card=10000", "email=ann@example.com")
        #expect(card.warnings.map(\.code) == ["blockedIdentifier"])
        #expect(Set(try ledger.customer(.id(card.customer)).identifiers.map(\.identifier)) == Set(ids("email=ann@example.com", "discount_card=10000")))
        let noreply = try await ledger.identify("email=NoReply@shop.example", "phone=+44 7700 900123")
        #expect(noreply.warnings.count == 1)
        #expect(try ledger.owner("phone=+447700900123") == noreply.customer)
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// A command sent again with its eventId gets the first result, warnings included.
    @Test func aRepeatedCommandRepeatsItsBlockedWarning() async throws {
        let ledger = try await makeLedger(schema: Self.junkSchema())
        let first = try await ledger.identify("email=test@test.com", "cookie=c-1", eventId: "e-1")
        let again = try await ledger.identify("email=test@test.com", "cookie=c-1", eventId: "e-1")
        #expect(again == first && again.warnings.map(\.code) == ["blockedIdentifier"], "\(again)")
    }

    /// A command left with nothing but blocked values is `noIdentifiers` naming them, and writes nothing.
    @Test func aCommandOfOnlyBlockedValuesIsNoIdentifiersNamingThem() async throws {
        let ledger = try await makeLedger(schema: Self.junkSchema())
        let error = try await expectRefused(ledger, code: "noIdentifiers") {
            _ = try await ledger.identify("email=test@test.com", "discount_card=undefined")
        }
        #expect(error == .noIdentifiers(blocked: ids("email=test@test.com", "discount_card=undefined")))
        #expect(error?.description.contains("discount_card=undefined") == true, "\(String(describing: error))")
        try await expectRefused(ledger, code: "noIdentifiers") {
            _ = try await ledger.update("phone=+1 000 000 0000", properties: ["plan": "gold"])
        }
        // update drops a blocked value and goes on with the rest.
        let ann = try await ledger.identify("email=ann@example.com")
        let updated = try await ledger.update("email=ann@example.com", "phone=+10000000000", properties: ["plan": "gold"])
        #expect(updated.customer == ann.customer && updated.warnings.map(\.code) == ["blockedIdentifier"])
    }

    /// Blocked values must be written normalized (else they would block nothing), patterns must
    /// compile, and `maxValues` is from 1 (on a soft type too, where it releases values).
    @Test func theSchemaRefusesBlockedValuesItCouldNeverMatch() throws {
        func refusal(_ change: (inout IdentifierType) -> Void, type name: String = "email") -> String? {
            var schema = Schema.default
            change(&schema.types[schema.priority(of: name)!])
            do { try schema.validate() } catch { return error.description }
            return nil
        }
        #expect(refusal { $0.blockedValues = ["Test@Test.com"] }?.contains("\"test@test.com\"") == true)
        #expect(refusal({ $0.blockedValues = ["+1 000 000 0000"] }, type: "phone")?.contains("\"+10000000000\"") == true)
        #expect(refusal { $0.blockedValues = ["no-at-sign"] }?.contains("not a valid value") == true)
        #expect(refusal { $0.blockedPatterns = ["a)|(b"] }?.contains("a)|(b") == true)
        #expect(refusal { $0.blockedPatterns = ["(unclosed"] } != nil)
        #expect(refusal { $0.maxValues = 0 }?.contains("maxValues must be 1 or more") == true)
        #expect(refusal({ $0.maxValues = 3 }, type: "cookie") == nil)
        #expect(refusal({ $0.maxValues = 1 }, type: "external_id") == nil)
        #expect(refusal { $0.blockedValues = ["test@test.com"]; $0.blockedPatterns = [".*@mailinator\\.com"]; $0.maxValues = 5 } == nil)
    }

    /// The fields round-trip through a schema document, and the default schema's document is
    /// unchanged (empty lists are left out).
    @Test func theFieldsReadBackFromTheSchemaDocument() throws {
        let schema = Self.junkSchema(maxEmails: 4)
        let json = String(decoding: try JSONEncoder().encode(schema), as: UTF8.self)
        #expect(try Schema(json: json) == schema)
        let plain = String(decoding: try JSONEncoder().encode(Schema.default), as: UTF8.self)
        #expect(!plain.contains("blocked") && !plain.contains("maxValues"))
        #expect(throws: LedgerError.self) { try Schema(json: #"{"types":[{"name":"e","kind":"contact","blockedValues":"x"}]}"#) }
        #expect(throws: LedgerError.self) { try Schema(json: #"{"types":[{"name":"e","kind":"contact","maxValues":"3"}]}"#) }
    }

    /// Blocking a value later never refuses the schema: the stored value stays with its holders,
    /// stops matching, and `audit values` lists it; a value past `maxHolders` is `sharedValue`.
    @Test func blockingLaterKeepsStoredValuesAndTheAuditListsThem() async throws {
        var schema = Schema.default
        schema.types[schema.priority(of: "phone")!].maxHolders = 3
        let ledger = try await makeLedger(schema: schema)
        let a = try await ledger.identify("email=a@example.com", "discount_card=0000", access: ["email"])
        for i in 1...3 { try await ledger.identify("email=h\(i)@example.com", "phone=+442000000000", access: ["email"]) }
        var blocking = schema
        blocking.types[blocking.priority(of: "discount_card")!].blockedPatterns = ["0+"]
        blocking.types[blocking.priority(of: "email")!].maxValues = 2
        try await ledger.setSchema(blocking)
        #expect(try ledger.owner("discount_card=0000") == a.customer)
        // The stored card is no longer a match path: a new guest with it is a new customer.
        let guest = try await ledger.identify("discount_card=0000", "cookie=c-guest")
        #expect(guest.created && guest.warnings.map(\.code) == ["blockedIdentifier"])
        let junk = try ledger.auditJunkValues()
        #expect(junk == [
            JunkValue(identifier: Identifier(type: "phone", value: "+442000000000"), reason: .sharedValue, holders: 3),
            JunkValue(identifier: Identifier(type: "discount_card", value: "0000"), reason: .blockedValue, holders: 1),
        ])
    }

    /// The reported storm: one junk phone links many guests. With `maxValues` the merges past the
    /// limit are declined by `valueLimit`, recorded with all four guard results.
    @Test func valueLimitDeclinesAMergePastMaxValues() async throws {
        var schema = Schema.default
        schema.types[schema.priority(of: "email")!].maxValues = 1
        let ledger = try await makeLedger(schema: schema)
        let one = try await ledger.identify("email=one@example.com", "phone=+447700900001")
        let two = try await ledger.identify("email=two@example.com")
        // Two's email and one's phone: merging one into two would hold two emails.
        let result = try await ledger.identify("email=two@example.com", "phone=+447700900001")
        #expect(result.customer == two.customer && result.merged.isEmpty)
        #expect(result.declinedGuards(one.customer) == [.valueLimit])
        let guards = try #require(result.declined.first?.guards)
        #expect(guards.map(\.guard) == GuardName.allCases)
        let limit = try #require(guards.first { $0.guard == .valueLimit })
        #expect(limit.evidence.map(\.identifier) == ids("email=one@example.com") && limit.detail.contains("maxValues 1"), "\(limit)")
        let declines = try ledger.events(limit: .max).filter { $0.kind == "mergeDeclined" }
        #expect(declines.count == 1)
        // Attaching is not limited: the first customer found takes a second email.
        let attach = try await ledger.identify("email=one@example.com", "email=one.more@example.com")
        #expect(attach.customer == one.customer && attach.declined.isEmpty)
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// Within the limit the same command merges, and the passing `valueLimit` is recorded.
    @Test func withinMaxValuesTheMergeHappensAndRecordsThePass() async throws {
        var schema = Schema.default
        schema.types[schema.priority(of: "email")!].maxValues = 2
        let ledger = try await makeLedger(schema: schema)
        let one = try await ledger.identify("email=one@example.com", "phone=+447700900001")
        let two = try await ledger.identify("email=two@example.com")
        let result = try await ledger.identify("email=two@example.com", "phone=+447700900001")
        #expect(result.merged == [two.customer] && result.customer == one.customer, "\(result)")
        let merge = try #require(try ledger.history(.id(one.customer)).last { $0.kind == "merged" })
        #expect(merge.mergeGuards.map(\.guard) == GuardName.allCases && merge.mergeGuards.allPassed)
    }

    /// A manual merge records `valueLimit` and is forced as usual; `requireGuards` refuses it.
    @Test func aManualMergeRecordsValueLimitAndRequireGuardsRefusesIt() async throws {
        var schema = Schema.default
        schema.types[schema.priority(of: "email")!].maxValues = 1
        let ledger = try await makeLedger(schema: schema)
        let a = try await ledger.identify("email=a@example.com")
        let b = try await ledger.identify("email=b@example.com")
        let error = try await expectRefused(ledger, code: "mergeBlocked") {
            _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops", requireGuards: true))
        }
        if case .mergeBlocked(let guards)? = error { #expect(guards.failing == [.valueLimit]) } else { Issue.record("\(String(describing: error))") }
        let forced = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops"))
        #expect(forced.guards.failing == [.valueLimit] && forced.merged == [b.customer])
        try expectReplayIdentical(ledger)
    }

    /// Through the CLI: `ingest` reports the warning per line, `schema show` and `audit values` show the fields.
    @Test func theCLIShowsBlockedValuesAndLimits() throws {
        let path = temporaryPath()
        let file = path + "-schema.json"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try String(decoding: try JSONEncoder().encode(Self.junkSchema(maxEmails: 3)), as: UTF8.self).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLIProcess.run(["init", "--db", path, "--schema", file]).status == 0)
        let input = #"{"op":"identify","ids":{"email":"test@test.com","cookie":"c1"}}"# + "\n" + #"{"op":"identify","ids":{"email":"test@test.com"}}"# + "\n"
        let run = try CLIProcess.run(["ingest", "-", "--json", "--db", path], input: input)
        let lines = run.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(((lines.first??["warnings"] as? [[String: Any]])?.first?["code"] as? String) == "blockedIdentifier", "\(run.stdout)")
        #expect(((lines.last??["error"] as? [String: Any])?["code"] as? String) == "noIdentifiers", "\(run.stdout)")
        let show = try CLIProcess.run(["schema", "show", "--db", path])
        #expect(show.stdout.contains("maxValues 3") && show.stdout.contains(#"blockedValues "test@test.com""#) && show.stdout.contains(#"blockedPatterns "0+""#), "\(show.stdout)")
        let audit = try CLIProcess.run(["audit", "values", "--json", "--db", path])
        #expect(audit.status == 0 && audit.stdout.contains(#""values":[]"#), "\(audit.stdout) \(audit.stderr)")
    }

    /// Random streams under a schema with `maxValues` on every unique and contact type and a
    /// low `maxHolders`: no automatic merge leaves its customer with more values of a type than
    /// the limit, and none is triggered through a value past its holders' cutoff (a contact
    /// value still reaches its access owner).
    @Test(arguments: [UInt64(21), 22])
    func randomStreamsNeverMergePastTheLimits(seed: UInt64) async throws {
        var schema = Schema.default
        for index in schema.types.indices {
            if schema.types[index].kind != .soft { schema.types[index].maxValues = 2 }
            if schema.types[index].kind != .unique { schema.types[index].maxHolders = 3 }
        }
        let ledger = try await makeLedger(schema: schema)
        var stream = PropertyTests.Stream(schema: schema, rng: SeededGenerator(seed: seed))
        for _ in 0..<1_500 {
            if let result = try? await ledger.execute(stream.next()) { stream.customers = max(stream.customers, result.customer) }
        }
        let events = try ledger.events(limit: .max)
        let commandEnds = Dictionary(events.map { ($0.commandSeq, $0.seq) }, uniquingKeysWith: max)
        var automatic = 0
        for event in events {
            guard case .merged(let survivor, let absorbed, let trigger, _, false) = event.body else { continue }
            automatic += 1
            let after = try ledger.customer(.id(survivor), asOf: .seq(commandEnds[event.commandSeq]!))
            for type in schema.types {
                guard let limit = type.maxValues else { continue }
                let count = after.identifiers.filter { $0.identifier.type == type.name }.count
                #expect(count <= limit, "merge at \(event.seq) left customer \(survivor) with \(count) \(type.name) values")
            }
            for value in trigger where schema.type(named: value.type)?.kind != .unique {
                let holders = try ledger.lookup(value, asOf: .seq(event.commandSeq - 1))
                let reachesOwner = holders.contains { $0.customer == absorbed && $0.access }
                #expect(holders.count < 3 || reachesOwner, "merge at \(event.seq) triggered through \(value), held by \(holders.count)")
            }
        }
        #expect(automatic > 5, "too few automatic merges to prove anything")
        let limited = events.contains { event in
            if case .mergeDeclined(_, _, let guards) = event.body { guards.failing.contains(.valueLimit) } else { false }
        }
        #expect(limited, "no merge was declined by valueLimit")
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }
}
