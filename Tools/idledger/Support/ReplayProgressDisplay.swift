import Foundation
import IdentityLedger

/// Progress of a replay (`rebuild`, `upgrade`, `verify`) on a ``ProgressLine``.
final class ReplayProgressDisplay {
    private let label: String
    private let line: ProgressLine

    init(label: String, json: Bool) {
        self.label = label
        line = ProgressLine(json: json)
    }

    func update(_ progress: Ledger.ReplayProgress) {
        line.draw(final: progress.events == progress.total) {
            let rate = progress.elapsed > 0 ? Double(progress.events) / progress.elapsed : 0
            let remaining = rate > 0 ? Double(progress.total - min(progress.events, progress.total)) / rate : 0
            let percent = progress.total > 0 ? 100 * Double(progress.events) / Double(progress.total) : 100
            return String(format: "%@: %llu/%llu events (%.0f%%), %.0f events/s, ETA %.0fs",
                          label, progress.events, progress.total, percent, rate, remaining)
        }
    }

    /// Ends the progress line so that what follows starts on a fresh one.
    func finish() { line.clear() }

    /// Runs `replay` with its progress shown under `label`, and ends the line however it ends
    /// (an error then prints on a line of its own).
    static func showing<T>(
        _ label: String, json: Bool, _ replay: (@escaping (Ledger.ReplayProgress) -> Void) throws(LedgerError) -> T
    ) throws(LedgerError) -> T {
        let display = ReplayProgressDisplay(label: label, json: json)
        defer { display.finish() }
        return try replay(display.update)
    }
}
