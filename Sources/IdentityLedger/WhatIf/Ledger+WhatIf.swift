import Foundation

extension Ledger {
    /// Previews a schema change over the store's history: every command the log accepted
    /// (identify, update, import rows, manual merges and detaches, with their identifiers as
    /// the store normalized them) is decided again, in log order, under `schema` from log
    /// position `from` on (the log's own schemas before it), in a scratch store under the
    /// system's temporary directory. This store is only read; the scratch store is removed
    /// before this returns.
    ///
    /// Each difference is passed to `difference` as it is found, in log order: merges gained
    /// and lost with the guard results then and now, commands that would be refused, and at
    /// the end each customer whose ID would change. Commands the store refused were never
    /// logged, so they are not replayed; values a schema blocked were dropped before they
    /// were logged, so they are not either. Schema changes in the log from `from` on are
    /// passed over: the proposed schema stays in force.
    ///
    /// The log is read in pages and each page is decided in one transaction of the scratch
    /// store, so memory does not grow with the log; it grows with the number of customers
    /// (three IDs each), which the comparison of old and new customers needs.
    ///
    /// ```swift
    /// var schema = try ledger.schema()
    /// schema.types[0].blockMergeOnConflict = false
    /// let summary = try await ledger.whatif(schema: schema) { print($0) }
    /// print(summary.mergesGained)
    /// ```
    /// - Throws: ``LedgerError/invalidSchema(reason:)``; ``LedgerError/schemaConflict(conflicts:)``
    ///   when the store's data at `from` could not take the schema; a storage error.
    public func whatif(
        schema proposed: Schema, from: UInt64 = 1, progress: ((ReplayProgress) -> Void)? = nil,
        difference: (WhatIfDifference) -> Void
    ) async throws(LedgerError) -> WhatIfSummary {
        try proposed.validate()
        let started = Date()
        let total = try position
        guard let directory = StoreFiles.makePrivateDirectory(prefix: "idledger-whatif-") else {
            throw .fileSystemError(path: NSTemporaryDirectory(), reason: "cannot create a scratch directory for the what-if store")
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scratch = try Ledger.open(path: directory, options: Self.privateStoreOptions(durability: .noSync, clock: { Date() }, initialMapSize: 64 << 20))
        var replay = WhatIfReplay(proposed: proposed, from: max(from, 1))
        var next: UInt64 = 1
        var carried: [Event] = []
        while true {
            let page = try events(from: next, limit: Self.whatifPageSize)
            var commands = Self.commands(carried + page)
            // The last command of a page may go on in the next one.
            carried = page.isEmpty ? [] : commands.popLast() ?? []
            if !commands.isEmpty {
                let before = replay, commands = commands
                replay = try await Self.wrap {
                    try await scratch.store.write(size: commands.count) { transaction in
                        var replay = before
                        for command in commands { try replay.replay(command, in: transaction) }
                        return replay
                    }
                }
                replay.found.forEach(difference)
                replay.found.removeAll()
            }
            guard let last = page.last else { break }
            next = last.seq + 1
            progress?(ReplayProgress(events: last.seq, total: total, elapsed: Date().timeIntervalSince(started)))
        }
        // A `from` past the log: nothing is decided under the schema, but it must still fit the data.
        if !replay.proposedInForce {
            let at = replay
            _ = try await Self.wrap { try await scratch.store.write(size: 1) { transaction in try at.putProposedInForce(transaction) } }
        }
        let finished = replay
        try scratch.snapshot { view in try finished.customerMapping(view).forEach(difference) }
        return replay.summary
    }

    static let whatifPageSize = 2_000

    /// Consecutive events of one command, in log order.
    private static func commands(_ events: [Event]) -> [[Event]] {
        var commands: [[Event]] = []
        for event in events {
            if let last = commands.last?.last, last.commandSeq == event.commandSeq {
                commands[commands.count - 1].append(event)
            } else {
                commands.append([event])
            }
        }
        return commands
    }
}

/// The state of a what-if replay: the two stores' customers side by side.
struct WhatIfReplay: Sendable {
    let proposed: Schema
    let from: UInt64
    var summary = WhatIfSummary()
    /// Differences found in the current page, passed on after it commits.
    var found: [WhatIfDifference] = []
    /// The store's merges so far: absorbed → the customer that absorbed it.
    private var absorbedInto: [CustomerID: CustomerID] = [:]
    /// The replay's customer made by the command that made each old customer.
    private var newOf: [CustomerID: CustomerID] = [:]
    /// The old customer each replay customer was made for.
    private var oldOf: [CustomerID: CustomerID] = [:]
    private var lastOld: CustomerID = 0
    private(set) var proposedInForce = false

    init(proposed: Schema, from: UInt64) {
        self.proposed = proposed
        self.from = from
    }

    /// The old customer `id` stands for now in the store's history so far.
    private func oldCurrent(_ id: CustomerID) -> CustomerID {
        var id = id
        while let into = absorbedInto[id] { id = into }
        return id
    }

    /// The replay customer `id` stands for now.
    private static func newCurrent(_ id: CustomerID?, _ view: ProjectionReader) throws -> CustomerID? {
        guard let id, let header = try view.customerHeader(id) else { return nil }
        return try CustomerRecord(header: header).survivor ?? id
    }

    /// The replay customer an old one stands for now.
    private func newCurrent(ofOld id: CustomerID, _ view: ProjectionReader) throws -> CustomerID? {
        try Self.newCurrent(newOf[oldCurrent(id)] ?? newOf[id], view)
    }

    /// Records the proposed schema in the scratch store; `schemaConflict` when its data cannot take it.
    func putProposedInForce(_ transaction: StoreTransaction, at time: Int64? = nil) throws {
        let now = try time ?? transaction.view.lastPosition()?.recordedAt ?? 0
        try transaction.commit(CommandDecider(view: transaction.view, now: now).decide(proposed))
    }

    mutating func replay(_ events: [Event], in transaction: StoreTransaction) throws {
        guard let first = events.first else { return }
        if first.seq >= from, !proposedInForce {
            proposedInForce = true
            try putProposedInForce(transaction, at: first.recordedAt)
        }
        let main = events.first { event in
            if case .merged(_, _, _, _, false) = event.body { return false }
            if case .mergeDeclined = event.body { return false }
            return true
        } ?? first
        switch main.body {
        case .schemaChanged(let schema):
            if !proposedInForce { try transaction.commit(CommandDecider(view: transaction.view, now: main.recordedAt).decide(schema)) }
        case .importStarted(let start):
            if try transaction.view.importState(start.importId) == nil {
                try transaction.commit(ImportDecisions.start(start, in: transaction.view, now: main.recordedAt))
            }
        case .importFinished:
            break // bookkeeping of the store's import; the replay's rows are compared one by one
        case .identified(let customer, let created, let identifiers, let properties, let declined, _):
            summary.commands += 1
            if let importId = main.importId, let row = main.row {
                try replayImportRow(main, importId: importId, row: row, customer: customer, created: created,
                                    identifiers: identifiers, properties: properties, in: transaction)
            } else {
                let command = IdentifyCommand(
                    identifiers: identifiers.map(\.identifier),
                    access: Array(Set(identifiers.filter(\.access).map(\.identifier.type))).sorted(),
                    properties: Self.properties(properties), context: Self.context(main))
                try replayIdentify(command, events, main: main, customer: customer, created: created, declined: declined, in: transaction)
            }
        case .updated(let customer, let created, let identifiers, let properties):
            summary.commands += 1
            let command = Command.update(UpdateCommand(identifiers: identifiers, properties: Self.properties(properties), context: Self.context(main)))
            let outcome = try decide(command, main, customers: [customer], in: transaction)
            record(old: customer, created: created, new: outcome?.result)
        case .merged(let survivor, let absorbed, _, _, _):
            summary.commands += 1
            let view = transaction.view
            let into = try newCurrent(ofOld: survivor, view), from = try newCurrent(ofOld: absorbed, view)
            absorbedInto[absorbed] = survivor
            summary.customersBefore -= 1
            guard let into, let from else {
                refused(main, customers: [survivor, absorbed], code: "customerNotFound", "a customer of the merge does not exist in the replay")
                return
            }
            // Already one customer in the replay: the operator's merge changes nothing there.
            guard into != from else { return }
            let command = Command.merge(MergeCommand(into: .id(into), from: .id(from), actor: main.actor ?? "", note: main.note, context: Self.context(main)))
            if try decide(command, main, customers: [survivor, absorbed], in: transaction) != nil { summary.customersAfter -= 1 }
        case .detached(let customer, let identifier, let accessOnly):
            summary.commands += 1
            guard let current = try newCurrent(ofOld: customer, transaction.view) else {
                refused(main, customers: [customer], code: "customerNotFound", "customer \(customer) does not exist in the replay")
                return
            }
            let command = Command.detach(DetachCommand(
                customer: .id(current), identifier: identifier, actor: main.actor ?? "", note: main.note, accessOnly: accessOnly, context: Self.context(main)))
            _ = try decide(command, main, customers: [customer], in: transaction)
        case .mergeDeclined:
            break // part of an identify, compared there
        }
    }

    /// Decides and commits `command` in its own step; a refusal is recorded as a difference.
    private mutating func decide(_ command: Command, _ main: Event, customers: [CustomerID], in transaction: StoreTransaction) throws -> (result: CommandResult, events: [Event])? {
        do {
            return try transaction.step { step in
                let decision = try CommandDecider(view: step.view, now: main.recordedAt).decide(command)
                return (try step.commit(decision), decision.events)
            }
        } catch let error as LedgerError where !error.isFaultOfTheStore {
            refused(main, customers: customers, code: error.code, error.description)
            return nil
        }
    }

    private mutating func refused(_ main: Event, customers: [CustomerID], code: String, _ message: String) {
        summary.commandsNowRefused += 1
        found.append(WhatIfDifference(kind: .refused, seq: main.commandSeq, customers: customers, errorCode: code, errorMessage: message))
    }

    /// Ties the old customer a command went to to the replay's.
    private mutating func record(old: CustomerID, created: Bool, new result: CommandResult?) {
        if created {
            summary.customersBefore += 1
            lastOld = max(lastOld, old)
            if let result { newOf[old] = result.customer }
        }
        if let result, result.created {
            summary.customersAfter += 1
            if oldOf[result.customer] == nil { oldOf[result.customer] = oldCurrent(old) }
        }
    }

    private mutating func replayIdentify(
        _ command: IdentifyCommand, _ events: [Event], main: Event, customer: CustomerID, created: Bool,
        declined: [DeclinedCandidate], in transaction: StoreTransaction
    ) throws {
        // The store's side first: its merges in this command.
        var merges: [(event: Event, survivor: CustomerID, absorbed: CustomerID, guards: [GuardResult])] = []
        var declines: [CustomerID: [GuardResult]] = [:]
        for event in events {
            switch event.body {
            case .merged(let survivor, let absorbed, _, let guards, false):
                merges.append((event, survivor, absorbed, guards))
                absorbedInto[absorbed] = survivor
                summary.customersBefore -= 1
            case .mergeDeclined(_, let candidate, let guards): declines[candidate] = guards
            default: break
            }
        }
        for candidate in declined where declines[candidate.customer] == nil {
            // Recorded with its guards at an earlier command; the failing set is all this one keeps.
            declines[candidate.customer] = candidate.failingGuards.map { GuardResult(guard: $0, passed: false, finding: .recordedEarlier) }
        }
        let outcome = try decide(.identify(command), main, customers: [customer], in: transaction)
        record(old: customer, created: created, new: outcome?.result)
        guard let outcome else { return }
        let view = transaction.view
        for event in outcome.events {
            if case .merged = event.body { summary.customersAfter -= 1 }
        }

        // Lost: merged by the store, apart in the replay.
        for merge in merges {
            let survivor = try newCurrent(ofOld: merge.survivor, view), absorbed = try newCurrent(ofOld: merge.absorbed, view)
            guard survivor == nil || survivor != absorbed else { continue }
            let now = try outcome.result.declined.first { try Self.newCurrent($0.customer, view) == absorbed }?.guards ?? []
            summary.mergesLost += 1
            found.append(WhatIfDifference(kind: .mergeLost, seq: merge.event.seq, customers: [merge.survivor, merge.absorbed], then: merge.guards, now: now))
        }
        // Gained: merged in the replay, apart in the store. Pairs joined through pairs already
        // reported are not reported again (three customers become one through two merges).
        var joined = Joined()
        let commandCustomer = oldCurrent(customer)
        /// The store's decline of exactly this pair in this command, if it made one.
        func decline(_ a: CustomerID, _ b: CustomerID) -> [GuardResult] {
            let pair = Set([oldCurrent(a), oldCurrent(b)])
            return declines.keys.sorted().first { pair == [commandCustomer, oldCurrent($0)] }.map { declines[$0]! } ?? []
        }
        for event in outcome.events {
            guard case .merged(let survivor, let absorbed, _, let guards, _) = event.body,
                  let oldSurvivor = oldOf[survivor], let oldAbsorbed = oldOf[absorbed],
                  oldCurrent(oldSurvivor) != oldCurrent(oldAbsorbed),
                  joined.join(oldCurrent(oldSurvivor), oldCurrent(oldAbsorbed)) else { continue }
            gained(main, [oldSurvivor, oldAbsorbed], then: decline(oldSurvivor, oldAbsorbed), now: guards)
        }
        // Declined by the store and one customer in the replay without a merge of its own: the
        // command went to the customer the store declined (the couple's second identify).
        for candidate in declines.keys.sorted() {
            guard commandCustomer != oldCurrent(candidate),
                  let mine = try newCurrent(ofOld: customer, view), try mine == newCurrent(ofOld: candidate, view),
                  joined.join(commandCustomer, oldCurrent(candidate)) else { continue }
            gained(main, [candidate, customer].sorted(), then: declines[candidate]!, now: [])
        }
    }

    /// The store's customers one command's reported gains have joined (union-find).
    private struct Joined {
        private var parent: [CustomerID: CustomerID] = [:]

        private func root(_ id: CustomerID) -> CustomerID {
            var id = id
            while let next = parent[id] { id = next }
            return id
        }

        /// Joins the two; false when they were joined already.
        mutating func join(_ a: CustomerID, _ b: CustomerID) -> Bool {
            let (ra, rb) = (root(a), root(b))
            guard ra != rb else { return false }
            parent[max(ra, rb)] = min(ra, rb)
            return true
        }
    }

    private mutating func gained(_ main: Event, _ customers: [CustomerID], then: [GuardResult], now: [GuardResult]) {
        summary.mergesGained += 1
        if !then.isEmpty { summary.declinesNowMerged += 1 }
        found.append(WhatIfDifference(kind: .mergeGained, seq: main.commandSeq, customers: customers, then: then, now: now))
    }

    private mutating func replayImportRow(
        _ main: Event, importId: String, row: UInt64, customer: CustomerID, created: Bool,
        identifiers: [PresentedIdentifier], properties: [PropertyWrite], in transaction: StoreTransaction
    ) throws {
        guard let state = try transaction.view.importState(importId) else {
            throw BinaryReader.Failure(reason: "import \(importId) has a row before its start")
        }
        var presented = ImportRow(row: row, line: 0)
        presented.identifiers = identifiers.map { ImportRow.Value(column: $0.identifier.type, identifier: $0.identifier) }
        presented.access = Set(identifiers.filter(\.access).map(\.identifier.type)).sorted().map { (column: $0, type: $0) }
        presented.properties = Self.properties(properties)
        presented.source = main.source
        let (outcome, target) = try transaction.step { step in
            // The row's own time: the decider gives a row without `at` its import's start.
            let decider = ImportRowDecider(view: step.view, schema: try step.view.schema(), importId: importId,
                                           matchBy: state.start.matchBy, startedAt: main.occurredAt)
            let decision = try decider.decide(presented) { main.recordedAt }
            let target = decision.events.lazy.compactMap { event -> CustomerID? in
                if case .identified(let customer, _, _, _, _, _) = event.body { customer } else { nil }
            }.first
            return (try step.commit(decision), target)
        }
        switch outcome {
        case .applied(let createdNow, _):
            record(old: customer, created: created, new: target.map {
                CommandResult(customer: $0, created: createdNow, merged: [], seq: [], declined: [], guards: [], warnings: [])
            })
        case .rejected(let rejection):
            record(old: customer, created: created, new: nil)
            refused(main, customers: [customer], code: rejection.code, rejection.message)
        }
    }

    /// The old customers whose replay customer has another ID (or none), for the end of the report.
    func customerMapping(_ view: ProjectionReader) throws -> [WhatIfDifference] {
        guard lastOld > 0 else { return [] }
        var lines: [WhatIfDifference] = []
        for old in 1...lastOld {
            let now = try Self.newCurrent(newOf[old], view)
            guard now != oldCurrent(old) else { continue }
            lines.append(WhatIfDifference(kind: .customer, seq: 0, customers: [old], newCustomer: now))
        }
        return lines
    }

    private static func properties(_ writes: [PropertyWrite]) -> [String: JSONValue] {
        Dictionary(writes.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    private static func context(_ event: Event) -> CommandContext {
        CommandContext(occurredAt: Date(millisecondsSince1970: event.occurredAt), source: event.source)
    }
}
