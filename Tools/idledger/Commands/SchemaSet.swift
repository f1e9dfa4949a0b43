import ArgumentParser
import IdentityLedger

struct SchemaSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Record a new schema from a JSON file.",
        discussion: """
            Fails with schemaConflict when stored data would break the new schema. The file has \
            the shape `schema show --json` prints.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A JSON schema file.", valueName: "file"))
    var file: String

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            // Validated before anything is decided: a bad file is refused before any store is touched.
            let schema = try loadSchema(file)
            let (seq, current) = try await global.lazyLedger().write { ledger throws(LedgerError) in
                (try await ledger.setSchema(schema), try ledger.schema())
            }
            if global.json {
                print(Output.json(SchemaSetOutput(changed: !seq.isEmpty, seq: seq, schema: current)))
            } else {
                print(seq.isEmpty ? "schema unchanged" : "schema recorded (seq \(Rendering.ids(seq)))")
            }
        }
    }
}
