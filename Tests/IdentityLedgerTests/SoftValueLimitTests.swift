import Foundation
import Testing
@testable import IdentityLedger

/// `maxValues` on a soft type (behaviour §2.7): an attach that leaves the customer over the
/// limit releases the least recently presented values, recorded in the `identified` event, so
/// that replay and time travel show it.
@Suite struct SoftValueLimitTests {
    /// The default schema with `maxValues` on `cookie`.
    static func schema(maxCookies: Int = 2) -> Schema {
        var schema = Schema.default
        schema.types[schema.priority(of: "cookie")!].maxValues = maxCookies
        return schema
    }

    static func cookies(_ ledger: Ledger, _ customer: CustomerID, asOf: AsOf? = nil) throws -> [String] {
        try ledger.customer(.id(customer), asOf: asOf).identifiers.filter { $0.type == "cookie" }.map(\.value)
    }

    static func released(_ event: Event?) -> [Identifier] {
        if case .identified(_, _, _, _, _, let released)? = event?.body { released } else { [] }
    }

    /// The third cookie releases the one presented longest ago; re-presenting a value makes it
    /// recent again, so the next release takes the other one. Each release is in its event and
    /// the value is no longer held, nor held by anyone.
    @Test func attachingPastTheLimitReleasesTheLeastRecentlyPresentedValue() async throws {
        let ledger = try await makeLedger(schema: Self.schema())
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1")
        try await ledger.identify("email=ann@example.com", "cookie=c2")
        let third = try await ledger.identify("email=ann@example.com", "cookie=c3")
        #expect(third.customer == ann.customer && third.merged.isEmpty)
        #expect(Self.released(try ledger.events(from: third.seq.last!, limit: 1).first) == ids("cookie=c1"))
        #expect(try Self.cookies(ledger, ann.customer) == ["c2", "c3"])
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "c1")).isEmpty)
        // c2 is presented again: c3 is now the least recent.
        try await ledger.identify("email=ann@example.com", "cookie=c2")
        let fourth = try await ledger.identify("email=ann@example.com", "cookie=c4")
        #expect(Self.released(try ledger.events(from: fourth.seq.last!, limit: 1).first) == ids("cookie=c3"))
        #expect(try Self.cookies(ledger, ann.customer) == ["c2", "c4"])
        // A released value presented again is a new holding, and the oldest goes in its place.
        let back = try await ledger.identify("cookie=c1", "email=ann@example.com")
        #expect(Self.released(try ledger.events(from: back.seq.last!, limit: 1).first) == ids("cookie=c2"))
        #expect(try Self.cookies(ledger, ann.customer) == ["c1", "c4"])
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// As of the position before the release the value is held; from the release on it is not,
    /// and the customer's history has the event that says so.
    @Test func timeTravelShowsTheValueHeldBeforeAndReleasedAfter() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 1))
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1")
        let second = try await ledger.identify("email=ann@example.com", "cookie=c2")
        let at = second.seq.last!
        #expect(try Self.cookies(ledger, ann.customer, asOf: .seq(at - 1)) == ["c1"])
        #expect(try Self.cookies(ledger, ann.customer, asOf: .seq(at)) == ["c2"])
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "c1"), asOf: .seq(at - 1)).map(\.customer) == [ann.customer])
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "c1"), asOf: .seq(at)).isEmpty)
        let history = try ledger.history(.id(ann.customer))
        #expect(history.map { Self.released($0) } == [[], ids("cookie=c1")])
        try expectReplayIdentical(ledger)
    }

    /// A command presenting more values than the limit keeps them all (it never releases what
    /// it presents) and releases every older one.
    @Test func aValuePresentedByTheCommandIsNeverReleasedByIt() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 2))
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1", "cookie=c2")
        let many = try await ledger.identify("email=ann@example.com", "cookie=c2", "cookie=c3", "cookie=c4")
        #expect(Self.released(try ledger.events(from: many.seq.last!, limit: 1).first) == ids("cookie=c1"))
        #expect(try Self.cookies(ledger, ann.customer) == ["c2", "c3", "c4"])
        // The next attach brings the customer back to the limit: the two least recent go.
        let next = try await ledger.identify("email=ann@example.com", "cookie=c5")
        #expect(Self.released(try ledger.events(from: next.seq.last!, limit: 1).first) == ids("cookie=c2", "cookie=c3"))
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// Values presented at the same position are ordered by their bytes; a merge by identify
    /// counts the absorbed customer's values as got at the merge, and the `identified` event
    /// releases from the merged whole. Merges themselves are not limited by soft values.
    @Test func anIdentifyThatMergesReleasesFromTheMergedCustomer() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 2))
        let ann = try await ledger.identify("email=ann@example.com", "cookie=b", "cookie=a")
        let guest = try await ledger.identify("cookie=g")
        // The guest's cookie links it to Ann: the merge passes, and Ann holds a, b, g, x.
        let login = try await ledger.identify("email=ann@example.com", "cookie=g", "cookie=x")
        #expect(login.customer == ann.customer && login.merged == [guest.customer])
        // a and b were got at the same position, before g (the command's own) and x: a goes first by bytes, then b.
        #expect(Self.released(try ledger.events(from: login.seq.last!, limit: 1).first) == ids("cookie=a", "cookie=b"))
        #expect(try Self.cookies(ledger, ann.customer) == ["g", "x"])
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// Values an absorbed customer brings (not presented again) are ordered after the
    /// survivor's older ones: they count as got at the merge.
    @Test func absorbedValuesCountAsGotAtTheMerge() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 2))
        let guest = try await ledger.identify("cookie=g1")
        try await ledger.identify("cookie=g1", "cookie=g2")
        let ann = try await ledger.identify("email=ann@example.com", "cookie=a")
        // Ann presents g2: the guest is merged in and brings g1; a (older) is released.
        let login = try await ledger.identify("email=ann@example.com", "cookie=g2")
        #expect(login.merged == [guest.customer])
        #expect(Self.released(try ledger.events(from: login.seq.last!, limit: 1).first) == ids("cookie=a"))
        #expect(try Self.cookies(ledger, ann.customer) == ["g1", "g2"])
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// An import row attaches values too and releases as an identify does; `update` only
    /// attaches what it creates a customer with, so it never releases.
    @Test func importRowsReleaseAndUpdatesDoNot() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 1))
        let created = try await ledger.update("email=bo@example.com", "cookie=u1", "cookie=u2", properties: ["plan": "free"])
        #expect(try Self.cookies(ledger, created.customer) == ["u1", "u2"])
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1")
        let file = temporaryPath("rows.jsonl")
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (#"{"ids":{"email":"ann@example.com","cookie":"c2"}}"# + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let summary = try await ledger.importFile(at: file, matchBy: "email", importId: "imp-1")
        #expect(summary.rejected == 0 && summary.updated == 1)
        let row = try ledger.events(limit: .max).first { $0.importId == "imp-1" && $0.kind == "identified" }
        #expect(Self.released(row) == ids("cookie=c1"))
        #expect(try Self.cookies(ledger, ann.customer) == ["c2"])
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }

    /// Presenting a held value again keeps its holding at two versions (its first and its last
    /// presentation) however often it is presented, and as-of answers stay the same.
    @Test func presentationsDoNotGrowTheHoldings() async throws {
        let ledger = try await makeLedger(schema: Self.schema(maxCookies: 3))
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1")
        for _ in 0..<5 { try await ledger.identify("email=ann@example.com", "cookie=c1") }
        let entries = try ledger.env.read { txn in
            var count = 0
            try txn.forEach(ledger.db.holdings, prefix: Keys.customer(ann.customer)) { _ in
                count += 1
                return true
            }
            return count
        }
        #expect(entries == 3, "email's one version and the cookie's two")
        for k in ann.seq.last!...(try ledger.events(limit: .max).last!.seq) {
            #expect(try Self.cookies(ledger, ann.customer, asOf: .seq(k)) == ["c1"])
        }
        try expectReplayIdentical(ledger)
    }

    /// Without `maxValues` on a soft type nothing is released and the events are laid out as
    /// before: the same commands under the default schema keep every cookie, and no event
    /// carries a released list.
    @Test func theDefaultSchemaIsUnchanged() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1")
        for n in 2...5 { try await ledger.identify("email=ann@example.com", "cookie=c\(n)") }
        #expect(try Self.cookies(ledger, ann.customer) == ["c1", "c2", "c3", "c4", "c5"])
        for event in try ledger.events(limit: .max) {
            #expect(Self.released(event).isEmpty)
            // Every identified event ends with its declined list: nothing follows.
            if case .identified = event.body {
                let bytes = event.encoded()
                #expect(try Event(seq: event.seq, bytes: bytes) == event)
                #expect(bytes.last == 0, "an empty declined count ends the event")
            }
        }
        // A repeat keeps the holdings at one version each: only limited types mark presentations.
        let entries = try ledger.env.read { txn in
            var count = 0
            try txn.forEach(ledger.db.holdings, prefix: Keys.customer(ann.customer)) { _ in
                count += 1
                return true
            }
            return count
        }
        #expect(entries == 6)
    }

    /// The released list is written only when there is one: an empty list after the declined
    /// candidates is not a form the encoder makes, so reading one is a corrupt event.
    @Test func anEmptyReleasedListIsCorrupt() throws {
        let event = Event(seq: 2, commandSeq: 2, recordedAt: 5, occurredAt: 5, body: .identified(
            customer: 1, created: true, identifiers: [PresentedIdentifier(identifier: Identifier(type: "cookie", value: "c"), access: false)],
            properties: [], declined: []))
        let bytes = event.encoded()
        #expect(try Event(seq: 2, bytes: bytes) == event)
        #expect(throws: LedgerError.corruptEvent(seq: 2, reason: "empty released list")) { try Event(seq: 2, bytes: bytes + [0]) }
    }

    /// `maxValues` on a soft type is accepted from 1; 0 is still refused.
    @Test func theSchemaAcceptsMaxValuesOnSoftTypes() throws {
        try Self.schema(maxCookies: 1).validate()
        #expect(throws: LedgerError.self) { try Self.schema(maxCookies: 0).validate() }
    }

    /// The CLI shows the release: `history` text says what was released, `log --json` lists it,
    /// and an event without releases has no `released` key.
    @Test func theCLIShowsTheRelease() async throws {
        let path = temporaryPath()
        let file = path + "-schema.json"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try String(decoding: try JSONEncoder().encode(Self.schema(maxCookies: 1)), as: UTF8.self).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLIProcess.run(["init", "--db", path, "--schema", file]).status == 0)
        let input = #"{"op":"identify","ids":{"email":"ann@example.com","cookie":"c1"}}"# + "\n"
            + #"{"op":"identify","ids":{"email":"ann@example.com","cookie":"c2"}}"# + "\n"
        #expect(try CLIProcess.run(["ingest", "-", "--db", path], input: input).status == 0)
        let history = try CLIProcess.run(["history", "1", "--db", path])
        #expect(history.status == 0 && history.stdout.contains("released cookie=c1"), "\(history.stdout) \(history.stderr)")
        let log = try CLIProcess.run(["log", "--json", "--db", path, "--kind", "identified"])
        let lines = log.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2, "\(log.stdout)")
        #expect(lines.first?["released"] == nil, "\(log.stdout)")
        let released = lines.last?["released"] as? [[String: Any]]
        #expect(released?.first?["type"] as? String == "cookie" && released?.first?["value"] as? String == "c1", "\(log.stdout)")
    }

    /// Random streams with a soft limit: after every identify its customer holds at most the
    /// limit of cookies, or the cookies the command itself presented; the in-memory view and
    /// the store decide alike (the projections and the decider's reads agree).
    @Test(arguments: [UInt64(31), 32])
    func randomStreamsKeepCustomersWithinTheSoftLimit(seed: UInt64) async throws {
        let schema = Self.schema(maxCookies: 2)
        let ledger = try await makeLedger(schema: schema)
        var stream = PropertyTests.Stream(schema: schema, rng: SeededGenerator(seed: seed))
        for _ in 0..<800 {
            if let result = try? await ledger.execute(stream.next()) { stream.customers = max(stream.customers, result.customer) }
        }
        var releases = 0
        for event in try ledger.events(limit: .max) {
            guard case .identified(let customer, _, let presented, _, _, let released) = event.body else { continue }
            releases += released.count
            let held = try Self.cookies(ledger, customer, asOf: .seq(event.seq))
            let own = Set(presented.map(\.identifier).filter { $0.type == "cookie" })
            #expect(held.count <= max(2, own.count), "event \(event.seq) left customer \(customer) with cookies \(held)")
            #expect(own.allSatisfy { held.contains($0.value) }, "event \(event.seq) released a value it presented")
        }
        #expect(releases > 0, "no release to prove anything")
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }
}
