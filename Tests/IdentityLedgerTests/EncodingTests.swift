import Foundation
import Testing
@testable import IdentityLedger

/// The event encoding round trip.
struct EncodingTests {
    static func evidence(_ side: GuardEvidence.Side?, _ texts: String...) -> [GuardEvidence] {
        texts.map { GuardEvidence(Identifier(parsing: $0)!, side: side) }
    }

    /// Every finding a guard can store, each value with its side.
    static let guards = [
        GuardResult(guard: .uniqueIdConflict, passed: false, finding: .uniqueDiffers(type: "external_id", candidate: 9),
                    evidence: evidence(.cluster, "external_id=A") + evidence(.candidate, "external_id=B")),
        GuardResult(guard: .uniqueIdConflict, passed: true, finding: .noUniqueConflict),
        GuardResult(guard: .accessContactsDiffer, passed: true, finding: .noAccessContact(candidate: 9)),
        GuardResult(guard: .accessContactsDiffer, passed: false, finding: .accessHeldElsewhere(candidate: 9, owner: 4),
                    evidence: evidence(.cluster, "email=a@b.com") + evidence(.candidate, "email=c@d.com")),
        GuardResult(guard: .accessContactsDiffer, passed: false, finding: .accessDeclaredElsewhere(candidate: 9), evidence: evidence(.candidate, "email=c@d.com")),
        GuardResult(guard: .accessContactsDiffer, passed: true, finding: .accessAgrees, evidence: evidence(.candidate, "email=c@d.com")),
        GuardResult(guard: .softIdOnly, passed: false, finding: .onlySoftBothKnown(candidate: 9), evidence: evidence(.candidate, "cookie=x")),
        GuardResult(guard: .softIdOnly, passed: true, finding: .reached(onlySoft: true), evidence: evidence(.candidate, "cookie=x")),
        GuardResult(guard: .valueLimit, passed: true, finding: .firstFound(candidate: 9)),
        GuardResult(guard: .valueLimit, passed: false, finding: .overLimit(.init(type: "email", count: 4, limit: 3)), evidence: evidence(.candidate, "email=a@b.com")),
        GuardResult(guard: .valueLimit, passed: true, finding: .withinLimits([.init(type: "email", count: 2, limit: 3), .init(type: "phone", count: 1, limit: 2)])),
        GuardResult(guard: .softIdOnly, passed: false, finding: .recordedEarlier),
        GuardResult(guard: .softIdOnly, passed: true, finding: .written("as written"), evidence: evidence(nil, "cookie=y")),
    ]

    static let bodies: [EventBody] = [
        .schemaChanged(.default),
        .schemaChanged(Schema(types: [
            IdentifierType(name: "email", kind: .contact, normalize: .email, canGrantAccess: true, maxHolders: 5,
                           blockedValues: ["test@test.com", "none@none.com"], blockedPatterns: ["noreply@.*"], maxValues: 3),
            IdentifierType(name: "cookie", kind: .soft, blockedPatterns: ["0+", "undefined"]),
        ])),
        .identified(customer: 7, created: true, identifiers: [PresentedIdentifier(identifier: Identifier(type: "email", value: "ä@b.com"), access: true)],
                    properties: [PropertyWrite(key: "n", value: ["a": [1, 2.5, "x", nil, true], "b": -3])], declined: [DeclinedCandidate(customer: 9, failingMask: 3)]),
        .identified(customer: 8, created: false, identifiers: [PresentedIdentifier(identifier: Identifier(type: "cookie", value: "new"), access: false)],
                    properties: [], declined: [], released: ids("cookie=a", "cookie=b")),
        .updated(customer: 7, created: false, identifiers: ids("cookie=c"), properties: [PropertyWrite(key: "gone", value: nil)]),
        .detached(customer: 7, identifier: Identifier(type: "phone", value: "+447700900000"), accessOnly: true),
        .merged(survivor: 3, absorbed: 7, trigger: ids("phone=+447700900000"), guards: guards, forced: true),
        .mergeDeclined(customer: 3, candidate: 9, guards: guards),
        .importStarted(ImportStart(importId: "i1", sourceName: "a.csv", contentDigest: [1, 2, 3], matchBy: "email", format: "csv")),
        .importStarted(ImportStart(importId: "i2", sourceName: "b.csv", contentDigest: [4], matchBy: "email", format: "csv", source: "crm", csvCells: .text)),
        .importStarted(ImportStart(importId: "i3", sourceName: "c.jsonl", contentDigest: [5], matchBy: "email", format: "jsonl", source: "pos")),
    ]

    /// Identifiers order by type, then by value bytes: the order records list them in.
    @Test func identifiersOrderByTypeThenValueBytes() {
        let values = ["", "a", "a\u{0}", "ab", "b", "B", "é", "e\u{301}", "ü", "z", "🙂", "10", "9", "a@b.c", "a@b.co"]
        let identifiers = ["email", "phone", "e"].flatMap { type in values.map { Identifier(type: type, value: $0) } }
        for a in identifiers {
            for b in identifiers {
                let expected = a.type != b.type ? Array(a.type.utf8).lexicographicallyPrecedes(Array(b.type.utf8))
                    : Array(a.value.utf8).lexicographicallyPrecedes(Array(b.value.utf8))
                #expect((a < b) == expected, "\(a) < \(b)")
            }
        }
        #expect(compareUTF8("abc", "abd") < 0 && compareUTF8("abd", "abc") > 0 && compareUTF8("ab", "ab") == 0)
        #expect(compareUTF8("ab", "abc") < 0 && compareUTF8("", "a") < 0)
    }

    @Test func everyEventKindRoundTrips() throws {
        for (index, body) in Self.bodies.enumerated() {
            let seq = UInt64(index + 10)
            let event = Event(seq: seq, commandSeq: seq - 1, recordedAt: 1_793_000_000_123, occurredAt: 1_790_000_000_000,
                              source: "pos", eventId: "e-\(index)", payloadDigest: [9, 9], actor: "ops", note: "n",
                              importId: index.isMultiple(of: 2) ? "imp" : nil, row: index.isMultiple(of: 2) ? 42 : nil, body: body)
            #expect(try Event(seq: seq, bytes: event.encoded()) == event)
            #expect(event.encoded() == event.encoded())
        }
    }

    /// An `importFinished` of event format 3 (no count of rows with blocked values) reads as it
    /// was written: format 4 added the count, and stores written with format 3 exist.
    @Test func aFormat3ImportFinishedReadsWithoutTheBlockedCount() throws {
        var counts = ImportCounts()
        counts.read = 7
        counts.created = 5
        let event = Event(seq: 9, commandSeq: 9, recordedAt: 1, occurredAt: 1, importId: "i1", body: .importFinished(importId: "i1", counts: counts))
        let bytes = event.encoded()
        #expect(bytes.first == Event.formatVersion && bytes.last == 0) // the count, 0, is the last byte
        let format3 = [3] + bytes.dropFirst().dropLast()
        #expect(try Event(seq: 9, bytes: Array(format3)) == event)
        // The same bytes claiming format 4 lack the count: corrupt, not misread.
        #expect(throws: LedgerError.self) { try Event(seq: 9, bytes: [Event.formatVersion] + Array(format3.dropFirst())) }
    }

    @Test func truncatedEventsAreCorruptNotCrashes() {
        let event = Event(seq: 5, commandSeq: 5, recordedAt: 1, occurredAt: 1, body: Self.bodies[5])
        let bytes = event.encoded()
        for length in 0..<bytes.count {
            #expect(throws: LedgerError.self) { try Event(seq: 5, bytes: Array(bytes.prefix(length))) }
        }
        #expect(throws: LedgerError.unsupportedFormat(found: 200, supported: Int(Event.formatVersion))) {
            try Event(seq: 5, bytes: [200] + bytes.dropFirst())
        }
    }
}
