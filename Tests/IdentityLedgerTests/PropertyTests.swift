import Foundation
import Testing
@testable import IdentityLedger

/// Random command streams over several schemas with pinned seeds: the invariants hold
/// after every stretch, refused commands change nothing, and replay reproduces the
/// projections byte for byte.
struct PropertyTests {
    static let schemas: [String: Schema] = [
        "default": .default,
        "relaxed": Schema(types: [
            IdentifierType(name: "technical_id", kind: .unique, blockMergeOnConflict: true),
            IdentifierType(name: "external_id", kind: .unique),
            IdentifierType(name: "email", kind: .contact, normalize: .email, canGrantAccess: true),
            IdentifierType(name: "phone", kind: .contact, normalize: .phone),
            IdentifierType(name: "cookie", kind: .soft),
        ]),
        "loyalty": Schema(types: [
            IdentifierType(name: "loyalty_card", kind: .unique, blockMergeOnConflict: true, canGrantAccess: true),
            IdentifierType(name: "email", kind: .contact, normalize: .email, canGrantAccess: true),
            IdentifierType(name: "phone", kind: .contact, normalize: .phone, canGrantAccess: true, defaultCallingCode: "44"),
            IdentifierType(name: "device", kind: .soft, normalize: .lowercase),
        ]),
    ]

    /// A store with the default schema after `commands` commands of the random stream for
    /// `seed` (refused ones included), and the stream.
    static func storeAfterRandomStream(seed: UInt64, commands: Int) async throws -> (Ledger, Stream) {
        let schema = schemas["default"]!
        let ledger = try await makeLedger(schema: schema)
        var stream = Stream(schema: schema, rng: SeededGenerator(seed: seed))
        for _ in 0..<commands {
            if let result = try? await ledger.execute(stream.next()) { stream.customers = max(stream.customers, result.customer) }
        }
        return (ledger, stream)
    }

    struct Stream {
        let schema: Schema
        var rng: SeededGenerator
        var customers: CustomerID = 0

        mutating func value(of type: IdentifierType) -> String {
            switch type.kind {
            case .unique: return "U\(Int.random(in: 0..<40, using: &rng))"
            case .soft: return "Dev-\(Int.random(in: 0..<15, using: &rng))"
            case .contact:
                let n = Int.random(in: 0..<30, using: &rng)
                switch type.normalize {
                case .email: return Bool.random(using: &rng) ? "p\(n)@example.com" : "P\(n)@Example.COM"
                case .phone: return type.defaultCallingCode != nil && Bool.random(using: &rng) ? "07700 9\(10000 + n)" : "+44 7700 9\(10000 + n)"
                default: return "C\(n)"
                }
            }
        }

        mutating func identifiers(max: Int) -> [Identifier] {
            (0..<Int.random(in: 1...max, using: &rng)).map { _ in
                let type = schema.types.randomElement(using: &rng)!
                if Int.random(in: 0..<40, using: &rng) == 0 { return Identifier(type: type.name, value: "   ") } // invalid
                return Identifier(type: type.name, value: value(of: type))
            }
        }

        mutating func properties() -> [String: JSONValue] {
            var properties: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let key = ["name", "plan", "points", "email"].randomElement(using: &rng)!
                properties[key] = [.null, .int(Int64.random(in: 0..<100, using: &rng)), .string("v\(Int.random(in: 0..<5, using: &rng))"), "p1@example.com"]
                    .randomElement(using: &rng)!
            }
            return properties
        }

        mutating func next() -> Command {
            let at: Date? = Int.random(in: 0..<4, using: &rng) == 0 ? Date(timeIntervalSince1970: 1_792_000_000 + Double.random(in: 0..<2_000_000, using: &rng)) : nil
            let eventId: String? = Int.random(in: 0..<10, using: &rng) == 0 ? "e\(Int.random(in: 0..<20, using: &rng))" : nil
            let context = CommandContext(occurredAt: at, source: ["pos", "web", "app"].randomElement(using: &rng), eventId: eventId)
            let roll = Int.random(in: 0..<100, using: &rng)
            let customer = CustomerRef.id(CustomerID.random(in: 1...Swift.max(customers + 2, 2), using: &rng))
            switch roll {
            case 0..<60:
                let ids = identifiers(max: 4)
                let accessTypes = schema.types.filter(\.canGrantAccess).map(\.name).filter { name in ids.contains { $0.type == name } }
                let access = accessTypes.filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }
                return .identify(IdentifyCommand(identifiers: ids, access: access, properties: properties(), context: context))
            case 60..<80:
                return .update(UpdateCommand(identifiers: identifiers(max: 2), properties: properties(), context: context))
            case 80..<90:
                let other = CustomerRef.id(CustomerID.random(in: 1...Swift.max(customers + 1, 2), using: &rng))
                return .merge(MergeCommand(into: customer, from: other, actor: "ops", requireGuards: Bool.random(using: &rng), context: context))
            default:
                let type = schema.types.randomElement(using: &rng)!
                return .detach(DetachCommand(customer: customer, identifier: Identifier(type: type.name, value: value(of: type)), actor: "ops", accessOnly: Int.random(in: 0..<3, using: &rng) == 0, context: context))
            }
        }
    }

    @Test(arguments: [("default", UInt64(1)), ("relaxed", 2), ("loyalty", 3), ("default", 4)])
    func randomCommandStreamsKeepTheInvariants(schemaName: String, seed: UInt64) async throws {
        let schema = try #require(Self.schemas[schemaName])
        let ledger = try await makeLedger(schema: schema)
        var stream = Stream(schema: schema, rng: SeededGenerator(seed: seed))
        var outcomes: [String: Int] = [:]
        let commands = 1_200
        for index in 1...commands {
            let command = stream.next()
            // A full fingerprint is a scan of the store: take it for every 10th command and
            // rely on LMDB's transaction counter (no commit at all) for the others.
            let before = index % 10 == 0 ? try ledger.fingerprint() : nil
            let transaction = ledger.env.lastTransactionID
            do {
                let result = try await ledger.execute(command)
                stream.customers = Swift.max(stream.customers, result.customer)
                outcomes["ok", default: 0] += 1
            } catch {
                outcomes[error.code, default: 0] += 1
                #expect(ledger.env.lastTransactionID == transaction, "command \(index) (\(command)) failed with \(error) but committed")
                if let before {
                    #expect(try ledger.fingerprint() == before, "command \(index) (\(command)) failed with \(error) but changed the store")
                }
            }
            if index % 300 == 0 { try checkInvariants(ledger) }
        }
        try expectReplayIdentical(ledger)
        // The stream must exercise both paths, or the test proves little.
        #expect(outcomes["ok", default: 0] > commands / 3, "\(outcomes)")
        #expect(outcomes.count > 4, "too few distinct outcomes: \(outcomes)")
        let stats = try ledger.statistics()
        #expect(stats.eventsByKind["merged", default: 0] > 10, "\(stats.eventsByKind)")
        #expect(stats.eventsByKind["mergeDeclined", default: 0] > 5, "\(stats.eventsByKind)")
    }

    @Test func concurrentTasksLoseNothing() async throws {
        let ledger = try await makeLedger(durability: .full)
        let tasks = 8
        let perTask = 40
        // Each command is either acknowledged with a result or refused with a typed error.
        let results = try await withThrowingTaskGroup(of: [Result<CommandResult, LedgerError>].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var mine: [Result<CommandResult, LedgerError>] = []
                    for n in 0..<perTask {
                        // Overlapping values across tasks force merges, declines and refusals.
                        let shared = "+4477009\(10000 + (task * perTask + n) % 25)"
                        do {
                            let result = try await ledger.identify(
                                "email=t\(task)n\(n % 10)@example.com", "phone=\(shared)",
                                access: n % 3 == 0 ? ["email"] : []
                            )
                            mine.append(.success(result))
                            _ = try ledger.customer(.id(result.customer)) // reads alongside writes
                        } catch let error as LedgerError {
                            mine.append(.failure(error))
                        }
                    }
                    return mine
                }
                group.addTask {
                    for _ in 0..<perTask {
                        _ = try ledger.statistics()
                        try checkInvariants(ledger)
                    }
                    return []
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == tasks * perTask)
        let acknowledged = results.compactMap { try? $0.get() }
        #expect(acknowledged.count > tasks * perTask / 2)
        for case .failure(let error) in results {
            #expect(["ambiguousCustomer", "accessContactInUse", "duplicateUniqueIdentifier"].contains(error.code), "\(error)")
        }
        let written = acknowledged.flatMap(\.seq)
        #expect(Set(written).count == written.count, "two commands claim the same log position")
        let events = try ledger.events(limit: .max)
        // Every event except the initial schema belongs to exactly one acknowledged command.
        #expect(Set(written) == Set(events.map(\.seq).filter { $0 > 1 }))
        try checkInvariants(ledger)
        try expectReplayIdentical(ledger)
    }
}
