import ArgumentParser
import Foundation
import IdentityLedger

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the store, while it is in use, into a new or empty directory.",
        discussion: """
            The copy is of one moment: commands committed meanwhile, by any process, are wholly in \
            it or not at all. It holds only the pages in use (no bytes of freed ones), is flushed to \
            disk, and opens as a store of its own (--db DEST). Prints the log position it holds and \
            its size. DEST holding anything is destinationNotEmpty, and nothing is written there.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The directory to copy the store into: new, or empty.", valueName: "dest"))
    var destination: String

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let summary = try global.openLedger().backup(to: destination)
            if global.json {
                print(Output.json(BackupOutput(
                    path: summary.path, position: summary.position, bytes: summary.bytes, seconds: summary.seconds)))
            } else {
                print(String(format: "backed up to %@: log position %llu, %llu bytes (%.2fs)",
                             summary.path, summary.position, summary.bytes, summary.seconds))
            }
        }
    }
}

/// `{"path":…,"position":N,"bytes":N,"seconds":…}`
struct BackupOutput: Encodable {
    var path: String
    var position: UInt64
    var bytes: UInt64
    var seconds: Double
}
