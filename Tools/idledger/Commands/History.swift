import ArgumentParser
import IdentityLedger

struct History: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Print every event that touched a customer or anything merged into it (JSON Lines with --json).",
        discussion: "Merges carry their guard results; manual merges their actor and note.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A customer ID or TYPE=VALUE.", valueName: "customer"))
    var customer: String

    @OptionGroup var asOf: AsOfOption

    var identifierArguments: [String] { [customer] }

    func validate() throws {
        try global.validateStore()
        _ = try ArgumentParsing.customer(customer, argument: "CUSTOMER")
    }

    func run() async throws {
        try await global.run {
            let ref = try ArgumentParsing.customer(customer, argument: "CUSTOMER")
            for event in try global.openLedger().history(ref, asOf: asOf.value) {
                print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
            }
        }
    }
}
