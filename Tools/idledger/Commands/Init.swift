import ArgumentParser
import Foundation
import IdentityLedger

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open or create a store, optionally recording a schema.",
        discussion: """
            Without --schema a new store gets the default schema with its first write. The schema \
            file is JSON: {"types":[{"name":"email","kind":"contact","normalize":"email","canGrantAccess":true}, …]}; \
            kind is unique, contact or soft; normalize is exact (default), lowercase, email or phone; \
            blockMergeOnConflict, canGrantAccess, defaultCallingCode and maxHolders (contact and soft: a value \
            held by this many customers stops matching; default 20, 0 = no cutoff), blockedValues (normalized \
            values that are dropped with a warning, e.g. ["test@test.com"]), blockedPatterns (regular \
            expressions over the whole normalized value, e.g. ["0+"]) and maxValues (unique and contact: an \
            automatic merge past this many values of the type is declined by valueLimit; soft: a customer \
            keeps this many, an identify or import row releases the least recently presented) are optional; any \
            other key is an error.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("A JSON schema file to record.", valueName: "file"))
    var schema: String?

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let path = global.storePath!
            let existed = LazyLedger.storeExists(at: path)
            // Read and validated before the store is opened, which creates it: a refused
            // schema must leave nothing behind.
            let newSchema = try schema.map(loadSchema)
            // `init` is for creating the store: `Ledger.open` creates it.
            let ledger = try Ledger.open(path: path, options: try global.ledgerOptions())
            var seq: [UInt64] = []
            if let newSchema { seq = try await ledger.setSchema(newSchema) }
            let current = try ledger.schema()
            if global.json {
                print(Output.json(InitOutput(db: path, created: !existed, seq: seq.last, schema: current)))
            } else {
                print((existed ? "opened " : "created ") + path + (seq.isEmpty ? "" : " (schema recorded, seq \(Rendering.ids(seq)))"))
                print(Rendering.schema(current))
            }
        }
    }
}
