import Foundation
import Testing
@testable import IdentityLedger
import LMDB

/// Every error code: the right case, a message that names the problem, nothing written.
struct ErrorTests {
    @Test func validationErrors() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=seed@example.com") // the store exists, so refusals are visible as no change
        try await expectRefused(ledger, code: "unknownIdentifierType") { try await ledger.identify("loyalty=1") }
        try await expectRefused(ledger, code: "invalidIdentifierValue") { try await ledger.identify("email=not-an-email") }
        try await expectRefused(ledger, code: "invalidIdentifierValue") { try await ledger.identify("phone=12345") }
        try await expectRefused(ledger, code: "accessNotAllowedForType") { try await ledger.identify("cookie=c", access: ["cookie"]) }
        try await expectRefused(ledger, code: "unknownIdentifierType") { try await ledger.identify("email=x@example.com", access: ["nope"]) }
        try await expectRefused(ledger, code: "multipleValuesForUniqueType") { try await ledger.identify("external_id=A", "external_id=B") }
        try await expectRefused(ledger, code: "noIdentifiers") { _ = try await ledger.identify(IdentifyCommand(identifiers: [])) }
        try await expectRefused(ledger, code: "noIdentifiers") { _ = try await ledger.update(UpdateCommand(identifiers: [], properties: ["a": 1])) }
        let error = await ledgerError { try await ledger.identify("email=a@b") }
        #expect(error?.description.contains("email") == true)
        #expect(error?.description.contains("dot") == true)
    }

    /// An update writes properties only: without any it is refused, through the library and
    /// through an `ingest` line alike, and nothing is written.
    @Test func anUpdateWithoutPropertiesIsRefused() async throws {
        let ledger = try await makeLedger()
        let ann = try await ledger.identify("email=ann@example.com")
        try await expectRefused(ledger, code: "invalidInput") {
            _ = try await ledger.update(UpdateCommand(identifiers: ids("email=ann@example.com"), properties: [:]))
        }
        try await expectRefused(ledger, code: "invalidInput") {
            _ = try await ledger.update(UpdateCommand(identifiers: ids("email=new@example.com"), properties: [:]))
        }
        let line = try Command(jsonLine: #"{"op":"update","ids":{"email":"ann@example.com"}}"#)
        try await expectRefused(ledger, code: "invalidInput") { _ = try await ledger.execute(line) }
        #expect(try ledger.customer(.id(ann.customer)).properties.isEmpty)
        #expect(try ledger.events(limit: 0).isEmpty && ledger.events(limit: -1).isEmpty)
    }

    @Test func sameValueTwiceIsOneIdentifier() async throws {
        let ledger = try await makeLedger()
        let result = try await ledger.identify("external_id=A", "external_id= A ")
        #expect(try ledger.customer(.id(result.customer)).identifiers.count == 1)
    }

    @Test func mergeErrors() async throws {
        let ledger = try await makeLedger()
        let a = try await ledger.identify("email=m1@example.com")
        let b = try await ledger.identify("email=m2@example.com")
        try await expectRefused(ledger, code: "customerNotFound") {
            _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(99), actor: "ops"))
        }
        // A merge or detach cannot be undone: someone must be named as having decided it.
        for actor in ["", "  "] {
            try await expectRefused(ledger, code: "invalidInput") {
                _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: actor))
            }
            try await expectRefused(ledger, code: "invalidInput") {
                _ = try await ledger.detach(DetachCommand(customer: .id(a.customer), identifier: Identifier(type: "email", value: "m1@example.com"), actor: actor))
            }
        }
        try await expectRefused(ledger, code: "sameCustomer") {
            _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .identifier(Identifier(type: "email", value: "M1@example.com")), actor: "ops"))
        }
        _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops"))
        let error = try await expectRefused(ledger, code: "customerAlreadyMerged") {
            _ = try await ledger.merge(MergeCommand(into: .id(a.customer), from: .id(b.customer), actor: "ops"))
        }
        #expect(error == .customerAlreadyMerged(customer: b.customer, survivor: a.customer))
    }

    @Test func detachErrorsAndEffects() async throws {
        let ledger = try await makeLedger()
        let a = try await ledger.identify("external_id=D1", "email=d@example.com", access: ["email"])
        try await expectRefused(ledger, code: "identifierNotFound") {
            _ = try await ledger.detach(DetachCommand(customer: .id(a.customer), identifier: Identifier(type: "external_id", value: "D2"), actor: "ops"))
        }
        try await expectRefused(ledger, code: "identifierNotFound") {
            _ = try await ledger.detach(DetachCommand(customer: .id(a.customer), identifier: Identifier(type: "external_id", value: "D1"), actor: "ops", accessOnly: true))
        }
        let b = try await ledger.identify("external_id=D9", "email=d@example.com")
        #expect(b.created)
        #expect(b.declinedGuards(a.customer) == [GuardName.uniqueIdConflict])

        _ = try await ledger.detach(DetachCommand(customer: .id(a.customer), identifier: Identifier(type: "email", value: "D@example.com"), actor: "ops", accessOnly: true))
        #expect(try ledger.lookup(Identifier(type: "email", value: "d@example.com")).allSatisfy { !$0.access })
        _ = try await ledger.detach(DetachCommand(customer: .id(a.customer), identifier: Identifier(type: "external_id", value: "D1"), actor: "ops", note: "card reissued"))
        #expect(try ledger.owner("external_id=D1") == nil)
        // With the conflicting card cleared, the next contact match merges (the fitness-club couple's first fix, behaviour §10.1).
        let merged = try await ledger.identify("external_id=D9", "email=d@example.com")
        #expect(merged.customer == a.customer)
        #expect(merged.merged == [b.customer])
        // A detached unique value may be attached again.
        let again = try await ledger.identify("external_id=D1", "email=new@example.com")
        #expect(again.created)
    }

    @Test func eventIdIdempotency() async throws {
        let ledger = try await makeLedger()
        let first = try await ledger.identify("email=i@example.com", properties: ["n": 1], eventId: "e-1")
        let before = try ledger.fingerprint()
        let repeatResult = try await ledger.identify("email=i@example.com", properties: ["n": 1], eventId: "e-1")
        #expect(repeatResult == first)
        #expect(try ledger.fingerprint() == before)
        try await expectRefused(ledger, code: "eventIdConflict") {
            try await ledger.identify("email=i@example.com", properties: ["n": 2], eventId: "e-1")
        }
        // A refused command does not use up its key.
        try await expectRefused(ledger, code: "invalidIdentifierValue") { try await ledger.identify("email=bad", eventId: "e-2") }
        let later = try await ledger.identify("email=j@example.com", eventId: "e-2")
        #expect(later.created)
    }

    @Test func schemaErrors() async throws {
        let ledger = try await makeLedger()
        try await expectRefused(ledger, code: "invalidSchema") {
            try await ledger.setSchema(Schema(types: [IdentifierType(name: "Email", kind: .contact)]))
        }
        try await expectRefused(ledger, code: "invalidSchema") {
            try await ledger.setSchema(Schema(types: [IdentifierType(name: "email", kind: .contact, blockMergeOnConflict: true)]))
        }
        try await expectRefused(ledger, code: "invalidSchema") {
            try await ledger.setSchema(Schema(types: [IdentifierType(name: "cookie", kind: .soft, canGrantAccess: true)]))
        }
        _ = try await ledger.identify("external_id=S1", "email=s@example.com", "phone=+447700900006", access: ["email"])
        _ = try await ledger.identify("external_id=S2", "phone=+447700900006")
        var removed = Schema.default
        removed.types.removeAll { $0.name == "phone" }
        let error = try await expectRefused(ledger, code: "schemaConflict") { try await ledger.setSchema(removed) }
        #expect(error?.description.contains("phone") == true)
        var unique = Schema.default
        unique.types[3].kind = .unique // phone, shared by two customers
        try await expectRefused(ledger, code: "schemaConflict") { try await ledger.setSchema(unique) }
        var noAccess = Schema.default
        noAccess.types[2].canGrantAccess = false // email, flagged on a customer
        try await expectRefused(ledger, code: "schemaConflict") { try await ledger.setSchema(noAccess) }
        // Turning a guard off is allowed and merges nothing by itself.
        var relaxed = Schema.default
        relaxed.types[1].blockMergeOnConflict = false
        let customersBefore = try ledger.statistics().activeCustomers
        try await ledger.setSchema(relaxed)
        #expect(try ledger.schema() == relaxed)
        #expect(try ledger.statistics().activeCustomers == customersBefore)
    }

    @Test func ambiguousUpdate() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("external_id=H1", "phone=+447700900007")
        _ = try await ledger.identify("external_id=H2", "phone=+447700900007")
        try await expectRefused(ledger, code: "ambiguousCustomer") {
            try await ledger.update("phone=+447700900007", properties: ["x": 1])
        }
        try await expectRefused(ledger, code: "ambiguousCustomer") {
            _ = try ledger.customer(.identifier(Identifier(type: "phone", value: "+447700900007")))
        }
        try await expectRefused(ledger, code: "customerNotFound") { _ = try ledger.customer(.id(42)) }
    }

    @Test func malformedIngestLines() throws {
        for (line, fragment) in [
            ("{not json", "JSON"), ("[1,2]", "object"), (#"{"op":"fly"}"#, "fly"),
            (#"{"op":"identify","ids":{"email":5}}"#, "ids.email"),
            (#"{"op":"identify","ids":{"email":"a@b.co"},"at":"yesterday"}"#, "at"),
            (#"{"op":"merge","into":1,"actor":"x"}"#, "from"),
        ] {
            #expect(throws: LedgerError.self) { try Command(jsonLine: line) }
            do { _ = try Command(jsonLine: line) } catch { #expect(error.description.contains(fragment), "\(line): \(error)") }
        }
        let parsed = try Command(jsonLine: #"{"op":"identify","ids":{"email":"a@b.com","cookie":["c1","c2"]},"access":["email"],"properties":{"name":"Ann"},"at":"2026-11-01T10:00:00Z","source":"web","eventId":"e-17"}"#)
        guard case .identify(let command) = parsed else { Issue.record("not identify"); return }
        #expect(command.identifiers.count == 3)
        #expect(command.access == ["email"])
        #expect(command.context.source == "web" && command.context.eventId == "e-17")
    }

    /// An ingest field the op does not take is refused by name, not skipped: a misspelled
    /// key (or one of another op) would otherwise drop its data silently.
    @Test(arguments: [
        (#"{"op":"identify","ids":{"email":"typo@y.com"},"propertes":{"name":"Lost"},"acess":["email"]}"#, "acess"),
        (#"{"op":"identify","ids":{"email":"a@b.com"},"actor":"ops"}"#, "actor"),
        (#"{"op":"identify","ids":{"email":"a@b.com"},"propertes":null}"#, "propertes"),
        (#"{"op":"update","ids":{"email":"a@b.com"},"access":["email"],"properties":{"a":1}}"#, "access"),
        (#"{"op":"merge","into":1,"from":2,"actor":"ops","notes":"same person"}"#, "notes"),
        (#"{"op":"detach","customer":1,"type":"email","value":"a@b.com","actor":"ops","accessonly":true}"#, "accessonly"),
    ])
    func unknownIngestFieldsAreRefused(line: String, field: String) {
        do {
            _ = try Command(jsonLine: line)
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.code == "invalidInput")
            #expect(error.description.hasPrefix("unknown field \"\(field)\""), "\(error)")
        }
    }

    /// Every field each op documents is still taken (behaviour §9.5).
    @Test func everyIngestFieldOfEachOpIsTaken() throws {
        let context = #""at":"2026-11-01T10:00:00Z","source":"web","eventId":"e-1""#
        for line in [
            #"{"op":"identify","ids":{"email":"a@b.com"},"access":["email"],"properties":{"n":1},"# + context + "}",
            #"{"op":"update","ids":{"email":"a@b.com"},"properties":{"n":1},"# + context + "}",
            #"{"op":"merge","into":1,"from":2,"actor":"ops","note":"same","requireGuards":true,"# + context + "}",
            #"{"op":"detach","customer":1,"type":"email","value":"a@b.com","actor":"ops","note":"n","accessOnly":true,"# + context + "}",
        ] {
            let command = try Command(jsonLine: line)
            #expect(command.context.eventId == "e-1", "\(line)")
        }
    }

    @Test func newerStoreFormatAndCorruptEvents() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=z@example.com")
        try await ledger.env.write { txn in
            try txn.put(ledger.db.log, key: Keys.seq(3), value: [1, 99, 0])
        }
        let corrupt = await ledgerError { _ = try ledger.events(limit: 10) }
        #expect(corrupt == .corruptEvent(seq: 3, reason: "unknown event kind 99"))
        try await ledger.env.write { txn in
            try txn.put(ledger.db.meta, key: Meta.storeFormat, value: Keys.seq(Ledger.storeFormat + 1))
        }
        let newer = await ledgerError { _ = try Ledger.open(path: ledger.env.path) }
        #expect(newer?.code == "unsupportedFormat")
    }
}
