/// Builds byte keys whose byte-wise (memcmp) order equals the order of the values
/// they encode, so that LMDB's sorted keys give range and prefix queries for free.
///
/// - Unsigned integers are big-endian; signed ones have the sign bit flipped.
/// - Byte strings are length-prefixed (big-endian `UInt16`): keys that share a
///   prefix of components stay grouped, and a component never runs into the next.
///   The order of length-prefixed strings is shorter first, then byte order,
///   which is the order the engine needs (grouping and a stable, total order);
///   use ``appendOrdered(_:)`` where plain lexicographic order matters.
public struct KeyBuilder: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 32) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt8) { bytes.append(value) }

    public mutating func append(_ value: Int64) {
        append(UInt64(bitPattern: value) ^ (1 << 63))
    }

    /// A length-prefixed byte string (at most 65,535 bytes).
    public mutating func append(lengthPrefixed value: some Collection<UInt8>) {
        precondition(value.count <= Int(UInt16.max), "key component too long")
        withUnsafeBytes(of: UInt16(value.count).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: value)
    }

    public mutating func append(lengthPrefixed value: String) {
        append(lengthPrefixed: value.utf8)
    }

    /// A byte string in lexicographic order: 0x00 is escaped as 0x00 0xFF and the
    /// string ends with 0x00 0x01, so a shorter string sorts before its extensions.
    public mutating func appendOrdered(_ value: some Collection<UInt8>) {
        for byte in value {
            bytes.append(byte)
            if byte == 0 { bytes.append(0xFF) }
        }
        bytes.append(0)
        bytes.append(1)
    }
}

/// Reads the components written by ``KeyBuilder`` back, in order.
public struct KeyReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func readUInt64() -> UInt64? {
        guard offset + 8 <= bytes.count else { return nil }
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + 8] { value = value << 8 | UInt64(byte) }
        offset += 8
        return value
    }

    public mutating func readUInt32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[offset..<offset + 4] { value = value << 8 | UInt32(byte) }
        offset += 4
        return value
    }

    public mutating func readUInt8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readInt64() -> Int64? {
        readUInt64().map { Int64(bitPattern: $0 ^ (1 << 63)) }
    }

    public mutating func readLengthPrefixed() -> [UInt8]? {
        guard offset + 2 <= bytes.count else { return nil }
        let count = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
        guard offset + 2 + count <= bytes.count else { return nil }
        defer { offset += 2 + count }
        return Array(bytes[offset + 2..<offset + 2 + count])
    }

    public mutating func readLengthPrefixedString() -> String? {
        readLengthPrefixed().map { String(decoding: $0, as: UTF8.self) }
    }

    public mutating func readOrdered() -> [UInt8]? {
        var out: [UInt8] = []
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            guard byte == 0 else { out.append(byte); continue }
            guard offset < bytes.count else { return nil }
            let marker = bytes[offset]
            offset += 1
            if marker == 1 { return out }
            if marker == 0xFF { out.append(0) } else { return nil }
        }
        return nil
    }
}
