import ArgumentParser
import IdentityLedger

struct Identify: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Identify a customer by trusted identifiers, merging where every guard passes.",
        discussion: """
            Example: idledger identify --id email=ann@example.com --id cookie=c1 --access email --prop name='"Ann"'
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Option(name: .customLong("id"), help: ArgumentParsing.idHelp)
    var ids: [String] = []

    @Option(help: ArgumentHelp(
        "A type whose values in this command grant access to the account (repeatable).", valueName: "type"))
    var access: [String] = []

    @Option(name: .customLong("prop"), help: ArgumentParsing.propHelp)
    var props: [String] = []

    @OptionGroup var context: ContextOptions

    var identifierArguments: [String] { ids }

    func validate() throws {
        try global.validateStore()
        guard !ids.isEmpty else { throw ValidationError("identify needs at least one --id TYPE=VALUE") }
        _ = try command()
    }

    func command() throws -> IdentifyCommand {
        IdentifyCommand(
            identifiers: try ArgumentParsing.identifiers(ids), access: access,
            properties: try ArgumentParsing.properties(props), context: try context.context())
    }

    func run() async throws {
        try await global.run {
            let command = try command()
            let result = try await dryRun.run(global.lazyLedger()) { ledger, dryRun throws(LedgerError) in try await ledger.identify(command, dryRun: dryRun) }
            print(global.json ? Output.json(ResultOutput(result, includeGuards: false)) : Rendering.result(result))
        }
    }
}
