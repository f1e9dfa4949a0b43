import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// A store written in each store format so far, committed under
/// `Fixtures/store-format-N/data.mdb` (event format 1 up to store format 3, 2 in store
/// format 4, 3 in store format 5, 4 from store format 6: ``eventFormat(ofStore:)``). Every later version must open
/// a copy of each and read the same customers, lookups and events (behaviour §7.5: a store
/// written by an older version stays readable); an older format is upgraded only when asked
/// (``Ledger/Options/upgrade``, `idledger upgrade`), and opening it otherwise changes nothing.
/// Regenerate with `Tools/make-fixture.sh` — only when the format version is bumped, as a
/// new directory beside the others, never over one.
@Suite struct FormatFixtureTests {
    static func fixture(format: UInt64) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/store-format-\(format)/data.mdb").path
    }

    /// The event format the fixture of store format `format` was written with.
    static func eventFormat(ofStore format: UInt64) -> UInt8 {
        switch format {
        case ...3: 1
        case 4: 2
        case 5: 3
        default: 4
        }
    }

    /// The commands the fixture holds: identifies, an update, a merge, a decline, a detach.
    static func writeFixtureStore(at path: String) async throws {
        final class FixedClock: @unchecked Sendable {
            var ms: Int64 = 1_793_527_200_000 // 2026-11-01T10:00:00Z
            func tick() -> Date { ms += 1000; return Date(millisecondsSince1970: ms) }
        }
        let clock = FixedClock()
        let ledger = try Ledger.open(path: path, options: .init(durability: .full, clock: { clock.tick() }))
        // 1: Ann's account; 2: a guest at the till with a phone.
        try await ledger.identify("email=Ann@Example.com", "cookie=c-ann", access: ["email"], properties: ["name": "Ann"], eventId: "fx-1")
        try await ledger.identify("phone=+44 7700 900001", "cookie=c-guest", properties: ["cart": 3])
        try await ledger.update("cookie=c-ann", properties: ["plan": "gold", "cart": nil])
        // An operator confirms the guest is Ann.
        _ = try await ledger.merge(MergeCommand(into: .id(1), from: .id(2), actor: "ops@shop", note: "same person, confirmed"))
        // 3: Bob logs in with his own email and Ann's phone: declined (accessContactsDiffer).
        try await ledger.identify("email=bob@example.com", "phone=+447700900001", access: ["email"])
        _ = try await ledger.detach(DetachCommand(customer: .id(1), identifier: Identifier(type: "cookie", value: "c-guest"), actor: "ops@shop", note: "shared device"))
        _ = try await ledger.identify(IdentifyCommand(
            identifiers: ids("external_id=M-1", "email=ann@example.com"), context: CommandContext(source: "pos", eventId: "fx-7")))
    }

    @Test func writeTheFixtureOfTheCurrentFormatWhenAsked() async throws {
        guard ProcessInfo.processInfo.environment["IDLEDGER_WRITE_FIXTURE"] == "1" else { return }
        try await Self.regenerate()
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func aCopyOfEachFormatsStoreReadsTheSameCustomersLookupsAndEvents(format: UInt64) async throws {
        let path = temporaryPath("fixture-\(format)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture(format: format), toPath: path + "/data.mdb")
        // The store format is in meta; the environment closes at the end of this scope.
        try {
            let env = try Environment.open(path: path, configuration: .init(databases: [.init("meta")]))
            #expect(try env.read { txn in try txn.get(try env.database("meta"), key: Meta.storeFormat) } == Keys.seq(format))
        }()
        let ledger = try Ledger.open(path: path, options: .init(upgrade: true))

        // Opening upgraded an older store; the event format is in each event and did not change.
        try ledger.env.read { txn in
            #expect(try txn.get(ledger.db.meta, key: Meta.storeFormat) == Keys.seq(Ledger.storeFormat))
            try txn.forEach(ledger.db.log, prefix: []) { entry in
                #expect(entry.value.first == Self.eventFormat(ofStore: format), "event \(entry.key) has format \(entry.value.first ?? 0)")
                return true
            }
        }

        let events = try ledger.events(limit: .max)
        #expect(events.map(\.kind) == [
            "schemaChanged", "identified", "identified", "updated", "merged", "identified", "mergeDeclined", "detached", "identified",
        ])
        #expect(events.map(\.commandSeq) == [1, 2, 3, 4, 5, 6, 6, 8, 9])
        #expect(events[0].recordedAt == 1_793_527_201_000)
        #expect(events[1].eventId == "fx-1")
        #expect(events[4].body == .merged(survivor: 1, absorbed: 2, trigger: [], guards: events[4].mergeGuards, forced: true))
        #expect(events[4].actor == "ops@shop" && events[4].note == "same person, confirmed")
        #expect(events[4].mergeGuards.map(\.guard) == GuardName.evaluatedByDefault)
        if case .mergeDeclined(let customer, let candidate, let guards) = events[6].body {
            #expect(customer == 3 && candidate == 1 && guards.failing == [.accessContactsDiffer])
        } else {
            Issue.record("event 7 is \(events[6].kind)")
        }
        #expect(events[7].body == .detached(customer: 1, identifier: Identifier(type: "cookie", value: "c-guest"), accessOnly: false))
        #expect(events[8].source == "pos" && events[8].eventId == "fx-7")

        let ann = try ledger.customer(.id(1))
        #expect(ann.status == .active && ann.mergedFrom == [2])
        #expect(ann.identifiers.map { "\($0.type)=\($0.value)\($0.access ? "*" : "")" }
            == ["cookie=c-ann", "email=ann@example.com*", "external_id=M-1", "phone=+447700900001"])
        // The guest's cart was written before Ann's tombstone for it, so it stays hidden.
        #expect(ann.properties == ["name": "Ann", "plan": "gold"])
        let guest = try ledger.customer(.id(2))
        #expect(guest.id == 1 && guest.resolvedFrom?.mergedInto == 1 && guest.resolvedFrom?.mergeSeq == 5)
        let bob = try ledger.customer(.identifier(Identifier(type: "email", value: "Bob@Example.com")))
        #expect(bob.id == 3 && bob.identifiers.map(\.value) == ["bob@example.com", "+447700900001"])

        #expect(try ledger.lookup(Identifier(type: "phone", value: "+44 7700 900001")).map { "\($0.customer)\($0.access)" } == ["1false", "3false"])
        #expect(try ledger.lookup(Identifier(type: "email", value: "ANN@example.com")).map { "\($0.customer)\($0.access)" } == ["1true"])
        #expect(try ledger.lookup(Identifier(type: "cookie", value: "c-guest")).isEmpty)
        #expect(try ledger.verify().isValid)

        // The generator still makes the same decisions (so the fixture can be regenerated when
        // needed). Guard details are prose a later version may word better, so they are not compared.
        let fresh = temporaryPath("fixture-fresh")
        try await Self.writeFixtureStore(at: fresh)
        func decisions(_ events: [Event]) -> [String] {
            events.map { "\($0.seq) \($0.commandSeq) \($0.kind) \($0.customers) \($0.recordedAt)" }
        }
        #expect(decisions(try Ledger.open(path: fresh).events(limit: .max)) == decisions(events))
    }

    @Test func rebuildUpgradesAFormat1StoreOfflineWithoutUpgradingItInPlaceFirst() throws {
        let path = temporaryPath("fixture-rebuild")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture(format: 1), toPath: path + "/data.mdb")
        let summary = try Ledger.rebuild(path: path)
        // The live store was read as format 1: its customers projection differed from the rebuild's.
        #expect(summary.events == 9 && summary.changedProjections.contains("customers") && summary.changedProjections.contains("holdings"))
        try withStore(path) { ledger throws in
            #expect(try ledger.env.read { txn in try txn.get(ledger.db.meta, key: Meta.storeFormat) } == Keys.seq(Ledger.storeFormat))
            #expect(try ledger.customer(.id(1)).identifiers.map(\.value) == ["c-ann", "ann@example.com", "M-1", "+447700900001"])
            #expect(try ledger.verify().isValid)
        }
    }

    /// Upgrading rebuilds the store, so it needs it offline: while a `Ledger` (here in this
    /// process; another process's lock is found the same way) has the format-1 store open,
    /// `open` asked to upgrade it refuses with `storeInUse` and leaves it as it was.
    @Test func anOlderStoreInUseIsNotUpgraded() throws {
        let path = temporaryPath("fixture-in-use")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture(format: 1), toPath: path + "/data.mdb")
        try {
            let held = try Ledger.openAsIs(path: path, options: .init())
            #expect { try Ledger.open(path: path, options: .init(upgrade: true)) } throws: { ($0 as? LedgerError)?.code == "storeInUse" }
            #expect(try held.env.read { txn in try txn.get(held.db.meta, key: Meta.storeFormat) } == Keys.seq(1))
        }()
        #expect(try Ledger.open(path: path, options: .init(upgrade: true)).customer(.id(1)).mergedFrom == [2])
    }

    @Test func aStoreFromANewerStoreFormatIsRefused() async throws {
        let path = temporaryPath("fixture-newer")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture(format: Ledger.storeFormat), toPath: path + "/data.mdb")
        try await withStoreAsync(path) { ledger async throws in
            try await ledger.env.write { txn in try txn.put(ledger.db.meta, key: Meta.storeFormat, value: Keys.seq(Ledger.storeFormat + 1)) }
        }
        #expect(throws: LedgerError.unsupportedFormat(found: Int(Ledger.storeFormat) + 1, supported: Int(Ledger.storeFormat))) {
            _ = try Ledger.open(path: path)
        }
    }

    static func regenerate() async throws {
        let path = temporaryPath("fixture-source")
        try await writeFixtureStore(at: path)
        // The environment is closed once `writeFixtureStore` returns; compact while copying.
        let copy = temporaryPath("fixture-compact")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let mdbCopy = Process()
        mdbCopy.executableURL = URL(fileURLWithPath: "/usr/bin/mdb_copy")
        mdbCopy.arguments = ["-c", path, copy]
        try mdbCopy.run()
        mdbCopy.waitUntilExit()
        #expect(mdbCopy.terminationStatus == 0)
        let fixture = fixture(format: Ledger.storeFormat)
        try FileManager.default.createDirectory(atPath: (fixture as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: fixture)
        try FileManager.default.copyItem(atPath: copy + "/data.mdb", toPath: fixture)
    }
}

extension Event {
    /// The guard results of a `merged` event (empty for other kinds).
    var mergeGuards: [GuardResult] {
        if case .merged(_, _, _, let guards, _) = body { return guards }
        return []
    }
}
