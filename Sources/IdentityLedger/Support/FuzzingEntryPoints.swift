/// Entry points for the libFuzzer targets in `Fuzz/` (docs/fuzzing.md): the binary decoders
/// are internal, and a separate package cannot use `@testable import`, so they are reached
/// through this SPI instead. Not part of the supported API.
@_spi(Fuzzing)
public enum FuzzingEntryPoints {
    /// Decodes `bytes` as the log event at position `seq`; a throw is fine, a trap is a bug.
    @discardableResult
    public static func decodeEvent(seq: UInt64, bytes: [UInt8]) throws(LedgerError) -> Event {
        try Event(seq: seq, bytes: bytes)
    }

    /// Re-encodes a decoded event: the encoding must reproduce the bytes it was read from.
    public static func encode(_ event: Event) -> [UInt8] {
        event.encoded()
    }

    /// Reads every row of an import file (CSV with its header, or JSON Lines) against the
    /// default schema, mapping each to identifiers and properties; returns the rows read,
    /// or -1 when the file is refused as a whole (a bad CSV header, a read error).
    public static func readImport(path: String, csv: Bool) -> Int {
        guard var source = try? ImportSource(path: path, format: csv ? .csv : .jsonl, schema: .default) else { return -1 }
        defer { source.close() }
        var rows = 0
        do {
            while try source.next() != nil { rows += 1 }
        } catch {
            return -1
        }
        return rows
    }

    /// Decodes `bytes` as a `customers`, a `holdings` and a `properties` projection value;
    /// returns whether any decoded.
    @discardableResult
    public static func decodeCustomerRecord(_ bytes: [UInt8]) -> Bool {
        let header = (try? CustomerRecord(header: bytes)) != nil
        let property = (try? CustomerRecord.Property(bytes: bytes)) != nil
        return (try? Holding(bytes: bytes)) != nil || header || property
    }
}
