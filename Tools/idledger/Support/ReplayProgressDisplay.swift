import Foundation
import IdentityLedger

/// Progress of a replay on stderr: redrawn in place at most ten times a second when
/// stderr is a terminal, silent otherwise (the command prints one summary line at the end).
final class ReplayProgressDisplay {
    private let enabled: Bool
    private let label: String
    private var lastDraw = 0.0
    private var drawn = false

    init(label: String, json: Bool) {
        self.label = label
        enabled = isatty(STDERR_FILENO) == 1 && !json
    }

    func update(_ progress: Ledger.ReplayProgress) {
        guard enabled, progress.elapsed - lastDraw >= 0.1 || progress.events == progress.total else { return }
        lastDraw = progress.elapsed
        let rate = progress.elapsed > 0 ? Double(progress.events) / progress.elapsed : 0
        let remaining = rate > 0 ? Double(progress.total - min(progress.events, progress.total)) / rate : 0
        let percent = progress.total > 0 ? 100 * Double(progress.events) / Double(progress.total) : 100
        let line = String(format: "%@: %llu/%llu events (%.0f%%), %.0f events/s, ETA %.0fs",
                          label, progress.events, progress.total, percent, rate, remaining)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    /// Ends the progress line so that what follows starts on a fresh one.
    func finish() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
