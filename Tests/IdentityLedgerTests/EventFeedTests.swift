import Foundation
import Testing
@testable import IdentityLedger

@Suite struct EventFeedTests {
    @Test func positionIsTheLastEventsPosition() async throws {
        let ledger = try await makeLedger()
        #expect(try ledger.position == 0)
        let result = try await ledger.identify("email=ann@example.com")
        #expect(try ledger.position == result.seq.last!)
        _ = try await ledger.identify("email=ann@example.com", "phone=+447700900111", eventId: "e-1")
        _ = try await ledger.identify("email=ann@example.com", "phone=+447700900111", eventId: "e-1") // a repeat writes nothing
        #expect(try ledger.position == UInt64(try ledger.events(limit: 1000).count))
    }

    /// Events already in the log come first, then those of this process and of another
    /// process, as they commit; cancelling the task ends the feed.
    @Test func theFeedYieldsCommitsOfThisAndOtherProcessesAndEndsOnCancellation() async throws {
        let ledger = try await makeLedger()
        _ = try await ledger.identify("email=ann@example.com")
        let start = try ledger.position
        _ = try await ledger.identify("email=bob@example.com")
        let seen = Seen()
        let feed = ledger.events(after: start, pollInterval: .milliseconds(10))
        let reader = Task {
            do {
                for try await event in feed { seen.append(event) }
            } catch {
                Issue.record("the feed failed: \(error)")
            }
        }
        func waitFor(_ count: Int) async throws {
            let deadline = Date().addingTimeInterval(20)
            while seen.events.count < count, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        }
        try await waitFor(1)
        #expect(seen.events.map(\.seq) == [start + 1])

        _ = try await ledger.identify("email=carol@example.com")
        try await waitFor(2)
        let other = try CLIProcess.run(["identify", "--id", "email=dave@example.com", "--db", ledger.env.path])
        #expect(other.status == 0, "\(other.stderr)")
        try await waitFor(3)
        let events = seen.events
        #expect(events.map(\.seq) == Array((start + 1)...(start + 3)))
        if case .identified(_, _, let identifiers, _, _, _) = events.last?.body {
            #expect(identifiers.map(\.identifier.value) == ["dave@example.com"])
        } else {
            Issue.record("the other process's event is not an identify: \(String(describing: events.last))")
        }

        reader.cancel()
        #expect(try await withTimeout { await reader.value; return true }, "the feed did not end on cancellation")
    }

    /// A feed that starts far behind catches up page by page, in order, without waiting.
    @Test func theFeedCatchesUpOverSeveralPages() async throws {
        let ledger = try await makeLedger()
        for n in 1...5 { _ = try await ledger.identify("email=p\(n)@example.com") }
        var seen: [UInt64] = []
        for try await event in ledger.events(after: 0, pollInterval: .seconds(60), pageSize: 2) {
            seen.append(event.seq)
            if seen.count == 6 { break }
        }
        #expect(seen == Array(1...6))
    }

    /// History comes in pages: `after` the last one's position, at most `limit`.
    @Test func historyPages() async throws {
        let ledger = try await makeLedger()
        for n in 1...5 { _ = try await ledger.update("email=ann@example.com", properties: ["visit": .int(Int64(n))]) }
        let all = try ledger.history(.id(1))
        #expect(all.count == 5)
        let first = try ledger.history(.id(1), limit: 2)
        let second = try ledger.history(.id(1), after: first.last!.seq, limit: 2)
        let third = try ledger.history(.id(1), after: second.last!.seq, limit: 2)
        #expect((first + second + third).map(\.seq) == all.map(\.seq))
        #expect(third.count == 1)
    }

    /// A command is not cancelled with its task: once called it runs to its end (a half-run
    /// command would be worse than a result nobody reads), and its result is returned.
    @Test func aCommandOfACancelledTaskStillRuns() async throws {
        let ledger = try await makeLedger()
        let task = Task { () async throws(LedgerError) -> CommandResult in
            withUnsafeCurrentTask { $0?.cancel() }
            #expect(Task.isCancelled)
            return try await ledger.identify(IdentifyCommand(identifiers: ids("email=ann@example.com")))
        }
        let result = try await task.value
        #expect(result.created)
        #expect(try ledger.lookup(Identifier(type: "email", value: "ann@example.com")).map(\.customer) == [result.customer])
    }

    /// `body`'s value, or false when it takes longer than 5 seconds.
    private func withTimeout(_ body: @escaping @Sendable () async -> Bool) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { await body() }
            group.addTask { try await Task.sleep(for: .seconds(5)); return false }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }
}

/// The events a feed yielded, shared between the iterating task and the test.
private final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Event] = []
    var events: [Event] { lock.withLock { list } }
    func append(_ event: Event) { lock.withLock { list.append(event) } }
}

@Suite struct LogFollowCLITests {
    /// `log --follow` prints the log, then an event another process commits, as it commits;
    /// `--limit` ends it.
    @Test func followPrintsACommandCommittedByAnotherProcess() throws {
        let path = temporaryPath()
        #expect(try CLIProcess.run(["identify", "--id", "email=ann@example.com", "--db", path]).status == 0)
        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: try CLIProcess.require())
        follower.arguments = ["log", "--follow", "--limit", "3", "--json", "--db", path]
        let stdout = Pipe()
        follower.standardOutput = stdout
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        let output = CLIProcess.Drain(stdout.fileHandleForReading)
        // Once it has printed the first two (schema and identify) it waits; give it time to.
        Thread.sleep(forTimeInterval: 0.5)
        #expect(follower.isRunning, "log --follow ended before the third event")
        #expect(try CLIProcess.run(["identify", "--id", "email=bob@example.com", "--db", path]).status == 0)
        let deadline = Date().addingTimeInterval(20)
        while follower.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if follower.isRunning { follower.terminate() }
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0)
        let lines = output.wait().split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.last?.contains("bob@example.com") == true)
    }
}
