import Crypto

/// The layout of a ``FileKeyStore``'s file: a header, then fixed-size records, appended one
/// after another and rewritten only when keys are destroyed.
///
/// - Header (52 bytes): magic `IDLGKEYS`, version (UInt32, little-endian), the store secret
///   (32 bytes), checksum.
/// - Record (49 bytes): kind (1 = key, 2 = destroyed), customer ID (UInt64, little-endian),
///   the key (32 bytes, zero for a destroyed one), checksum.
///
/// A checksum is the first 8 bytes of the SHA-256 of the bytes before it.
enum KeyFileFormat {
    static let magic = Array("IDLGKEYS".utf8)
    static let version: UInt32 = 1
    static let keySize = 32
    static let checksumSize = 8
    static let headerSize = 8 + 4 + keySize + checksumSize
    static let recordSize = 1 + 8 + keySize + checksumSize

    enum Kind: UInt8 {
        case key = 1, destroyed = 2
    }

    struct Record {
        let kind: Kind
        let customer: CustomerID
        /// `keySize` bytes.
        let key: ArraySlice<UInt8>
    }

    static func header(secret: [UInt8]) -> [UInt8] {
        var bytes = magic
        appendLittleEndian(UInt64(version), size: 4, to: &bytes)
        bytes += secret
        bytes += checksum(of: bytes[...])
        return bytes
    }

    /// The store secret of the header that `file` (the whole file) starts with.
    /// - Throws: ``LedgerError/keyStoreDamaged(path:reason:)`` saying what is wrong with it.
    static func secret(fromHeaderOf file: [UInt8], path: String) throws(LedgerError) -> [UInt8] {
        guard file.count >= headerSize else {
            throw .keyStoreDamaged(path: path, reason: "the file is \(file.count) bytes, shorter than its \(headerSize)-byte header")
        }
        guard file.starts(with: magic) else {
            throw .keyStoreDamaged(path: path, reason: "it does not start as a key store (bad magic number)")
        }
        let found = littleEndian(file, at: magic.count, size: 4)
        guard found == UInt64(version) else {
            throw .keyStoreDamaged(path: path, reason: "its format version is \(found); this build reads version \(version)")
        }
        guard checksumMatches(file, 0..<headerSize) else {
            throw .keyStoreDamaged(path: path, reason: "the checksum of its header does not match")
        }
        return Array(file[(magic.count + 4)..<(headerSize - checksumSize)])
    }

    static func appendRecord(_ kind: Kind, customer: CustomerID, key: some Collection<UInt8>, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(kind.rawValue)
        appendLittleEndian(customer, size: 8, to: &bytes)
        if kind == .key { bytes += key } else { bytes += repeatElement(0, count: keySize) }
        bytes += checksum(of: bytes[start...])
    }

    /// Where the whole records with matching checksums end in `bytes`, read from `start` (a
    /// record boundary; `base` is the file offset of `bytes[0]`). What follows them is an append
    /// that a crash cut off, never acknowledged (keys are durable before anything uses them):
    /// an incomplete last record, or records of zero bytes only to the end (a power failure
    /// can leave an append's space allocated before its data reached the disk).
    /// - Throws: ``LedgerError/keyStoreDamaged(path:reason:)`` for any other record whose
    ///   checksum does not match or whose kind is unknown, naming its offset.
    static func soundEnd(of bytes: [UInt8], from start: Int, base: Int, path: String) throws(LedgerError) -> Int {
        var start = start
        while start + recordSize <= bytes.count {
            if !checksumMatches(bytes, start..<(start + recordSize)) {
                if bytes[start...].allSatisfy({ $0 == 0 }) { break }
                throw .keyStoreDamaged(path: path, reason: "the record at byte \(base + start) does not match its checksum")
            }
            guard Kind(rawValue: bytes[start]) != nil else {
                throw .keyStoreDamaged(path: path, reason: "the record at byte \(base + start) is of unknown kind \(bytes[start])")
            }
            start += recordSize
        }
        return start
    }

    /// The record at `start` of bytes that ``soundEnd(of:from:base:path:)`` passed.
    static func record(in bytes: [UInt8], at start: Int) -> Record {
        Record(
            kind: Kind(rawValue: bytes[start])!,
            customer: littleEndian(bytes, at: start + 1, size: 8),
            key: bytes[(start + 9)..<(start + 9 + keySize)]
        )
    }

    /// Whether the last `checksumSize` bytes of `bytes[range]` are the checksum of the rest.
    private static func checksumMatches(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        let sealed = range.lowerBound..<(range.upperBound - checksumSize)
        return bytes.withUnsafeBytes { raw in
            digest(of: UnsafeRawBufferPointer(rebasing: raw[sealed])).withUnsafeBytes { digest in
                digest.prefix(checksumSize).elementsEqual(raw[sealed.upperBound..<range.upperBound])
            }
        }
    }

    private static func checksum(of bytes: ArraySlice<UInt8>) -> [UInt8] {
        bytes.withUnsafeBytes { Array(digest(of: $0).prefix(checksumSize)) }
    }

    private static func digest(of bytes: UnsafeRawBufferPointer) -> SHA256.Digest {
        var hash = SHA256()
        hash.update(bufferPointer: bytes)
        return hash.finalize()
    }

    private static func appendLittleEndian(_ value: UInt64, size: Int, to bytes: inout [UInt8]) {
        for index in 0..<size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    private static func littleEndian(_ bytes: [UInt8], at start: Int, size: Int) -> UInt64 {
        (0..<size).reduce(0) { value, index in value | UInt64(bytes[start + index]) << (8 * index) }
    }
}
