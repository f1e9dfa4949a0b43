/// Where `bytes` stop being UTF-8: the offset (from 1) of the first byte that does not start
/// or continue a valid sequence, or `nil` for valid UTF-8.
///
/// Every reader of bytes uses it to refuse text that is not UTF-8 and say where, rather than
/// let `String(decoding:)` replace the bad bytes with U+FFFD: `caf\xE9` and `caf\xE8` would
/// then be one value (`ingest` lines, import cells and lines, command-line arguments and
/// environment variables of `idledger`).
///
/// ```swift
/// firstInvalidUTF8Byte(Array("caf".utf8) + [0xE9]) // 4
/// ```
package func firstInvalidUTF8Byte<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int? {
    var iterator = bytes.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var valid = 0
    while true {
        switch parser.parseScalar(from: &iterator) {
        case .valid(let scalar): valid += scalar.count
        case .emptyInput: return nil
        case .error: return valid + 1
        }
    }
}
