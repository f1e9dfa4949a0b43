import ArgumentParser
import IdentityLedger

struct Detach: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Remove one identifier from a customer, or with --access-only only its access flag.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var dryRun: DryRunOption

    @Argument(help: ArgumentHelp("The customer (ID or TYPE=VALUE; a merged ID resolves to its survivor).", valueName: "customer"))
    var customer: String

    @Argument(help: ArgumentHelp("The identifier to remove, TYPE=VALUE.", valueName: "type=value"))
    var identifier: String

    @Option(help: ArgumentHelp("Who decided (recorded in the log).", valueName: "name"))
    var actor: String

    @Option(help: ArgumentHelp("Why (recorded in the log).", valueName: "text"))
    var note: String?

    @Flag(help: "Only clear the access flag (revoke a credential), keeping the value.")
    var accessOnly = false

    @OptionGroup var context: ContextOptions

    var identifierArguments: [String] { [customer, identifier] }

    func validate() throws {
        try global.validateStore()
        _ = try command()
    }

    func command() throws -> DetachCommand {
        DetachCommand(
            customer: try ArgumentParsing.customer(customer, argument: "CUSTOMER"),
            identifier: try ArgumentParsing.identifier(identifier, option: "TYPE=VALUE"),
            actor: actor, note: note, accessOnly: accessOnly, context: try context.context())
    }

    func run() async throws {
        try await global.run {
            let command = try command()
            // Echoed as the engine matched it: `phone=0044 20 7946 0958` detaches `phone=+442079460958`.
            let (result, detached) = try await dryRun.run(global.lazyLedger()) { ledger, dryRun throws(LedgerError) in
                (try await ledger.detach(command, dryRun: dryRun), try ledger.schema().normalize(command.identifier))
            }
            if global.json {
                print(Output.json(ResultOutput(result, includeGuards: false)))
            } else {
                print("customer \(result.customer): " + (accessOnly ? "cleared the access flag of " : "detached ")
                    + detached.description + (result.seq.isEmpty ? " (nothing written)" : ""))
            }
        }
    }
}
