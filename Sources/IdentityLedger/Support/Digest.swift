import Crypto

/// SHA-256 as the store uses it: idempotency keys, import content digests, projection
/// digests (rebuild, verify), long property names in keys.
extension SHA256 {
    static func hash(_ bytes: [UInt8]) -> [UInt8] { Array(hash(data: bytes)) }

    /// Each part after its length as `BinaryWriter` frames it (a varint), so that a byte moved
    /// from one part into the next changes the digest.
    mutating func update(lengthPrefixed part: UnsafeRawBufferPointer) {
        var length = BinaryWriter(capacity: 10)
        length.write(UInt64(part.count))
        update(data: length.bytes)
        update(bufferPointer: part)
    }

    mutating func update(_ bytes: [UInt8]) { update(data: bytes) }

}
