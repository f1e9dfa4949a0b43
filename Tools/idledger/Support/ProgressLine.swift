import Foundation

/// A progress line on stderr, redrawn in place at most ten times a second, and only when
/// stderr is a terminal and the output is not JSON: piped or logged, stderr gets no redraws
/// (the command prints its one summary line at the end instead).
final class ProgressLine {
    let isLive: Bool
    private let started = Date()
    private var lastDraw = 0.0
    private var drawn = false

    init(json: Bool) {
        isLive = isatty(STDERR_FILENO) == 1 && !json
    }

    /// Seconds since the line was made.
    var elapsed: Double { Date().timeIntervalSince(started) }

    /// Redraws the line with `text()` if a tenth of a second has passed since the last
    /// redraw, or at once when `final` (the last figures should be seen).
    func draw(final: Bool = false, _ text: () -> String) {
        guard isLive else { return }
        let now = elapsed
        guard final || now - lastDraw >= 0.1 else { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text()).utf8))
        drawn = true
    }

    /// Erases the line, if it was drawn, so that what follows starts on a fresh one.
    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
