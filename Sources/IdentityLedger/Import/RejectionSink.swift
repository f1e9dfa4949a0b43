import Synchronization

/// Where an import's rejections go, each once and in row order: its errors file and the
/// caller's `onRejection`.
final class RejectionSink: Sendable {
    private struct State {
        let file: ImportErrorsFile
        /// Rejections already passed on by the dry run: a write transaction that LMDB runs
        /// again (to grow the map) finds them again, and they are not passed on twice.
        var delivered: UInt64 = 0
    }

    private let state: Mutex<State>
    private let onRejection: (@Sendable (ImportRejection) -> Void)?

    init(file: sending ImportErrorsFile, onRejection: (@Sendable (ImportRejection) -> Void)?) {
        state = Mutex(State(file: file))
        self.onRejection = onRejection
    }

    /// A committed batch's rejections.
    func deliver(_ rejections: [ImportRejection]) throws(LedgerError) {
        try state.withLock { state throws(LedgerError) in try state.file.append(rejections) }
        if let onRejection { rejections.forEach(onRejection) }
    }

    /// The dry run's `number`th rejection (from 0) of the current attempt at its transaction.
    func deliver(_ rejection: ImportRejection, number: UInt64) throws(LedgerError) {
        let isNew = try state.withLock { state throws(LedgerError) -> Bool in
            guard number >= state.delivered else { return false }
            try state.file.append([rejection])
            state.delivered = number + 1
            return true
        }
        if isNew { onRejection?(rejection) }
    }
}
