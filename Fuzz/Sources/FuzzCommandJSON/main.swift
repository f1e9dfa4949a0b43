import CFuzzerDriver
import Foundation
import IdentityLedger

/// `Command(jsonLine:)` over arbitrary bytes: any input must parse or throw a `LedgerError`.
func fuzzCommandJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let line = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Command(jsonLine: line)
    return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzCommandJSON))
