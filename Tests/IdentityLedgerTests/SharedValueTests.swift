import Foundation
import Testing
@testable import IdentityLedger

/// A value shared by very many customers (the shop's own phone typed in at the till) stops
/// being a match path at its type's `maxHolders` (behaviour §2.5): without the cutoff each new holder
/// is declined by every earlier one, and the declines grow with the square of the holders.
@Suite struct SharedValueTests {
    static let shopPhone = "phone=+442000000000"

    /// The `mergeDeclined` events of the log.
    static func declineCount(_ ledger: Ledger) throws -> Int {
        try ledger.events(limit: .max).filter { $0.kind == "mergeDeclined" }.count
    }

    /// Identifies `count` customers, each logging in with their own email and giving the
    /// shared value; returns each command's result.
    static func identifyHolders(_ ledger: Ledger, _ count: Int, sharing shared: String = shopPhone, from first: Int = 1) async throws -> [CommandResult] {
        var results: [CommandResult] = []
        for i in first..<(first + count) {
            results.append(try await ledger.identify("email=holder\(i)@example.com", shared, access: ["email"]))
        }
        return results
    }

    /// The reported case scaled down: 300 customers with their own access email and the
    /// shop's phone. The first 20 decline each other (190 declines); from the 21st on the
    /// phone reaches nobody, so the declines stop growing, and every customer still holds it.
    @Test func aPhoneSharedByManyCustomersStopsBeingAMatchPath() async throws {
        let ledger = try await makeLedger()
        let limit = IdentifierType.defaultMaxHolders
        let results = try await Self.identifyHolders(ledger, 300)
        #expect(results.allSatisfy { $0.created })
        #expect(Set(results.map(\.customer)).count == 300)
        // Holder k (1-based) is declined by the k - 1 before it while there are fewer than 20.
        #expect(try Self.declineCount(ledger) == limit * (limit - 1) / 2)
        for (index, result) in results.enumerated() {
            if index < limit {
                #expect(result.declined.count == index, "holder \(index + 1)")
            } else {
                #expect(result.declined.isEmpty && result.seq.count == 1, "holder \(index + 1) wrote \(result.seq)")
            }
        }
        let holders = try ledger.lookup(Identifier(parsing: Self.shopPhone)!)
        #expect(holders.map(\.customer) == results.map(\.customer))
        #expect(try ledger.customer(.id(results[299].customer)).identifiers.contains { $0.value == "+442000000000" })
        // A till scan of the phone alone no longer names anyone: a new customer, nothing declined.
        let till = try await ledger.identify(Self.shopPhone)
        #expect(till.created && till.declined.isEmpty)
        try checkInvariants(ledger)
        #expect(try ledger.verify().isValid)
    }

    /// The log stays linear: 100 more holders of a value past its cutoff add no decline.
    @Test func declinesDoNotGrowWithTheHolderCount() async throws {
        let ledger = try await makeLedger()
        _ = try await Self.identifyHolders(ledger, 25)
        let before = try Self.declineCount(ledger)
        _ = try await Self.identifyHolders(ledger, 100, from: 26)
        #expect(try Self.declineCount(ledger) == before)
    }

    /// A soft value (a shop's tablet cookie) is cut off the same way.
    @Test func aSoftValueSharedByManyCustomersStopsBeingAMatchPath() async throws {
        let ledger = try await makeLedger()
        let limit = IdentifierType.defaultMaxHolders
        let results = try await Self.identifyHolders(ledger, 40, sharing: "cookie=shop-tablet")
        #expect(results.allSatisfy { $0.created })
        #expect(results.allSatisfy { $0.declined.allSatisfy { $0.guards.failing.contains(.softIdOnly) } })
        #expect(try Self.declineCount(ledger) == limit * (limit - 1) / 2)
        #expect(results[limit...].allSatisfy { $0.declined.isEmpty })
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "shop-tablet")).count == 40)
        // An anonymous visit with the cookie alone reaches nobody either.
        #expect(try await ledger.identify("cookie=shop-tablet").created)
    }

    /// Below the cutoff a shared value still matches (a guest merges into the account that
    /// gives its phone; later accounts are declined by each holder); at the cutoff it stops.
    @Test func belowTheCutoffASharedValueStillMatches() async throws {
        let schema = Schema(types: Schema.default.types.map { type in
            var type = type
            if type.name == "phone" { type.maxHolders = 3 }
            return type
        })
        let ledger = try await makeLedger(schema: schema)
        let guest = try await ledger.identify("phone=+447700900123")
        _ = try await ledger.identify("email=a@example.com", "phone=+447700900123", access: ["email"]) // merges the guest
        let b = try await ledger.identify("email=b@example.com", "phone=+447700900123", access: ["email"])
        #expect(b.created && b.declined.map(\.customer) == [guest.customer])
        // Two holders: still a match path, so a third account is declined by both.
        let c = try await ledger.identify("email=c@example.com", "phone=+447700900123", access: ["email"])
        #expect(c.declined.count == 2)
        // Three holders: the cutoff; the phone reaches nobody.
        let d = try await ledger.identify("email=d@example.com", "phone=+447700900123", access: ["email"])
        #expect(d.created && d.declined.isEmpty)
        #expect(try ledger.lookup(Identifier(type: "phone", value: "+447700900123")).count == 4)
    }

    /// `maxHolders: 0` is no cutoff: every holder is declined by every earlier one, and a
    /// result lists the first 20 declined candidates and counts the rest.
    @Test func maxHoldersZeroKeepsEveryHolderAMatchPath() async throws {
        let schema = Schema(types: Schema.default.types.map { type in
            var type = type
            if type.name == "phone" { type.maxHolders = 0 }
            return type
        })
        let ledger = try await makeLedger(schema: schema)
        let results = try await Self.identifyHolders(ledger, 40)
        #expect(try Self.declineCount(ledger) == 40 * 39 / 2)
        let last = try #require(results.last)
        #expect(last.declined.map(\.customer) == Array(1...20))
        #expect(last.declinedNotListed == 19)
        #expect(results[20].declined.count == 20 && results[20].declinedNotListed == 0)
        // The log has all 39 declines of the last command, as history shows.
        let history = try ledger.history(.id(last.customer))
        #expect(history.filter { $0.kind == "mergeDeclined" }.count == 39)
        // An idempotent repeat answers the first result: the same 20 and the same count.
        let first = try await ledger.identify("email=again@example.com", Self.shopPhone, access: ["email"], eventId: "e-1")
        let repeated = try await ledger.identify("email=again@example.com", Self.shopPhone, access: ["email"], eventId: "e-1")
        #expect(first.declinedNotListed == 20 && repeated.declinedNotListed == 20)
        #expect(repeated.declined.map(\.customer) == first.declined.map(\.customer))
        #expect(repeated.declined.map { $0.guards.failing } == first.declined.map { $0.guards.failing })
    }

    /// Lowering `maxHolders` below a value's holders never refuses (behaviour §2.5): the value stays
    /// on every customer and stops being a match path from then on.
    @Test func loweringMaxHoldersInSchemaSetNeverRefuses() async throws {
        let ledger = try await makeLedger()
        _ = try await Self.identifyHolders(ledger, 5)
        #expect(try await ledger.identify("email=holder6@example.com", Self.shopPhone, access: ["email"]).declined.count == 5)
        var schema = try ledger.schema()
        schema.types[schema.types.firstIndex { $0.name == "phone" }!].maxHolders = 2
        try await ledger.setSchema(schema)
        #expect(try ledger.schema().type(named: "phone")?.maxHolders == 2)
        let next = try await ledger.identify("email=holder7@example.com", Self.shopPhone, access: ["email"])
        #expect(next.created && next.declined.isEmpty)
        #expect(try ledger.lookup(Identifier(parsing: Self.shopPhone)!).count == 7)
        try expectReplayIdentical(ledger)
    }

    /// The schema field: read from and printed to JSON, contact and soft only, not negative,
    /// and kept in `schemaChanged` events. An event written before it existed (event format
    /// 1) decodes with the default.
    @Test func maxHoldersInTheSchema() throws {
        let schema = try Schema(json: #"{"types":[{"name":"email","kind":"contact","maxHolders":5},{"name":"cookie","kind":"soft","maxHolders":0},{"name":"crm","kind":"unique"}]}"#)
        try schema.validate()
        #expect(schema.types.map(\.maxHolders) == [5, 0, nil])
        #expect(schema.types.map(\.holderCutoff) == [5, nil, nil])
        #expect(Schema.default.types.map(\.holderCutoff) == [nil, nil, 20, 20, 20, 20])
        let printed = String(decoding: try JSONEncoder().encode(schema), as: UTF8.self)
        #expect(try Schema(json: printed) == schema)

        for (text, fragment) in [
            (#"{"types":[{"name":"crm","kind":"unique","maxHolders":3}]}"#, "maxHolders is for contact and soft types only"),
            (#"{"types":[{"name":"email","kind":"contact","maxHolders":-1}]}"#, "maxHolders must be 0"),
        ] {
            #expect { try Schema(json: text).validate() } throws: { error in
                guard let error = error as? LedgerError, case .invalidSchema(let reason) = error else { return false }
                return reason.contains(fragment)
            }
        }
        #expect { try Schema(json: #"{"types":[{"name":"email","kind":"contact","maxHolders":"5"}]}"#) } throws: { error in
            guard let error = error as? LedgerError, case .invalidSchema(let reason) = error else { return false }
            return reason.contains("maxHolders") && reason.contains("whole number")
        }

        let event = Event(seq: 1, commandSeq: 1, recordedAt: 1_000, occurredAt: 1_000, body: .schemaChanged(schema))
        let bytes = event.encoded()
        #expect(try Event(seq: 1, bytes: bytes) == event)
        // The same event in format 1, as an older build wrote it: no maxHolders after a type.
        var old = BinaryWriter()
        old.write(byte: 1)
        old.write(byte: 1) // schemaChanged
        old.write(UInt64(0))
        old.write(signed: 1_000)
        old.write(signed: 0)
        old.write(byte: 0)
        old.write(schema.types) { w, type in
            w.write(type.name)
            w.write(type.kind.rawValue)
            w.write(type.normalize.rawValue)
            w.write(type.blockMergeOnConflict)
            w.write(type.canGrantAccess)
            w.write(optional: type.defaultCallingCode)
        }
        guard case .schemaChanged(let decoded) = try Event(seq: 1, bytes: old.bytes).body else {
            Issue.record("not a schema change")
            return
        }
        #expect(decoded.types.map(\.maxHolders) == [nil, nil, nil])
        #expect(decoded.types.map(\.holderCutoff) == [20, 20, nil])
    }

    /// `identify --json` prints the declined candidates it lists and the count of the rest.
    @Test func theCLIPrintsHowManyDeclinedCandidatesItLeftOut() async throws {
        let path = temporaryPath()
        try await {
            let ledger = try Ledger.open(path: path)
            var schema = Schema.default
            schema.types[schema.types.firstIndex { $0.name == "phone" }!].maxHolders = 0
            try await ledger.setSchema(schema)
            _ = try await Self.identifyHolders(ledger, 23)
        }()
        let run = try CLIProcess.run([
            "identify", "--db", path, "--id", "email=late@example.com", "--id", "phone=+442000000000", "--access", "email", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let output = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect((output?["declined"] as? [[String: Any]])?.count == 20)
        #expect(output?["declinedNotListed"] as? Int == 3)
        let text = try CLIProcess.run(["identify", "--db", path, "--id", "email=later@example.com", "--id", "phone=+442000000000", "--access", "email"])
        #expect(text.stdout.contains("4 more declined"), "\(text.stdout)")
    }

    /// A value past the cutoff stays its access owner's match path: logging in with it reaches
    /// that account (and is refused or merged by the guards), and it never grants access on a
    /// second customer.
    @Test func aCredentialPastTheCutoffStillReachesItsAccount() async throws {
        let ledger = try await makeLedger()
        let owner = try await ledger.identify("email=owner@example.com", Self.shopPhone, access: ["email", "phone"])
        _ = try await Self.identifyHolders(ledger, IdentifierType.defaultMaxHolders + 5)
        #expect(try ledger.lookup(Identifier(type: "phone", value: "+442000000000")).count == IdentifierType.defaultMaxHolders + 6)
        // The phone alone, as a login: the account it grants access to.
        let login = try await ledger.identify(Self.shopPhone, access: ["phone"])
        #expect(login.customer == owner.customer)
        #expect(!login.created)
        // Another account that gives it as a plain contact is kept apart from the account by
        // the guards (accessContactsDiffer), which see it again.
        let other = try await ledger.identify("email=other@example.com", Self.shopPhone, access: ["email"])
        #expect(other.created)
        #expect(other.declined.map(\.customer).contains(owner.customer))
        let granting = try ledger.lookup(Identifier(type: "phone", value: "+442000000000")).filter(\.access)
        #expect(granting.map(\.customer) == [owner.customer])
        try checkInvariants(ledger)
    }
}
