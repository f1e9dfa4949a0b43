/// One line of line-oriented input (an `ingest` line, a JSON Lines import row) as its reader
/// hands it on. A line is kept up to ``InputLimits/commandBytes`` without its line ending
/// (`\n` or `\r\n`); a longer one is read to its end, for the line after it, but only counted,
/// so that a 200 MB line costs no more memory than a short one. `package`: the CLI's `ingest`
/// reads its lines by the same rule.
package enum InputLine: Equatable {
    case text(String)
    /// Where the line stops being UTF-8 (a byte offset from 1).
    case invalidUTF8(byte: Int)
    /// The size of a line over the limit, without its line ending.
    case tooLarge(bytes: Int)

    /// A reader keeps at most this many bytes of a line before it only counts them: one more
    /// than the limit, for a `\r` before the `\n`.
    package static let keptBytes = InputLimits.commandBytes + 1

    /// The line whose bytes up to its `\n` (not included) are `kept`, after `dropped` bytes
    /// that were counted instead of kept (`nil`: none).
    package init(kept: ArraySlice<UInt8>, dropped: Int?) {
        let limit = InputLimits.commandBytes
        let carriageReturn = kept.last == UInt8(ascii: "\r")
        if let dropped {
            self = .tooLarge(bytes: dropped + kept.count - (carriageReturn ? 1 : 0))
            return
        }
        let bytes = carriageReturn ? kept.dropLast() : kept
        if bytes.count > limit {
            self = .tooLarge(bytes: bytes.count)
        } else if let text = String(validating: bytes, as: UTF8.self) {
            self = .text(text)
        } else {
            self = .invalidUTF8(byte: firstInvalidUTF8Byte(bytes) ?? 1)
        }
    }

    /// What is wrong with a line that is not text; `nil` for text.
    package var problem: LedgerError? {
        switch self {
        case .text: nil
        case .invalidUTF8(let byte): .invalidInput(reason: "the line is not valid UTF-8 (byte \(byte))")
        case .tooLarge(let bytes): .inputTooLarge(what: "the line", size: bytes, limit: InputLimits.commandBytes)
        }
    }
}
