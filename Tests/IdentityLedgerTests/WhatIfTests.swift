import Foundation
import Testing
@testable import IdentityLedger

/// `whatif` (behaviour §6.8): the log's commands decided again under another schema in a
/// scratch store; the store itself is untouched.
/// Serialized: the tests look for scratch stores left under the temporary directory.
@Suite(.serialized) struct WhatIfTests {
    /// Runs `whatif` and collects what it reports.
    static func whatif(_ ledger: Ledger, _ schema: Schema, from: UInt64 = 1) async throws -> (WhatIfSummary, [WhatIfDifference]) {
        var differences: [WhatIfDifference] = []
        let summary = try await ledger.whatif(schema: schema, from: from) { differences.append($0) }
        return (summary, differences)
    }

    /// The scratch stores under the temporary directory (none may be left behind).
    static func scratchStores() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("idledger-whatif-") })
    }

    /// The fitness-club couple: Ann has membership card A and the household phone, Bob card B
    /// and his email; at the till someone gives the phone and Bob's email.
    static func couple(_ ledger: Ledger) async throws -> (ann: CustomerID, bob: CustomerID, till: CommandResult) {
        let ann = try await ledger.identify("external_id=A-1", "phone=+44 20 7946 0001")
        let bob = try await ledger.identify("external_id=B-2", "email=bob@example.com")
        let till = try await ledger.identify("phone=+44 20 7946 0001", "email=bob@example.com")
        return (ann.customer, bob.customer, till)
    }

    static var withoutCardBlocking: Schema {
        var schema = Schema.default
        schema.types[schema.priority(of: "external_id")!].blockMergeOnConflict = false
        return schema
    }

    @Test func theCoupleWouldMergeWithoutBlockMergeOnConflict() async throws {
        let ledger = try await makeLedger()
        let (ann, bob, till) = try await Self.couple(ledger)
        // Bob is found first (through his email, which comes before the phone); Ann is declined.
        #expect(till.customer == bob && till.declinedGuards(ann) == [.uniqueIdConflict])
        let before = try ledger.fingerprint()
        let scratchBefore = try Self.scratchStores()

        let (summary, differences) = try await Self.whatif(ledger, Self.withoutCardBlocking)
        #expect(summary.commands == 3 && summary.customersBefore == 2 && summary.customersAfter == 1, "\(summary)")
        #expect(summary.mergesGained == 1 && summary.declinesNowMerged == 1 && summary.mergesLost == 0 && summary.commandsNowRefused == 0)
        let gained = try #require(differences.first)
        #expect(gained.kind == .mergeGained && gained.customers == [ann, bob] && gained.seq == till.seq.first)
        #expect(gained.then.failing == [.uniqueIdConflict] && gained.now.allPassed && !gained.now.isEmpty, "\(gained)")
        #expect(differences.dropFirst().map(\.kind) == [.customer])
        #expect(differences.last?.customers == [bob] && differences.last?.newCustomer == ann)
        // The store is only read, and the scratch store is gone.
        #expect(try ledger.fingerprint() == before)
        #expect(try Self.scratchStores() == scratchBefore)
    }

    /// The couple of behaviour §10.1: Bob's own identify finds Ann through the household phone
    /// and is declined; without blockMergeOnConflict it would go to Ann's customer.
    @Test func theCouplesSecondIdentifyWouldGoToTheFirst() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("external_id=M-1", "phone=+44 20 7946 0958")
        let bob = try await ledger.identify("external_id=M-2", "phone=+442079460958")
        #expect(bob.created && bob.declinedGuards(ann.customer) == [.uniqueIdConflict])
        let (summary, differences) = try await Self.whatif(ledger, Self.withoutCardBlocking)
        #expect(summary.mergesGained == 1 && summary.declinesNowMerged == 1 && summary.customersAfter == 1, "\(summary)")
        let gained = try #require(differences.first)
        #expect(gained.kind == .mergeGained && gained.customers == [ann.customer, bob.customer] && gained.seq == bob.seq.first)
        #expect(gained.then.failing == [.uniqueIdConflict] && gained.now.isEmpty)
        #expect(differences.last?.kind == .customer && differences.last?.newCustomer == ann.customer)
    }

    /// Three customers the replay joins through two merges are two gains, reported the same way
    /// every run; a gain's "then" is the store's decline of exactly that pair.
    @Test func threeBecomingOneAreTwoGainsEveryRunTheSame() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("external_id=E-1", "email=b@example.com")
        try await ledger.identify("external_id=E-2", "email=c@example.com")
        let third = try await ledger.identify("external_id=E-3", "email=b@example.com", "email=c@example.com")
        #expect(third.created && third.declined.count == 2)
        let (summary, differences) = try await Self.whatif(ledger, Self.withoutCardBlocking)
        #expect(summary.customersBefore == 3 && summary.customersAfter == 1 && summary.mergesGained == 2 && summary.declinesNowMerged == 1, "\(summary)")
        let gains = differences.filter { $0.kind == .mergeGained }
        #expect(gains.map(\.customers) == [[1, 2], [1, 3]], "\(gains)")
        #expect(gains[0].then.isEmpty && gains[1].then.failing == [.uniqueIdConflict])
        for _ in 0..<5 {
            let (again, more) = try await Self.whatif(ledger, Self.withoutCardBlocking)
            #expect(again == summary && more == differences)
        }
    }

    /// Under the store's own schema nothing differs: on the stories, and on a random stream of
    /// identifies, updates, manual merges and detaches.
    @Test func theStoresOwnSchemaChangesNothing() async throws {
        let ledger = try await makeLedger()
        _ = try await Self.couple(ledger)
        try await ledger.identify("email=ann@example.com", "cookie=c-1", access: ["email"])
        try await ledger.identify("email=web@example.com", "phone=+44 20 7946 0009", access: ["email"])
        try await ledger.identify("email=guest@example.com", "phone=+44 20 7946 0009")
        var (summary, differences) = try await Self.whatif(ledger, .default)
        #expect(summary.isEmpty && differences.isEmpty, "\(summary) \(differences)")

        let (random, _) = try await PropertyTests.storeAfterRandomStream(seed: 11, commands: 1_500)
        let stats = try random.statistics()
        #expect(stats.eventsByKind["merged", default: 0] > 10 && stats.eventsByKind["detached", default: 0] > 5, "\(stats.eventsByKind)")
        (summary, differences) = try await Self.whatif(random, .default)
        #expect(summary.isEmpty && differences.isEmpty, "\(summary) \(differences.prefix(3))")
        #expect(summary.commands > 500)
    }

    /// A value blocked by the proposed schema: the command that gave only it would be refused,
    /// and the guests it joined stay apart.
    @Test func aBlockedValueWouldRefuseACommandAndSplitAProfile() async throws {
        let ledger = try await makeLedger()
        let first = try await ledger.identify("email=test@test.com", "cookie=c-1")
        let second = try await ledger.identify("email=test@test.com", "cookie=c-2")
        #expect(second.customer == first.customer)
        try await ledger.update("email=test@test.com", properties: ["plan": "gold"])
        var schema = Schema.default
        schema.types[schema.priority(of: "email")!].blockedValues = ["test@test.com"]
        let (summary, differences) = try await Self.whatif(ledger, schema)
        #expect(summary.customersBefore == 1 && summary.customersAfter == 2 && summary.commandsNowRefused == 1, "\(summary)")
        let refused = try #require(differences.first { $0.kind == .refused })
        #expect(refused.errorCode == "noIdentifiers" && refused.errorMessage?.contains("test@test.com") == true)
    }

    /// `from`: the proposed schema is in force from that position only.
    @Test func fromLeavesEarlierCommandsUnderTheirSchema() async throws {
        let ledger = try await makeLedger()
        _ = try await Self.couple(ledger)
        let later = try await ledger.position + 1
        let (summary, differences) = try await Self.whatif(ledger, Self.withoutCardBlocking, from: later)
        #expect(summary.isEmpty && differences.isEmpty, "\(summary)")
        // A schema the data at that point cannot take is refused, and nothing is left behind.
        let scratchBefore = try Self.scratchStores()
        let withoutEmail = Schema(types: Schema.default.types.filter { $0.name != "email" })
        let error = await ledgerError { _ = try await Self.whatif(ledger, withoutEmail, from: later) }
        #expect(error?.code == "schemaConflict", "\(String(describing: error))")
        #expect(try Self.scratchStores() == scratchBefore)
    }

    /// 100k events: it finishes, and finds exactly the couple.
    @Test func aStoreOf100kEventsFindsExactlyTheCouple() async throws {
        let ledger = try await makeLedger()
        var commands: [Command] = []
        for i in 0..<100_000 {
            if i == 50_000 {
                _ = try await ledger.execute(batch: commands)
                commands = []
                _ = try await Self.couple(ledger)
            }
            // Every fifth person comes back with a phone: attached, not a new customer.
            let ids = i % 5 == 4 ? ids("email=p\(i - 1)@example.com", "phone=+44 7700 9\(String(format: "%05d", i % 100_000))")
                : ids("external_id=X-\(i)", "email=p\(i)@example.com")
            commands.append(.identify(IdentifyCommand(identifiers: ids)))
            if commands.count == 1_000 {
                _ = try await ledger.execute(batch: commands)
                commands = []
            }
        }
        _ = try await ledger.execute(batch: commands)
        #expect(try ledger.position > 100_000)
        let (summary, differences) = try await Self.whatif(ledger, Self.withoutCardBlocking)
        #expect(summary.commands == 100_003 && summary.mergesGained == 1 && summary.mergesLost == 0, "\(summary)")
        #expect(differences.filter { $0.kind == .mergeGained }.count == 1)
    }

    /// The CLI: counts first, then one line per difference; `--json` as JSON Lines.
    @Test func theCLIPrintsTheCountsFirst() async throws {
        let path = temporaryPath()
        do {
            let ledger = try Ledger.open(path: path)
            _ = try await Self.couple(ledger)
        }
        let file = path + "-proposed.json"
        try String(decoding: try JSONEncoder().encode(Self.withoutCardBlocking), as: UTF8.self).write(toFile: file, atomically: true, encoding: .utf8)
        let json = try CLIProcess.run(["whatif", "--schema", file, "--json", "--db", path])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = json.stdout.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3, "\(json.stdout)")
        #expect(lines.first??["mergesGained"] as? Int == 1 && lines.first??["customersAfter"] as? Int == 1, "\(json.stdout)")
        #expect(lines.dropFirst().first??["kind"] as? String == "mergeGained")
        #expect(lines.last??["kind"] as? String == "customer" && lines.last??["newCustomer"] as? Int == 1)
        let text = try CLIProcess.run(["whatif", "--schema", file, "--db", path])
        #expect(text.stdout.hasPrefix("3 command(s) decided again"), "\(text.stdout)")
        #expect(text.stdout.contains("customers 1 and 2 would merge (then: kept apart by uniqueIdConflict)"), "\(text.stdout)")
        let missing = try CLIProcess.run(["whatif", "--schema", path + "-none.json", "--db", path])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("error "), "\(missing.stderr)")
    }
}
