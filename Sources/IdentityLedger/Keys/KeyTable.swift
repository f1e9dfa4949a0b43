/// A ``FileKeyStore``'s records in memory: each customer's data key, or that it was destroyed.
///
/// The keys sit in one buffer, 32 bytes a slot, rather than one array each: a million
/// customers take some 50 MB, and a destroyed key's bytes are overwritten where they are
/// (copies handed out by lookups are the caller's).
struct KeyTable {
    /// Each customer's slot, or ``destroyed``: 4 bytes rather than an enum's 16.
    private var entries: [CustomerID: Int32] = [:]
    private var slots: [UInt8] = []
    private var freeSlots: [Int] = []

    private static let destroyed: Int32 = -1
    private static let keySize = KeyFileFormat.keySize

    /// A table with room for `capacity` customers.
    init(capacity: Int = 0) {
        entries.reserveCapacity(capacity)
        slots.reserveCapacity(capacity * Self.keySize)
    }

    /// nil when the table has nothing of `customer`.
    func lookup(_ customer: CustomerID) -> DataKeyLookup? {
        switch entries[customer] {
        case nil: nil
        case Self.destroyed: .destroyed
        case let slot?: .key(Array(key(in: Int(slot))))
        }
    }

    /// Takes in a record read from the file or about to be written to it.
    /// - Returns: why the record cannot follow those before it, or nil.
    mutating func apply(_ record: KeyFileFormat.Record) -> String? {
        switch (record.kind, entries[record.customer]) {
        case (.key, nil):
            let slot = freeSlots.popLast() ?? slots.count / Self.keySize
            if slot * Self.keySize == slots.count {
                slots += record.key
            } else {
                slots.replaceSubrange((slot * Self.keySize)..<((slot + 1) * Self.keySize), with: record.key)
            }
            entries[record.customer] = Int32(slot)
        case (.key, Self.destroyed):
            return "a key for customer \(record.customer), whose key was destroyed"
        case (.key, _):
            return "a second key for customer \(record.customer)"
        case (.destroyed, let slot):
            if let slot, slot != Self.destroyed { wipe(Int(slot)) }
            entries[record.customer] = Self.destroyed
        }
        return nil
    }

    /// Every customer in ascending order, with its key or nil for a destroyed one.
    func forEach<E: Error>(_ body: (CustomerID, ArraySlice<UInt8>?) throws(E) -> Void) throws(E) {
        for customer in entries.keys.sorted() {
            let slot = entries[customer]!
            try body(customer, slot == Self.destroyed ? nil : key(in: Int(slot)))
        }
    }

    /// Overwrites every key's bytes: the table is being dropped.
    mutating func wipeAll() {
        for index in slots.indices { slots[index] = 0 }
        entries = [:]
        freeSlots = []
    }

    private func key(in slot: Int) -> ArraySlice<UInt8> {
        slots[(slot * Self.keySize)..<((slot + 1) * Self.keySize)]
    }

    private mutating func wipe(_ slot: Int) {
        for index in (slot * Self.keySize)..<((slot + 1) * Self.keySize) { slots[index] = 0 }
        freeSlots.append(slot)
    }
}
