import CFuzzerDriver
@_spi(Fuzzing) import IdentityLedger
import Foundation

/// The log event decoder over arbitrary bytes: it must decode or throw, never trap, and
/// what it decodes must encode back to the same bytes (the encoding is canonical, which
/// is what makes rebuilt projections byte-identical). The customer record decoder gets
/// the same bytes.
func fuzzEventDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks the log position, so `commandSeq` checks see small and large ones.
    let seq = UInt64(bytes.first ?? 1) + 1
    if let event = try? FuzzingEntryPoints.decodeEvent(seq: seq, bytes: Array(bytes.dropFirst())) {
        let encoded = FuzzingEntryPoints.encode(event)
        // Compared as bytes, not as events: a NaN property is not equal to itself.
        let reread = try? FuzzingEntryPoints.decodeEvent(seq: seq, bytes: encoded)
        precondition(reread.map(FuzzingEntryPoints.encode) == encoded, "an event does not survive encode → decode")
    }
    FuzzingEntryPoints.decodeCustomerRecord(bytes)
    return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzEventDecoder))
