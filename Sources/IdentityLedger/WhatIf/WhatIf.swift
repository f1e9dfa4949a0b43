/// What ``Ledger/whatif(schema:from:progress:difference:)`` found: the counts of its
/// differences, and how the store's customers would be grouped under the proposed schema.
///
/// Encodable as the first line of `idledger whatif --json` prints it.
public struct WhatIfSummary: Sendable, Hashable, Codable {
    /// Commands of the log decided again (refused commands were never logged, so they are not among them).
    public var commands: Int = 0
    /// Active customers in the store now, and after the replay under the proposed schema.
    public var customersBefore: Int = 0
    public var customersAfter: Int = 0
    /// Automatic merges that would happen and did not, and that happened and would not.
    public var mergesGained: Int = 0
    public var mergesLost: Int = 0
    /// Of ``mergesGained``, the pairs whose merge the store declined (the guards then said no).
    public var declinesNowMerged: Int = 0
    /// Commands the store accepted that the proposed schema would refuse.
    public var commandsNowRefused: Int = 0

    /// Whether the proposed schema changes nothing.
    public var isEmpty: Bool { mergesGained == 0 && mergesLost == 0 && commandsNowRefused == 0 && customersBefore == customersAfter }
}

/// One difference ``Ledger/whatif(schema:from:progress:difference:)`` reports, in log order.
///
/// Customer IDs are the store's own (the "old" customers); ``WhatIfDifference/Kind/customer``
/// says which customer of the replay each one would be.
public struct WhatIfDifference: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The command would merge `customers` (the store kept them apart).
        case mergeGained
        /// The command merged `customers` and would not.
        case mergeLost
        /// The command would be refused (`error`).
        case refused
        /// The old customer `customers[0]` would be customer `now` of the replay (listed at the
        /// end for each customer whose ID would change, `nil` when it would not exist at all).
        case customer
    }

    public var kind: Kind
    /// The position of the command in the store's log (the merge's, for a merge that was
    /// declined); 0 for a ``Kind/customer`` line.
    public var seq: UInt64
    /// The store's customers concerned: the pair (survivor first, as the store had or would
    /// have it), the command's customer for a refusal, the old customer for a mapping.
    public var customers: [CustomerID]
    /// The guard results the store recorded for the pair (empty when it did not judge it).
    public var then: [GuardResult] = []
    /// The guard results under the proposed schema (empty when it would not judge the pair, or
    /// when the command would go to the customer the store declined, which is attaching, not a
    /// merge).
    public var now: [GuardResult] = []
    /// Why the command would be refused: the error's code (``LedgerError/code``, or an import
    /// rejection's) and its message.
    public var errorCode: String?
    public var errorMessage: String?
    /// For ``Kind/customer``: the replay's customer.
    public var newCustomer: CustomerID?
}
