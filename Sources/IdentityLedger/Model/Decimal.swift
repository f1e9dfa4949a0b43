/// Reads a number as every text input takes one: customer IDs (`show 7`, `merge 1 2`, an
/// `ingest` line's `"into":"7"`), log positions (`--as-of 41`, `log --from 41`) and counts
/// (`--limit 10`). One or more ASCII digits, no sign, no leading zero (`0` itself is a
/// number), at most `UInt64.max`; anything else is `nil`.
///
/// One rule, so that `show +1` or `show 00001` is refused like `--as-of +3` rather than read as
/// 1 (Swift's `UInt64("+1")` takes a sign), and a number is written one way only.
///
/// ```swift
/// parseDecimal("41")  // 41
/// parseDecimal("041") // nil
/// parseDecimal("+41") // nil
/// ```
package func parseDecimal(_ text: String) -> UInt64? {
    let digits = text.utf8
    guard let first = digits.first, digits.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
          first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
    return UInt64(text)
}
