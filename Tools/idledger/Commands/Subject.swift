import ArgumentParser
import IdentityLedger

struct Subject: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Print everything held on a customer as one JSON document, for a person's request to see or take their data.",
        discussion: """
            The profile the customer belongs to now: every customer merged into it (with when it was \
            created and the merge that absorbed it), the identifiers and properties it holds (with since \
            when and which write), and its full history as history --json writes it; all read at one \
            position of the log (asOfSeq). JSON with or without --json.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A customer ID or TYPE=VALUE.", valueName: "customer"))
    var customer: String

    var identifierArguments: [String] { [customer] }

    func validate() throws {
        try global.validateStore()
        _ = try ArgumentParsing.customer(customer, argument: "CUSTOMER")
    }

    func run() async throws {
        try await global.run {
            let ref = try ArgumentParsing.customer(customer, argument: "CUSTOMER")
            print(Output.json(try global.openLedger().subject(ref)))
        }
    }
}
