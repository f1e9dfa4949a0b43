import ArgumentParser
import IdentityLedger

struct Show: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Print a customer's profile.",
        discussion: """
            A merged ID answers its survivor's profile, with resolvedFrom saying when and into whom \
            it was merged. TYPE=VALUE is normalized and must name exactly one customer.
            """)

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
            let profile = try asOf.explainingAbsence(of: ref, in: ledger) { try ledger.customer(ref, asOf: point) }
            print(global.json ? Output.json(CustomerOutput(profile)) : Rendering.customer(profile))
        }
    }
}
