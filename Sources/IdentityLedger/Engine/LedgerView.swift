/// What the deciders read: the projections as of one point of the log. The store gives a
/// view over a snapshot (queries, dry runs) or over the write transaction a command commits
/// in, which also sees what earlier commands of the same transaction committed.
///
/// Deciders only read through this protocol, so they can be tested against any view, and a
/// new storage backend only has to answer these reads.
protocol LedgerView {
    /// The schema in force at the view's point; the default schema for an empty log.
    func schema() throws -> Schema
    /// The schema in force right after log position `seq` (the one a past command ran under).
    func schema(after seq: UInt64) throws -> Schema
    /// Who holds `identifier`, or `nil` if nobody ever did.
    func valueState(_ identifier: Identifier) throws -> ValueState?
    /// The customer with everything it holds, or `nil` for an ID never assigned.
    func customer(_ id: CustomerID) throws -> CustomerRecord?
    /// The identifiers the customer holds, sorted, without those of the `excluded` types.
    func heldIdentifiers(of id: CustomerID, excluding excluded: [String]) throws -> [HeldIdentifier]
    /// The soft values of `types` the customer holds, each with the last position at which it
    /// presented or got it (the order in which a release limit lets values go, behaviour §2.7).
    func lastPresented(of id: CustomerID, types: Set<String>) throws -> [Identifier: UInt64]
    /// The highest customer ID ever assigned (IDs are dense, so also the count).
    var customerCount: Int { get throws }
    /// The position of the recorded `mergeDeclined` of the pair with these failing guards, if any.
    func isDeclineRecorded(_ a: CustomerID, _ b: CustomerID, mask: UInt8) throws -> UInt64?
    func event(_ seq: UInt64) throws -> Event?
    /// The position and clock of the last event, or `nil` when the log is empty.
    func lastPosition() throws -> (seq: UInt64, recordedAt: Int64)?
    /// The payload digest and first position of the command recorded under `eventId`.
    func command(withEventId eventId: String) throws -> (digest: [UInt8], seq: UInt64)?
    /// Calls `body` with every value of `type` (or of every type) that has holders, in key
    /// order, until it returns `false`.
    func forEachValue(ofType type: String?, _ body: (Identifier, ValueState) throws -> Bool) throws
    func importState(_ importId: String) throws -> ImportState?
}

// The reads every decider and query shares, each written once over the protocol.
extension LedgerView {
    /// The customers holding `identifier`, by ID, with whether it grants access on each.
    func holders(of identifier: Identifier) throws -> [(customer: CustomerID, access: Bool)] {
        try valueState(identifier)?.holders.map { ($0.customer, $0.access) } ?? []
    }

    func accessOwner(of identifier: Identifier) throws -> CustomerID? {
        try valueState(identifier)?.accessOwner
    }

    /// The customer that most recently presented a soft value together with a known
    /// identifier, or `nil` when none did (the first holder then stands).
    func claimedHolder(of identifier: Identifier) throws -> CustomerID? {
        try valueState(identifier)?.claimedHolder
    }

    /// The customer with this ID, or a typed error.
    func existingCustomer(_ id: CustomerID) throws -> CustomerRecord {
        guard let record = try customer(id) else { throw LedgerError.customerNotFound(reference: String(id)) }
        return record
    }

    /// The customer a record stands for now: itself, or the survivor it was merged into.
    func current(_ record: CustomerRecord) throws -> CustomerRecord {
        try record.survivor.map(existingCustomer) ?? record
    }

    /// The customer a reference names: an ID (merged or not), or a normalized value
    /// held by exactly one customer.
    func resolve(_ ref: CustomerRef, schema: Schema) throws -> CustomerRecord {
        switch ref {
        case .id(let id):
            return try existingCustomer(id)
        case .identifier(let raw):
            let identifier = try schema.normalize(raw)
            let holders = try holders(of: identifier).map(\.customer)
            guard let first = holders.first else { throw LedgerError.customerNotFound(reference: identifier.description) }
            guard holders.count == 1 else { throw LedgerError.ambiguousCustomer(identifier: identifier, candidates: holders) }
            return try existingCustomer(first)
        }
    }
}
