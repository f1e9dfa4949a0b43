import CFuzzerDriver
@_spi(Fuzzing) import IdentityLedger
import Foundation

/// The import reader (CSV with header, and JSON Lines) over arbitrary bytes. It reads
/// files, so each input goes through one scratch file (in /dev/shm when there is one).
private let scratch: String = {
    let directory = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(directory)/idledger-fuzz-import-\(getpid())"
}()

func fuzzImportReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard let file = fopen(scratch, "wb") else { return 0 }
    // The first byte picks the format, the rest is the file.
    if size > 1 { fwrite(data + 1, 1, size - 1, file) }
    fclose(file)
    let csv = size == 0 || data[0] & 1 == 0
    _ = FuzzingEntryPoints.readImport(path: scratch, csv: csv)
    return 0
}

var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv, fuzzImportReader))
