import ArgumentParser
import IdentityLedger

struct Update: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Write properties to the customer the identifiers point at, without merging.",
        discussion: """
            A null value (--prop plan=null) hides the key. Per key the later occurredAt wins, so \
            a late offline event (--at in the past) does not overwrite newer data.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Option(name: .customLong("id"), help: ArgumentParsing.idHelp)
    var ids: [String] = []

    @Option(name: .customLong("prop"), help: ArgumentParsing.propHelp)
    var props: [String] = []

    @OptionGroup var context: ContextOptions

    var identifierArguments: [String] { ids }

    func validate() throws {
        try global.validateStore()
        guard !ids.isEmpty else { throw ValidationError("update needs at least one --id TYPE=VALUE") }
        guard !props.isEmpty else { throw ValidationError("update needs at least one --prop KEY=JSON") }
        _ = try command()
    }

    func command() throws -> UpdateCommand {
        UpdateCommand(
            identifiers: try ArgumentParsing.identifiers(ids),
            properties: try ArgumentParsing.properties(props), context: try context.context())
    }

    func run() async throws {
        try await global.run {
            let command = try command()
            let result = try await dryRun.run(global.lazyLedger()) { ledger, dryRun throws(LedgerError) in try await ledger.update(command, dryRun: dryRun) }
            print(global.json ? Output.json(ResultOutput(result, includeGuards: false)) : Rendering.result(result))
        }
    }
}
