/// The largest inputs the engine takes (behaviour §5.8). Without them one broken or hostile
/// integration could grow the store and the process without bound: a 10 MB property written
/// sixty times, a 200 MB `ingest` line read whole into memory.
///
/// Sizes are bytes **as the engine encodes them** (the binary form it stores and hashes for
/// `eventId`: a string is its UTF-8 bytes plus a tag and a length of one to three bytes, an
/// integer a tag and a variable-length number, a double nine bytes), not as JSON text, whose
/// length depends on how it was escaped and spaced. For text the two are about the same. A line
/// of `ingest` or an import row is also limited as read, before it is parsed, to
/// ``commandBytes``, so that reading it needs bounded memory.
///
/// Over a limit, the input is refused with ``LedgerError/inputTooLarge(what:size:limit:)``
/// and nothing is written.
public enum InputLimits {
    /// One property value: 64 KiB.
    public static let propertyValueBytes = 64 << 10
    /// One command (its identifiers, access types, properties, context, actor and note), one
    /// `ingest` line, one import row: 1 MiB.
    public static let commandBytes = 1 << 20
}

extension InputLimits {
    /// The first property, by key, whose value is over ``propertyValueBytes`` as the engine
    /// encodes it, and that size: the one ``Command/checkedPayload()`` refuses.
    static func firstOversizedProperty(_ properties: [String: JSONValue]) -> (key: String, size: Int)? {
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            var writer = BinaryWriter()
            writer.write(value)
            if writer.bytes.count > propertyValueBytes { return (key, writer.bytes.count) }
        }
        return nil
    }
}

extension Command {
    /// Checks the command against ``InputLimits``; returns its canonical payload (for the
    /// `eventId` digest), which is what its size is measured on.
    /// - Throws: ``LedgerError/inputTooLarge(what:size:limit:)`` naming the first property
    ///   over its limit, else the command.
    func checkedPayload() throws(LedgerError) -> [UInt8] {
        let payload = canonicalPayload
        // No property can be larger than the whole: most commands need no look at each one.
        if payload.count > InputLimits.propertyValueBytes, let (key, size) = InputLimits.firstOversizedProperty(properties) {
            throw .inputTooLarge(what: "property \(LedgerError.quoted(key))", size: size, limit: InputLimits.propertyValueBytes)
        }
        if payload.count > InputLimits.commandBytes {
            throw .inputTooLarge(what: "the command", size: payload.count, limit: InputLimits.commandBytes)
        }
        return payload
    }

    private var properties: [String: JSONValue] {
        switch self {
        case .identify(let command): command.properties
        case .update(let command): command.properties
        case .merge, .detach: [:]
        }
    }
}
