extension Ledger {
    /// How much a crash may lose (docs/durability.md).
    ///
    /// ```swift
    /// let ledger = try Ledger.open(path: path, options: .init(durability: .noSync))
    /// try await ledger.identify(command)
    /// try ledger.sync() // where losing recent commands to an OS crash would matter
    /// ```
    public enum Durability: Sendable, Hashable {
        /// The default: every command (one import batch) is flushed to disk before it
        /// returns, so no crash loses an acknowledged command.
        case full
        /// Commits are not flushed: a crash of the process loses nothing, but a crash of the
        /// operating system or a power loss may lose the most recent commits (whole, never
        /// half of one: the store reopens at an earlier commit). ``Ledger/sync()`` flushes.
        case noSync
    }
}
