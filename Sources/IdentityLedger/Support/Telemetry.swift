import CoreMetrics
import Foundation
import Logging

/// The engine's logs and metrics, each metric's name and dimensions and each log line's
/// level and metadata written once, here (documented in LoggingAndMetrics.md). Built from
/// ``Ledger/Options`` for one store; with the defaults it logs to nothing and records to
/// the global metrics backend, which is a no-op until the application bootstraps one.
struct Telemetry: Sendable {
    /// The metric names.
    enum Metric {
        static let commands = "idledger_commands_total"
        static let merges = "idledger_merges_total"
        static let declines = "idledger_declines_total"
        static let commitDuration = "idledger_commit_duration"
        static let groupSize = "idledger_group_size"
    }

    /// The `kind` dimension of ``Metric/commands``.
    enum CommandKind: String, CaseIterable, Sendable {
        case identify, update, merge, detach, setSchema

        init(_ command: Command) {
            switch command {
            case .identify: self = .identify
            case .update: self = .update
            case .merge: self = .merge
            case .detach: self = .detach
            }
        }
    }

    /// The `outcome` dimension of ``Metric/commands``: `refused` is the engine's verdict on
    /// the command (validation, a guard, a conflict); `failed` a fault of the store's files.
    enum CommandOutcome: String, CaseIterable, Sendable {
        case accepted, refused, failed

        init(_ error: LedgerError) {
            self = error.isFaultOfTheStore ? .failed : .refused
        }
    }

    let logger: Logger
    let slowCommitThreshold: Duration
    // Made once: a backend may look a metric up by label and dimensions on each creation.
    private let commands: [CommandKind: [CommandOutcome: Counter]]
    private let merges: Counter
    private let declines: [GuardName: Counter]
    private let commitDuration: CoreMetrics.Timer
    private let groupSize: Recorder

    /// The telemetry of the store in `path`: every log line carries its path as `store`.
    init(options: Ledger.Options, path: String) {
        logger = Self.logger(options, path: path)
        slowCommitThreshold = options.slowCommitThreshold
        let factory = options.metricsFactory ?? MetricsSystem.factory
        commands = Dictionary(uniqueKeysWithValues: CommandKind.allCases.map { kind in
            (kind, Dictionary(uniqueKeysWithValues: CommandOutcome.allCases.map { outcome in
                (outcome, Counter(label: Metric.commands, dimensions: [("kind", kind.rawValue), ("outcome", outcome.rawValue)], factory: factory))
            }))
        })
        merges = Counter(label: Metric.merges, factory: factory)
        declines = Dictionary(uniqueKeysWithValues: GuardName.allCases.map { name in
            (name, Counter(label: Metric.declines, dimensions: [("guard", name.rawValue)], factory: factory))
        })
        commitDuration = CoreMetrics.Timer(label: Metric.commitDuration, factory: factory)
        groupSize = Recorder(label: Metric.groupSize, factory: factory)
    }

    /// The logger for the store in `path` (for the static maintenance functions, which have no store open).
    static func logger(_ options: Ledger.Options, path: String) -> Logger {
        var logger = options.logger
        logger[metadataKey: "store"] = "\(path)"
        return logger
    }

    // MARK: Metrics

    /// Counts one command (not a dry run) by its kind and outcome.
    func counted<T>(_ kind: CommandKind, _ result: Result<T, LedgerError>) {
        let outcome = switch result {
        case .success: CommandOutcome.accepted
        case .failure(let error): CommandOutcome(error)
        }
        commands[kind]![outcome]!.increment()
    }

    /// Counts what committed decisions wrote: merges, and recorded declines by each failing guard.
    func counted(merges count: Int, declines byGuard: [GuardName: Int]) {
        if count > 0 { merges.increment(by: count) }
        for (name, count) in byGuard where count > 0 { declines[name]!.increment(by: count) }
    }

    /// One committed write transaction of commands: its latency and size, a warning when it
    /// took longer than ``Ledger/Options/slowCommitThreshold``, and the map's growth on the way.
    func committed(duration: Duration, commands: Int, mapGrowths: [(from: Int, to: Int)]) {
        commitDuration.recordNanoseconds(duration.nanoseconds)
        groupSize.record(commands)
        mapGrew(mapGrowths)
        if duration >= slowCommitThreshold {
            logger.warning("slow commit", metadata: [
                "duration_ms": "\(duration.milliseconds)", "commands": "\(commands)",
                "threshold_ms": "\(slowCommitThreshold.milliseconds)",
            ])
        }
    }

    // MARK: Logs

    func mapGrew(_ growths: [(from: Int, to: Int)]) {
        for growth in growths {
            logger.info("map grown", metadata: ["from_bytes": "\(growth.from)", "to_bytes": "\(growth.to)"])
        }
    }

    /// LMDB cleared reader slots left by processes that ended with a read open.
    func staleReadersCleared(_ count: Int) {
        guard count > 0 else { return }
        logger.notice("stale readers cleared", metadata: ["readers": "\(count)"])
    }

    func opened(format: UInt64, mapSize: Int, readOnly: Bool) {
        logger.debug("store opened", metadata: ["format": "\(format)", "map_bytes": "\(mapSize)", "read_only": "\(readOnly)"])
    }

    static func rebuilt(_ logger: Logger, _ summary: Ledger.RebuildSummary) {
        logger.info("store rebuilt", metadata: [
            "events": "\(summary.events)", "duration_ms": "\(Int((summary.seconds * 1000).rounded()))",
            "changed": .array(summary.changedProjections.map { "\($0)" }),
        ])
    }

    func backedUp(_ summary: Ledger.BackupSummary) {
        logger.info("store backed up", metadata: [
            "destination": "\(summary.path)", "position": "\(summary.position)", "bytes": "\(summary.bytes)",
            "duration_ms": "\(Int((summary.seconds * 1000).rounded()))",
        ])
    }

    static func compacted(_ logger: Logger, _ summary: Ledger.CompactSummary) {
        logger.info("store compacted", metadata: [
            "bytes_before": "\(summary.bytesBefore)", "bytes_after": "\(summary.bytesAfter)",
            "duration_ms": "\(Int((summary.seconds * 1000).rounded()))",
        ])
    }

    static func upgraded(_ logger: Logger, from found: Int, to format: Int, _ summary: Ledger.RebuildSummary) {
        logger.notice("store upgraded", metadata: [
            "from_format": "\(found)", "to_format": "\(format)", "events": "\(summary.events)",
            "duration_ms": "\(Int((summary.seconds * 1000).rounded()))",
        ])
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
