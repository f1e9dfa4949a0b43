import ArgumentParser
import IdentityLedger

struct Merge: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Merge FROM into INTO on an operator's word. Cannot be undone.",
        discussion: """
            The guards are evaluated and recorded; the merge is performed anyway and marked forced, \
            unless --require-guards is given (then a failing guard is a mergeBlocked error).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Argument(help: ArgumentHelp("The customer that survives (ID or TYPE=VALUE).", valueName: "into"))
    var into: String

    @Argument(help: ArgumentHelp("The customer absorbed (ID or TYPE=VALUE).", valueName: "from"))
    var from: String

    @Option(help: ArgumentHelp("Who decided (recorded in the log).", valueName: "name"))
    var actor: String

    @Option(help: ArgumentHelp("Why (recorded in the log).", valueName: "text"))
    var note: String?

    @Flag(help: "Fail with mergeBlocked instead of forcing the merge when a guard fails.")
    var requireGuards = false

    @OptionGroup var context: ContextOptions

    var identifierArguments: [String] { [into, from] }

    func validate() throws {
        try global.validateStore()
        _ = try command()
    }

    func command() throws -> MergeCommand {
        MergeCommand(
            into: try ArgumentParsing.customer(into, argument: "INTO"),
            from: try ArgumentParsing.customer(from, argument: "FROM"),
            actor: actor, note: note, requireGuards: requireGuards, context: try context.context())
    }

    func run() async throws {
        try await global.run {
            let command = try command()
            let result = try await dryRun.run(global.lazyLedger()) { ledger, dryRun throws(LedgerError) in try await ledger.merge(command, dryRun: dryRun) }
            print(global.json ? Output.json(ResultOutput(result, includeGuards: true)) : Rendering.merge(result))
        }
    }
}
