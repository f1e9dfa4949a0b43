import Foundation
import Logging
import Synchronization
import Testing
@testable import IdentityLedger

/// What the engine logs, seen through a capturing handler passed in `Ledger.Options`
/// (the process-wide `LoggingSystem` is never bootstrapped here: that can be done once only).
struct LoggingTests {
    @Test func aRebuildIsLoggedWithItsEventsAndStore() async throws {
        let path = try await populatedStorePath()
        let log = CapturedLog()
        let summary = try Ledger.rebuild(path: path, options: .init(logger: log.logger()))
        let entry = try #require(log.entries.first { $0.message == "store rebuilt" })
        #expect(entry.level == .info)
        #expect(entry.metadata["events"] == "\(summary.events)")
        #expect(entry.metadata["store"] == URL(fileURLWithPath: path).standardizedFileURL.path)
        #expect(entry.metadata["duration_ms"].flatMap { Int($0) } != nil)
    }

    @Test func anUpgradeIsLoggedWithBothFormats() throws {
        let path = try UpgradeTests.copyOfFixture(1)
        let log = CapturedLog()
        _ = try Ledger.open(path: path, options: .init(upgrade: true, logger: log.logger()))
        let entry = try #require(log.entries.first { $0.message == "store upgraded" })
        #expect(entry.level == .notice)
        #expect(entry.metadata["from_format"] == "1")
        #expect(entry.metadata["to_format"] == "\(Ledger.storeFormat)")
        #expect(entry.metadata["events"] == "9")
    }

    @Test func everyCommitIsSlowAtAThresholdOfZero() async throws {
        let log = CapturedLog()
        let ledger = try Ledger.open(path: temporaryPath(), options: .init(durability: .noSync, logger: log.logger(), slowCommitThreshold: .zero))
        _ = try await ledger.identify("email=ann@example.com")
        _ = try await ledger.execute(batch: [
            .identify(IdentifyCommand(identifiers: ids("email=bob@example.com"))),
            .identify(IdentifyCommand(identifiers: ids("email=not-an-email"))), // refused: still one of the batch
        ])
        let slow = log.entries.filter { $0.message == "slow commit" }
        #expect(slow.map(\.level) == [.warning, .warning])
        #expect(slow.map { $0.metadata["commands"] } == ["1", "2"])
        #expect(slow.allSatisfy { $0.metadata["duration_ms"].flatMap { Int($0) } != nil && $0.metadata["threshold_ms"] == "0" })
        #expect(slow.allSatisfy { $0.metadata["store"] == ledger.env.path })
    }

    @Test func aNormalRunLogsNothingAtTheDefaultThreshold() async throws {
        let log = CapturedLog()
        let path = temporaryPath()
        // At `info`, the level a service runs at (`store opened` is `debug`).
        let ledger = try Ledger.open(path: path, options: .init(durability: .noSync, logger: log.logger(level: .info)))
        let ann = try await ledger.identify("email=ann@example.com", "cookie=c1", access: ["email"])
        _ = try await ledger.identify("email=bob@example.com", "cookie=c1", access: ["email"])
        _ = try? await ledger.identify("email=not-an-email")
        _ = try ledger.customer(.id(ann.customer))
        _ = try ledger.verify()
        #expect(log.entries.map(\.message) == [])
    }

    @Test func theMapGrowingIsLoggedWithBothSizes() async throws {
        let log = CapturedLog()
        let ledger = try Ledger.open(path: temporaryPath(), options: .init(durability: .noSync, initialMapSize: 1 << 16, logger: log.logger()))
        let before = try ledger.statistics().mapSize
        let text = JSONValue.string(String(repeating: "x", count: 4000))
        for n in 0..<40 { _ = try await ledger.identify("email=n\(n)@example.com", properties: ["note": text]) }
        let growths = log.entries.filter { $0.message == "map grown" }
        let first = try #require(growths.first)
        #expect(first.level == .info)
        #expect(first.metadata["from_bytes"] == "\(before)")
        #expect(first.metadata["to_bytes"] == "\(before * 2)")
        #expect(growths.last?.metadata["to_bytes"] == "\(try ledger.statistics().mapSize)")
    }

    @Test func idledgerLogsToStderrOnlyWhenGivenALevel() async throws {
        let path = try await populatedStorePath()
        let quiet = try CLIProcess.run(["rebuild", "--db", path])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty, "\(quiet.stderr)")

        let debug = try CLIProcess.run(["--log-level", "debug", "rebuild", "--db", path])
        #expect(debug.status == 0, "\(debug.stderr)")
        // Logs go to stderr only: stdout is still the one summary line.
        #expect(debug.stdout.hasPrefix("rebuilt 12 events") && debug.stdout.split(separator: "\n").count == 1)
        let lines = debug.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("debug") && $0.contains("store opened") })
        #expect(lines.contains { $0.contains("info") && $0.contains("store rebuilt") && $0.contains("events=12") })

        // The environment variable, and a level that keeps the debug line out.
        let info = try CLIProcess.run(["rebuild", "--db", path], environment: ["IDLEDGER_LOG_LEVEL": "info"])
        #expect(info.status == 0)
        #expect(info.stderr.contains("store rebuilt") && !info.stderr.contains("store opened"))

        let bad = try CLIProcess.run(["stats", "--db", path], environment: ["IDLEDGER_LOG_LEVEL": "loud"])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("error invalidInput: IDLEDGER_LOG_LEVEL must be one of trace, debug"))
    }
}

/// A log handler that keeps every entry, for tests; `logger(level:)` makes a logger that writes to it.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        /// Every value as its description (arrays too).
        var metadata: [String: String]
    }

    private let captured = Mutex<[Entry]>([])

    var entries: [Entry] { captured.withLock { $0 } }

    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "test") { _ in Handler(log: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ entry: Entry) {
        captured.withLock { $0.append(entry) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            log.append(Entry(level: event.level, message: event.message.description, metadata: all.mapValues(\.description)))
        }
    }
}
