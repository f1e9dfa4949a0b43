import Foundation
import Crypto
import Synchronization
import Testing
@testable import IdentityLedger

/// Commands decided against an ``InMemoryView``, without LMDB: the stories of the behaviour
/// document, decided and applied one after the other, and random command streams whose
/// results must equal a real ledger's command by command.
struct DeciderTests {
    /// Decides commands against an in-memory view and applies each decision before the next,
    /// with a clock one second further on for each.
    final class Harness {
        let view = InMemoryView()
        private var ms: Int64 = 1_793_000_000_000

        func tick() -> Int64 {
            ms += 1000
            return ms
        }

        @discardableResult
        func run(_ command: Command) throws -> CommandResult {
            try view.apply(CommandDecider(view: view, now: tick()).decide(command))
        }

        @discardableResult
        func identify(_ values: String..., access: [String] = [], properties: [String: JSONValue] = [:]) throws -> CommandResult {
            try run(.identify(IdentifyCommand(identifiers: values.map { Identifier(parsing: $0)! }, access: access, properties: properties)))
        }

        @discardableResult
        func update(_ values: String..., properties: [String: JSONValue]) throws -> CommandResult {
            try run(.update(UpdateCommand(identifiers: values.map { Identifier(parsing: $0)! }, properties: properties)))
        }

        /// The error deciding `body` threw, and that nothing was applied.
        func refused(_ code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> LedgerError? {
            let events = view.log.count
            do {
                try body()
                Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
                return nil
            } catch let error as LedgerError {
                #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
                #expect(view.log.count == events, "a refused command was applied", sourceLocation: sourceLocation)
                return error
            } catch {
                Issue.record("expected a LedgerError, got \(error)", sourceLocation: sourceLocation)
                return nil
            }
        }

        /// An import matched by `matchBy`: its start, each row decided against the rows before.
        func importRows(_ rows: [ImportRow], matchBy: String, importId: String = "imp-1") throws -> [ImportRowDecider<InMemoryView>.Outcome] {
            let start = ImportStart(importId: importId, sourceName: "rows.csv", contentDigest: [], matchBy: matchBy, format: "csv")
            try view.apply(ImportDecisions.start(start, in: view, now: tick()))
            let state = try #require(try view.importState(importId))
            let now = tick()
            return try rows.map { row in
                let decider = ImportRowDecider(view: view, schema: try view.schema(), importId: importId, matchBy: matchBy, startedAt: state.startedAt)
                return try view.apply(try decider.decide(row) { now })
            }
        }

        func holders(_ value: String) throws -> [CustomerID] {
            try view.holders(of: Identifier(parsing: value)!).map(\.customer)
        }

        func property(_ id: CustomerID, _ key: String) throws -> JSONValue? {
            try view.current(try view.existingCustomer(id)).properties.first { $0.key == key }?.value
        }

        var declineEvents: [[GuardResult]] {
            view.log.compactMap { if case .mergeDeclined(_, _, let guards) = $0.body { guards } else { nil } }
        }
    }

    /// An import row from column names and cells, as the CSV reader makes it.
    static func row(_ number: UInt64, _ cells: [(column: String, value: String)], access: [String] = []) -> ImportRow {
        ImportRow(
            row: number, line: Int(number) + 1,
            identifiers: cells.map { .init(column: $0.column, identifier: Identifier(type: $0.column, value: $0.value)) },
            access: access.map { ("access:" + $0, $0) }
        )
    }

    // MARK: The stories

    /// The fitness-club couple: the shared phone matches, the different cards prove two people.
    @Test func fitnessClubCoupleStaysApart() throws {
        let h = Harness()
        let ann = try h.identify("external_id=M-100", "phone=+44 20 7946 0958", properties: ["name": "Ann"])
        let bob = try h.identify("external_id=M-200", "phone=+442079460958", properties: ["name": "Bob"])

        #expect(ann.created && bob.created && ann.customer != bob.customer)
        #expect(bob.merged.isEmpty)
        #expect(bob.declinedGuards(ann.customer) == [.uniqueIdConflict])
        let identified = try #require(try h.view.event(bob.seq.first!))
        if case .identified(_, _, _, _, let declined, _) = identified.body {
            #expect(declined.map(\.customer) == [ann.customer] && declined.first?.failingGuards == [.uniqueIdConflict])
        } else {
            Issue.record("event \(identified.seq) is \(identified.kind)")
        }
        #expect(try h.holders("phone=+442079460958") == [ann.customer, bob.customer])
        #expect(try h.property(bob.customer, "name") == .string("Bob"))
        // The decline is on record once, with all three guard results.
        #expect(h.declineEvents.map { $0.map(\.guard) } == [GuardName.evaluatedByDefault])

        // The till scans only the phone: whose visit it is cannot be said.
        let error = h.refused("ambiguousCustomer") { try h.identify("phone=+442079460958") }
        if case .ambiguousCustomer(let identifier, let candidates)? = error {
            #expect(identifier == Identifier(type: "phone", value: "+442079460958") && candidates == [ann.customer, bob.customer])
        }
        // With the card, the visit is Ann's, and no new decline about Bob is recorded.
        let visit = try h.identify("external_id=M-100", "phone=+442079460958")
        #expect(visit.customer == ann.customer && !visit.created && visit.merged.isEmpty)
        #expect(h.declineEvents.count == 1)

        // The operator's remedy: a merge that insists on the guards is blocked, a manual one is not.
        _ = h.refused("mergeBlocked") {
            try h.run(.merge(MergeCommand(into: .id(ann.customer), from: .id(bob.customer), actor: "ops", requireGuards: true)))
        }
        let merge = try h.run(.merge(MergeCommand(into: .id(ann.customer), from: .id(bob.customer), actor: "ops")))
        #expect(merge.customer == ann.customer && merge.merged == [bob.customer])
        #expect(merge.guards.failing == [.uniqueIdConflict])
        #expect(try h.holders("phone=+442079460958") == [ann.customer])
        #expect(try h.holders("external_id=M-200") == [ann.customer])
        #expect(try h.view.existingCustomer(bob.customer).survivor == ann.customer)
        #expect(try h.property(ann.customer, "name") == .string("Bob"), "Bob's later write wins")
        #expect(try h.view.existingCustomer(ann.customer).mergedFrom == [bob.customer])
    }

    /// The till customer and the web customer who share a phone.
    @Test func tillAndWebCustomersSharingAPhoneStayApart() throws {
        let h = Harness()
        let till = try h.identify("phone=+15551234567", access: ["phone"], properties: ["channel": "pos"])
        let web = try h.identify("email=b@example.com", access: ["email"])
        let checkout = try h.identify("email=b@example.com", "phone=+1 555 123 4567", access: ["email"])

        #expect(checkout.customer == web.customer && !checkout.created)
        #expect(checkout.merged.isEmpty)
        #expect(checkout.declinedGuards(till.customer) == [.accessContactsDiffer])
        let phone = try #require(try h.view.valueState(Identifier(type: "phone", value: "+15551234567")))
        #expect(phone.holders.map(\.customer) == [till.customer, web.customer])
        #expect(phone.holders.map(\.access) == [true, false])

        let error = h.refused("accessContactInUse") {
            try h.identify("email=b@example.com", "phone=+15551234567", access: ["email", "phone"])
        }
        if case .accessContactInUse(let identifier, let owner, let guards)? = error {
            #expect(identifier == Identifier(type: "phone", value: "+15551234567"))
            #expect(owner == till.customer)
            #expect(guards.failing == [.accessContactsDiffer])
        }
    }

    /// The identify, and the import rows, that re-use a technical ID.
    @Test func reusedTechnicalIdIsRefusedNamingTheOwner() throws {
        let h = Harness()
        let erin = try h.identify("technical_id=T-9", "external_id=E-1", "email=erin@example.com", access: ["email"])

        let conflict = h.refused("duplicateUniqueIdentifier") { try h.identify("technical_id=T-9", "external_id=E-2") }
        if case .duplicateUniqueIdentifier(let identifier, let owner, let guards)? = conflict {
            #expect(identifier == Identifier(type: "technical_id", value: "T-9"))
            #expect(owner == erin.customer)
            #expect(guards.failing == [.uniqueIdConflict])
        }
        let login = h.refused("duplicateUniqueIdentifier") {
            try h.identify("technical_id=T-9", "email=other@example.com", access: ["email"])
        }
        if case .duplicateUniqueIdentifier(_, let owner, let guards)? = login {
            #expect(owner == erin.customer)
            #expect(guards.failing == [.accessContactsDiffer])
        }
        let again = try h.identify("technical_id=T-9", "email=Erin@Example.com", access: ["email"])
        #expect(again.customer == erin.customer && !again.created)

        // In an import: matched by email the row would create a customer with Erin's ID;
        // matched by technical_id it finds Erin, whose login differs.
        let cells = [("technical_id", "T-9"), ("email", "other@example.com")]
        for (matchBy, code) in [("email", "duplicateUniqueIdentifier"), ("technical_id", "mergeBlocked")] {
            let events = h.view.log.count
            let outcomes = try h.importRows([Self.row(1, cells, access: ["email"])], matchBy: matchBy, importId: "imp-\(matchBy)")
            guard case .rejected(let rejection)? = outcomes.first else {
                Issue.record("matched by \(matchBy): \(outcomes)")
                continue
            }
            #expect(rejection.code == code, "\(rejection)")
            #expect(rejection.customer == erin.customer)
            #expect(rejection.column == "technical_id")
            if matchBy == "technical_id" { #expect(rejection.guards?.failing == [.accessContactsDiffer]) }
            #expect(h.view.log.count == events + 1, "only the import's start is logged")
            #expect(try h.view.importState("imp-\(matchBy)")?.lastRow == 0)
        }
        #expect(try h.holders("technical_id=T-9") == [erin.customer])
        #expect(try h.view.customerCount == 1)
    }

    /// The update that should have been identify: a warning, two profiles, until the fix merges them.
    @Test func updateThatShouldHaveBeenIdentify() throws {
        let h = Harness()
        let fay = try h.identify("email=fay@example.com", access: ["email"], properties: ["name": "Fay"])
        let visitor = try h.identify("cookie=ck-fay-phone")
        let wrong = try h.update("cookie=ck-fay-phone", properties: ["email": "fay@example.com"])

        #expect(wrong.customer == visitor.customer && !wrong.created)
        #expect(wrong.warnings.map(\.code) == ["identifierInProperties"])
        #expect(try h.view.existingCustomer(visitor.customer).identifiers.map(\.type) == ["cookie"])
        #expect(try h.holders("email=fay@example.com") == [fay.customer])

        let fixed = try h.identify("email=fay@example.com", "cookie=ck-fay-phone")
        #expect(fixed.customer == fay.customer && fixed.merged == [visitor.customer])
        let absorbed = try h.view.existingCustomer(visitor.customer)
        #expect(absorbed.mergedInto == fay.customer && absorbed.survivor == fay.customer)
        #expect(absorbed.identifiers.isEmpty && absorbed.properties.isEmpty)
        let survivor = try h.view.existingCustomer(fay.customer)
        #expect(survivor.mergedFrom == [visitor.customer])
        #expect(survivor.identifiers.map(\.identifier) == ids("cookie=ck-fay-phone", "email=fay@example.com"))
        #expect(try h.property(visitor.customer, "email") == .string("fay@example.com"))
        #expect(try h.property(visitor.customer, "name") == .string("Fay"))
        #expect(try h.holders("cookie=ck-fay-phone") == [fay.customer])
    }

    /// The shared browser: the cookie never merges two known people and follows the last login.
    @Test func sharedBrowserNeverMergesTwoKnownCustomers() throws {
        let h = Harness()
        let gus = try h.identify("email=gus@example.com", "cookie=shared", access: ["email"])
        let hana = try h.identify("email=hana@example.com", "cookie=shared", access: ["email"])

        #expect(hana.created && hana.merged.isEmpty)
        #expect(Set(hana.declinedGuards(gus.customer)) == [.softIdOnly, .accessContactsDiffer])
        #expect(try h.identify("cookie=shared").customer == hana.customer)
        #expect(try h.update("cookie=shared", properties: ["lastPage": "/shoes"]).customer == hana.customer)
        _ = try h.identify("email=gus@example.com", "cookie=shared", access: ["email"])
        #expect(try h.identify("cookie=shared").customer == gus.customer)
        #expect(try h.view.customerCount == 2)
    }

    /// A soft value only imports presented is claimed by nobody: its first holder stands.
    @Test func anUnclaimedSoftValueGoesToItsFirstHolder() throws {
        let h = Harness()
        let outcomes = try h.importRows([
            Self.row(1, [("email", "ann@example.com"), ("cookie", "shared")]),
            Self.row(2, [("email", "bob@example.com"), ("cookie", "shared")]),
        ], matchBy: "email")
        #expect(outcomes.map { if case .applied(let created, _) = $0 { created } else { false } } == [true, true])
        #expect(try h.view.importState("imp-1").map { [$0.lastRow, $0.created, $0.updated] } == [2, 2, 0])
        #expect(try h.holders("cookie=shared") == [1, 2])
        #expect(try h.view.claimedHolder(of: Identifier(type: "cookie", value: "shared")) == nil)
        let visit = try h.identify("cookie=shared")
        #expect(visit.customer == 1 && !visit.created && visit.merged.isEmpty)
        #expect(try h.update("cookie=shared", properties: ["seen": true]).customer == 1)
    }

    // MARK: The same streams against a real ledger

    /// The engine clock of a ledger, set by the test before each command.
    final class SetClock: Sendable {
        let ms = Mutex<Int64>(1_793_000_000_000)
        var date: Date { Date(millisecondsSince1970: ms.withLock { $0 }) }
    }

    /// Random command streams (the property tests' generator, with one schema change and one
    /// CSV import each, repeats of commands with an eventId, and a clock that sometimes goes
    /// back), decided against the in-memory view and run by a real ledger: equal results or
    /// equal errors, command by command, and equal logs and projections along the way. So the
    /// deciders depend on nothing but the view.
    @Test(arguments: ["default", "relaxed", "loyalty", "softLimit"])
    func deciderOverTheViewMatchesTheLedger(schemaName: String) async throws {
        let schemas = PropertyTests.schemas
        // softLimit: the releases of a soft type's maxValues (not in the reference model's schemas).
        let schema = try #require(schemaName == "softLimit" ? SoftValueLimitTests.schema() : schemas[schemaName])
        // A fixed amount of work: a few seconds per schema in a debug build (the property tests
        // run a thousand streams against the reference model; this one only has to show that
        // the deciders need nothing but the view).
        let streams = 30
        let commands = 60
        var outcomes: [String: Int] = [:]
        var compared = 0
        for seed in 1...UInt64(streams) {
            let clock = SetClock()
            let ledger = try Ledger.open(path: temporaryPath(), options: .init(durability: .noSync, clock: { clock.date }))
            let view = InMemoryView()
            // Each schema its own streams: a salt from the name (not its length, which all three share).
            let salt = schemaName.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) }
            var rng = SeededGenerator(seed: seed &* 7919 &+ salt)
            var stream = PropertyTests.Stream(schema: schema, rng: SeededGenerator(seed: seed))
            var now = clock.ms.withLock { $0 }
            func advance() {
                // Now and then the machine clock steps back: the log's clock must not.
                now += Int.random(in: 0..<10, using: &rng) == 0 ? -5_000 : 1_000
                clock.ms.withLock { $0 = now }
            }
            func decidedSchema(_ schema: Schema) async {
                advance()
                let expected = await Self.outcome { () async throws(LedgerError) in try await ledger.setSchema(schema) }
                let actual = Self.result { try view.apply(CommandDecider(view: view, now: now).decide(schema)) }
                #expect(actual == expected, "seed \(seed): schema \(schema)")
            }
            await decidedSchema(schema)
            var sent: [Command] = []
            // One import of random rows in the middle of each stream, so later commands meet its values.
            func importRandomRows() async throws {
                let types = schema.types
                let accessType = types.first(where: \.canGrantAccess)?.name
                var lines = [(types.map(\.name) + ["name"] + (accessType.map { ["access:" + $0] } ?? [])).joined(separator: ",")]
                for _ in 0..<Int.random(in: 5...20, using: &rng) {
                    var cells = types.map { Bool.random(using: &rng) ? stream.value(of: $0) : "" }
                    cells.append("v\(Int.random(in: 0..<5, using: &rng))")
                    if accessType != nil { cells.append(Bool.random(using: &rng) ? "true" : "") }
                    lines.append(cells.joined(separator: ","))
                }
                let path = try importFixture("rows.csv", lines.joined(separator: "\n") + "\n")
                let matchBy = types.filter { $0.kind != .soft }.randomElement(using: &rng)!.name
                advance()
                let expected = await Self.outcome { () async throws(LedgerError) in
                    let summary = try await ledger.importFile(at: path, matchBy: matchBy, importId: "imp-\(seed)")
                    return [summary.rows, summary.created, summary.updated, summary.rejected]
                }
                let actual = Self.result { try Self.importFile(at: path, matchBy: matchBy, importId: "imp-\(seed)", into: view, now: now) }
                #expect(actual == expected, "seed \(seed): import matched by \(matchBy) of\n\(lines.joined(separator: "\n"))")
                if case .success(let counts) = actual { outcomes["imported rows", default: 0] += Int(counts[1] + counts[2]) }
                try Self.expectSameState(ledger, view, "seed \(seed), after the import")
            }
            let schemaChangeAt = Int.random(in: 0..<commands, using: &rng)
            for index in 0..<commands {
                if index == commands / 2 { try await importRandomRows() }
                if index == schemaChangeAt { await decidedSchema(schemas[schemas.keys.sorted().randomElement(using: &rng)!]!) }
                // Now and then a command with an eventId is sent again: a repeat, answered from the log.
                let command = !sent.isEmpty && Int.random(in: 0..<8, using: &rng) == 0 ? sent.randomElement(using: &rng)! : stream.next()
                advance()
                let expected = await Self.outcome { () async throws(LedgerError) in try await ledger.execute(command) }
                let events = view.log.count
                let actual = Self.result { try view.apply(CommandDecider(view: view, now: now).decide(command)) }
                #expect(actual == expected, "seed \(seed), command \(index): \(command)")
                for event in view.log[events...] { outcomes[event.kind, default: 0] += 1 }
                if case .success = actual, view.log.count == events { outcomes["repeated", default: 0] += 1 }
                if case .success(let result) = expected {
                    if command.context.eventId != nil { sent.append(command) }
                    stream.customers = max(stream.customers, result.customer)
                    outcomes["ok", default: 0] += 1
                } else if case .failure(let error) = expected {
                    outcomes[error.code, default: 0] += 1
                }
                if index % 20 == 19 {
                    try Self.expectSameState(ledger, view, "seed \(seed), command \(index)")
                    compared += 1
                }
            }
        }
        // The streams must reach both paths and the engine's harder cases, or they prove little.
        #expect(outcomes["ok", default: 0] > streams * commands / 3, "\(outcomes)")
        #expect(outcomes.count > 8, "too few distinct outcomes: \(outcomes)")
        #expect(outcomes["merged", default: 0] > streams && outcomes["mergeDeclined", default: 0] > streams, "\(outcomes)")
        #expect(outcomes["repeated", default: 0] > 0, "no idempotent repeat: \(outcomes)")
        #expect(outcomes["imported rows", default: 0] > streams, "\(outcomes)")
        #expect(compared == streams * (commands / 20))
    }

    /// Imports a CSV file into the view as a ledger does (its start, each row against the rows
    /// before, its finish); returns the counts of rows read, created, updated and rejected.
    static func importFile(at path: String, matchBy: String, importId: String, into view: InMemoryView, now: Int64) throws -> [UInt64] {
        let schema = try view.schema()
        guard schema.type(named: matchBy) != nil else { throw LedgerError.unknownIdentifierType(type: matchBy) }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let start = ImportStart(
            importId: importId, sourceName: (path as NSString).lastPathComponent, contentDigest: SHA256.hash(bytes),
            matchBy: matchBy, format: ImportFormat.csv.rawValue, csvCells: .typed)
        try view.apply(ImportDecisions.start(start, in: view, now: now))
        let startedAt = try #require(try view.importState(importId)).startedAt
        var source = try ImportSource(path: path, format: .csv, schema: schema)
        defer { source.close() }
        var counts = ImportCounts()
        while let row = try source.next() {
            let decider = ImportRowDecider(view: view, schema: try view.schema(), importId: importId, matchBy: matchBy, startedAt: startedAt)
            switch try view.apply(try decider.decide(row) { now }) {
            case .applied(let created, _): if created { counts.created += 1 } else { counts.updated += 1 }
            case .rejected: counts.rejected += 1
            }
        }
        counts.read = source.rowsRead
        try view.apply(ImportDecisions.finish(importId, counts: counts, in: view, now: now))
        return [counts.read, counts.created, counts.updated, counts.rejected]
    }

    /// What a ledger's command came to.
    static func outcome<T>(_ body: () async throws(LedgerError) -> T) async -> Result<T, LedgerError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// What deciding and applying came to, as a ledger reports it.
    static func result<T>(_ body: () throws -> T) -> Result<T, LedgerError> {
        do {
            return .success(try body())
        } catch let error as LedgerError {
            return .failure(error)
        } catch {
            return .failure(.invalidInput(reason: "not a LedgerError: \(error)"))
        }
    }

    /// The ledger's log and projections equal the view's.
    static func expectSameState(_ ledger: Ledger, _ view: InMemoryView, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try ledger.snapshot { reader in
            #expect(try reader.events(from: 1, limit: .max) == view.log, "\(context): logs differ", sourceLocation: sourceLocation)
            #expect(try reader.customerCount == view.customerCount, "\(context)", sourceLocation: sourceLocation)
            for id in 1...CustomerID(max(view.customerCount, 1)) {
                let stored = try reader.customer(id)
                let kept = try view.customer(id)
                #expect(stored == kept, "\(context): customer \(id)\n  store: \(String(describing: stored))\n  view:  \(String(describing: kept))", sourceLocation: sourceLocation)
            }
            for (identifier, state) in view.values {
                #expect(try reader.valueState(identifier) == state, "\(context): \(identifier)", sourceLocation: sourceLocation)
            }
            var storedValues: [Identifier] = []
            try reader.forEachValue(ofType: nil) { identifier, _ in
                storedValues.append(identifier)
                return true
            }
            var keptValues: [Identifier] = []
            try view.forEachValue(ofType: nil) { identifier, _ in
                keptValues.append(identifier)
                return true
            }
            #expect(storedValues == keptValues, "\(context): values with holders differ", sourceLocation: sourceLocation)
            #expect(try reader.txn.count(reader.db.declines) == view.declines.count, "\(context): declines", sourceLocation: sourceLocation)
            for (key, seq) in view.declines {
                #expect(try reader.isDeclineRecorded(key.low, key.high, mask: key.mask) == seq, "\(context): decline \(key)", sourceLocation: sourceLocation)
            }
            for (eventId, recorded) in view.eventIds {
                let stored = try reader.command(withEventId: eventId)
                #expect(stored?.digest == recorded.digest && stored?.seq == recorded.seq, "\(context): eventId \(eventId)", sourceLocation: sourceLocation)
            }
            #expect(try reader.schema() == view.schema(), "\(context): schema", sourceLocation: sourceLocation)
        }
    }
}
