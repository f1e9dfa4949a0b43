import Foundation
import MetricsTestKit
import Testing
@testable import IdentityLedger

/// The engine's metrics, seen through MetricsTestKit's `TestMetrics` passed in `Ledger.Options`
/// (the process-wide `MetricsSystem` is never bootstrapped here: that can be done once only).
struct MetricsTests {
    /// A new store recording to its own `TestMetrics`.
    private func measuredLedger(durability: Ledger.Durability = .noSync) throws -> (Ledger, TestMetrics) {
        let metrics = TestMetrics()
        let clock = TestClock()
        let ledger = try Ledger.open(path: temporaryPath(), options: .init(durability: durability, clock: { clock.tick() }, metricsFactory: metrics))
        return (ledger, metrics)
    }

    private func commands(_ metrics: TestMetrics, _ kind: String, _ outcome: String) -> Int64 {
        metrics.counterTotal(label: "idledger_commands_total", dimensions: [("kind", kind), ("outcome", outcome)])
    }

    @Test func commandsAreCountedByKindAndOutcome() async throws {
        let (ledger, metrics) = try measuredLedger()
        let ann = try await ledger.identify("email=ann@example.com")
        _ = await ledgerError { try await ledger.identify("email=not-an-email") }
        try await ledger.update("email=ann@example.com", properties: ["plan": "gold"])
        _ = try await ledger.detach(DetachCommand(customer: .id(ann.customer), identifier: ids("email=ann@example.com")[0], actor: "ops"))
        _ = try await ledger.identify(IdentifyCommand(identifiers: ids("email=bob@example.com")), dryRun: true) // a dry run is not counted
        #expect(commands(metrics, "identify", "accepted") == 1)
        #expect(commands(metrics, "identify", "refused") == 1)
        #expect(commands(metrics, "update", "accepted") == 1)
        #expect(commands(metrics, "detach", "accepted") == 1)
        #expect(metrics.counterTotal(label: "idledger_commands_total") == 4)
        #expect(commands(metrics, "identify", "failed") == 0)

        // A batch counts each of its commands.
        _ = try await ledger.execute(batch: [
            .identify(IdentifyCommand(identifiers: ids("email=carl@example.com"))),
            .update(UpdateCommand(identifiers: ids("email=nobody@example.com"), properties: [:])),
        ])
        #expect(commands(metrics, "identify", "accepted") == 2)
        #expect(commands(metrics, "update", "refused") == 1)
    }

    /// A fault of the store's files is `failed`, not a verdict on the command.
    @Test func aStorageFaultIsCountedAsFailed() {
        let metrics = TestMetrics()
        let telemetry = Telemetry(options: .init(metricsFactory: metrics), path: "/nowhere")
        telemetry.counted(.update, Result<Void, LedgerError>.failure(.storageFull(path: "/nowhere")))
        telemetry.counted(.update, Result<Void, LedgerError>.failure(.noIdentifiers()))
        #expect(commands(metrics, "update", "failed") == 1)
        #expect(commands(metrics, "update", "refused") == 1)
    }

    @Test func mergesAndDeclinesAreCountedByGuard() async throws {
        let (ledger, metrics) = try measuredLedger()
        // A guest merged into an account on login (an automatic merge).
        _ = try await ledger.identify("phone=+447700900003")
        _ = try await ledger.identify("email=c@example.com", access: ["email"])
        let login = try await ledger.identify("email=c@example.com", "phone=+447700900003", access: ["email"])
        #expect(login.merged.count == 1)
        #expect(metrics.counterTotal(label: "idledger_merges_total") == 1)

        // Another account on the same phone: declined for its access contacts, and recorded once.
        let other = try await ledger.identify("email=d@example.com", "phone=+447700900003", access: ["email"])
        #expect(other.declinedGuards(login.customer) == [.accessContactsDiffer])
        let declines = { (name: String) in metrics.counterTotal(label: "idledger_declines_total", dimensions: [("guard", name)]) }
        #expect(declines("accessContactsDiffer") == 1)
        #expect(declines("uniqueIdConflict") == 0 && declines("softIdOnly") == 0)

        // An operator's merge: a merge command, and a merge.
        _ = try await ledger.merge(MergeCommand(into: .id(login.customer), from: .id(other.customer), actor: "ops"))
        #expect(commands(metrics, "merge", "accepted") == 1)
        #expect(metrics.counterTotal(label: "idledger_merges_total") == 2)
    }

    @Test func commitLatencyAndGroupSizeAreRecordedPerCommit() async throws {
        let (ledger, metrics) = try measuredLedger(durability: .full)
        _ = try await ledger.identify("email=warmup@example.com")
        let latency = try metrics.expectTimer("idledger_commit_duration")
        let sizes = try metrics.expectRecorder("idledger_group_size")
        #expect(latency.values.count == 1 && latency.values[0] > 0)
        #expect(sizes.values == [1])

        // Concurrent commands share commits: one latency and one size per commit, the sizes adding up.
        let before = ledger.env.lastTransactionID
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<32 { group.addTask { _ = try await ledger.identify("email=g\(n)@example.com") } }
            try await group.waitForAll()
        }
        let commits = ledger.env.lastTransactionID - before
        #expect(latency.values.count == 1 + commits)
        #expect(sizes.values.count == 1 + commits)
        #expect(sizes.values.dropFirst().reduce(0, +) == 32)

        // A batch is one commit of all its commands.
        _ = try await ledger.execute(batch: (0..<5).map { .identify(IdentifyCommand(identifiers: ids("email=b\($0)@example.com"))) })
        #expect(sizes.values.last == 5)
        #expect(latency.values.count == 2 + commits)
    }

    /// An import's commits are timed and sized by their rows (its start, a batch, its finish);
    /// its rows are not commands.
    @Test func anImportsCommitsAreSizedByTheirRows() async throws {
        let (ledger, metrics) = try measuredLedger()
        let file = try importFixture("in.csv", """
            email,external_id
            ann@example.com,E-1
            bob@example.com,E-2
            carl@example.com,E-3

            """)
        let summary = try await ledger.importFile(at: file, matchBy: "email")
        #expect(summary.created == 3)
        let sizes = try metrics.expectRecorder("idledger_group_size")
        #expect(sizes.values.contains(3))
        #expect(try metrics.expectTimer("idledger_commit_duration").values.count == sizes.values.count)
        #expect(metrics.counterTotal(label: "idledger_commands_total") == 0)
        #expect(metrics.counterTotal(label: "idledger_merges_total") == 0)
    }
}
