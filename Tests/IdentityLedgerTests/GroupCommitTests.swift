import Foundation
import Testing
@testable import IdentityLedger

/// Concurrent commands share commits; each stays atomic on its own.
struct GroupCommitTests {
    @Test func concurrentCommandsShareCommits() async throws {
        let ledger = try await makeLedger(durability: .full)
        _ = try await ledger.identify("email=warmup@example.com")
        let before = ledger.env.lastTransactionID
        let commands = 64
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<commands {
                group.addTask { _ = try await ledger.identify("email=g\(n)@example.com") }
            }
            try await group.waitForAll()
        }
        let commits = ledger.env.lastTransactionID - before
        #expect(try ledger.statistics().activeCustomers == commands + 1)
        // With a sync per commit, later commands queue up while one commits and join the next group.
        #expect(commits < commands, "\(commits) commits for \(commands) commands")
        try checkInvariants(ledger)
    }

    @Test func aRefusedCommandInAGroupLeavesTheOthersIntact() async throws {
        let ledger = try await makeLedger(durability: .full)
        let results = await withTaskGroup(of: Result<CommandResult, LedgerError>.self) { group in
            for n in 0..<40 {
                group.addTask {
                    do {
                        // Every fifth command is invalid and must fail alone.
                        return .success(try await ledger.identify(n % 5 == 0 ? "email=bad\(n)" : "email=ok\(n)@example.com"))
                    } catch let error as LedgerError {
                        return .failure(error)
                    } catch {
                        return .failure(.invalidInput(reason: "\(error)"))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { if case .failure(let e) = $0 { e.code == "invalidIdentifierValue" } else { false } }.count == 8)
        #expect(results.compactMap { try? $0.get() }.count == 32)
        #expect(try ledger.statistics().activeCustomers == 32)
        try checkInvariants(ledger)
    }

    @Test func batchAPIRunsEachCommandAtomically() async throws {
        let ledger = try await makeLedger()
        let commands: [Command] = [
            .identify(IdentifyCommand(identifiers: ids("external_id=B1", "phone=+447700900100"))),
            .identify(IdentifyCommand(identifiers: ids("external_id=B2", "phone=+447700900100"))),
            .identify(IdentifyCommand(identifiers: ids("phone=+447700900100"))), // ambiguous: refused
            .update(UpdateCommand(identifiers: ids("external_id=B1"), properties: ["vip": true])),
        ]
        let before = ledger.env.lastTransactionID
        let results = try await ledger.execute(batch: commands)
        #expect(ledger.env.lastTransactionID == before + 1)
        #expect(results.map { (try? $0.get()) != nil } == [true, true, false, true])
        if case .failure(let error) = results[2] { #expect(error.code == "ambiguousCustomer") }
        #expect(try ledger.customer(.id(1)).properties["vip"] == true)
        // The same commands one by one record the same outcomes (times aside).
        let single = try await makeLedger()
        for command in commands { _ = try? await single.execute(command) }
        #expect(try single.events(limit: .max).map(\.body) == ledger.events(limit: .max).map(\.body))
    }

    /// A new store's first command writes the default schema before its own validation can
    /// fail: a refusal after writing, which must undo that write and no other.
    @Test func aCommandRefusedAfterItWroteLeavesNothingInABatch() async throws {
        let ledger = try await makeLedger()
        let refused = try await ledger.execute(batch: [.identify(IdentifyCommand(identifiers: ids("email=not-an-email")))])
        #expect((try? refused[0].get()) == nil)
        #expect(try ledger.events(limit: .max).isEmpty)

        let commands: [Command] = [
            .identify(IdentifyCommand(identifiers: ids("email=not-an-email"))),
            .identify(IdentifyCommand(identifiers: ids("email=first@example.com"))),
            .identify(IdentifyCommand(identifiers: ids("phone=12"))),
            .identify(IdentifyCommand(identifiers: ids("email=second@example.com"))),
        ]
        let before = ledger.env.lastTransactionID
        let results = try await ledger.execute(batch: commands)
        #expect(ledger.env.lastTransactionID == before + 1)
        #expect(results.map { (try? $0.get())?.customer } == [nil, 1, nil, 2])
        let kinds = try ledger.events(limit: .max).map(\.body.kind)
        #expect(kinds == ["schemaChanged", "identified", "identified"])
        try checkInvariants(ledger)
    }
}
