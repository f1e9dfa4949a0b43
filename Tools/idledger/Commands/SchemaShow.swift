import ArgumentParser
import IdentityLedger

struct SchemaShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the schema in force, in priority order (as JSON, the format `schema set` reads).")

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let schema = try global.openLedger().schema()
            print(global.json ? Output.json(schema) : Rendering.schema(schema))
        }
    }
}
