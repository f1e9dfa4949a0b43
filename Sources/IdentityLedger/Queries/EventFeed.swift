import Foundation

extension Ledger {
    /// The position of the last event in the log, 0 for an empty one: a single read of the
    /// log's last entry, however long the log (unlike ``statistics()``, which scans it).
    public var position: UInt64 {
        get throws(LedgerError) { try snapshot { try $0.lastPosition()?.seq ?? 0 } }
    }

    /// The events after log position `position`, in log order, as they commit: those already
    /// in the log first, then each new one once it is committed — by this process or by any
    /// other process writing the same store.
    ///
    /// ```swift
    /// for try await event in ledger.events(after: try ledger.position) {
    ///     print(event.seq, event.kind)
    /// }
    /// ```
    ///
    /// The feed reads the log in pages of up to `pageSize` events and, at the end of the log,
    /// looks again every `pollInterval` (a read of the log's last position). It ends (returns
    /// nil) when the task iterating it is cancelled; it holds no snapshot between reads, so
    /// it never keeps LMDB from reusing pages. It keeps its ``Ledger`` (and so the store open)
    /// until it is released.
    /// - Throws: while iterating, ``LedgerError`` when the log cannot be read.
    public func events(after position: UInt64, pollInterval: Duration = .milliseconds(50), pageSize: Int = 256) -> EventFeed {
        EventFeed(ledger: self, after: position, pollInterval: max(pollInterval, .milliseconds(1)), pageSize: max(pageSize, 1))
    }
}

/// The events of a log as they commit: ``Ledger/events(after:pollInterval:pageSize:)``.
public struct EventFeed: AsyncSequence, Sendable {
    public typealias Element = Event
    public typealias Failure = LedgerError

    let ledger: Ledger
    let after: UInt64
    let pollInterval: Duration
    let pageSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(feed: self, last: after)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let feed: EventFeed
        /// The position of the last event returned.
        var last: UInt64
        var page: [Event] = []
        var index = 0

        public mutating func next() async throws(LedgerError) -> Event? {
            try await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(LedgerError) -> Event? {
            while index == page.count {
                if Task.isCancelled { return nil }
                page = try feed.ledger.events(from: last + 1, limit: feed.pageSize)
                index = 0
                if !page.isEmpty { break }
                do { try await Task.sleep(for: feed.pollInterval) } catch { return nil } // cancelled
            }
            let event = page[index]
            index += 1
            last = event.seq
            return event
        }
    }
}
