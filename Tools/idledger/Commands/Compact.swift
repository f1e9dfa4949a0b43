import ArgumentParser
import Foundation
import IdentityLedger

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the data file without its free pages, offline, and swap it in atomically.",
        discussion: """
            The store must be offline, as for rebuild: compact fails with storeInUse if another \
            process has it open, and while it runs every other command on the store fails with \
            storeInUse. It copies the pages in use into <db>/rebuild-tmp, then moves the copy over \
            the store's data file in one rename; a crash at any point leaves a valid store at <db>. \
            The log and the projections are unchanged; the bytes that free pages still held are gone.
            """)

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let summary = try Ledger.compact(path: try global.existingStorePath(), options: try global.ledgerOptions())
            if global.json {
                print(Output.json(CompactOutput(bytesBefore: summary.bytesBefore, bytesAfter: summary.bytesAfter, seconds: summary.seconds)))
            } else {
                print(String(format: "compacted from %llu to %llu bytes (%.2fs)", summary.bytesBefore, summary.bytesAfter, summary.seconds))
            }
        }
    }
}

/// `{"bytesBefore":N,"bytesAfter":N,"seconds":…}`
struct CompactOutput: Encodable {
    var bytesBefore: UInt64
    var bytesAfter: UInt64
    var seconds: Double
}
