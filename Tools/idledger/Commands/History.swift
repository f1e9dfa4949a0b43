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
            let ledger = try global.openLedger()
            try asOf.warnIfPastTheEnd(ledger, json: global.json)
            let point = try asOf.value
            for event in try asOf.explainingAbsence(of: ref, in: ledger, { try ledger.history(ref, asOf: point) }) {
                print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
            }
        }
    }
}
