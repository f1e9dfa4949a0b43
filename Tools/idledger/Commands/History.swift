import ArgumentParser
import IdentityLedger

struct History: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Print every event that touched a customer or anything merged into it (JSON Lines with --json).",
        discussion: """
            Merges carry their guard results; manual merges their actor and note. Page through a long \
            history with --limit N, then --after the last position printed.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A customer ID or TYPE=VALUE.", valueName: "customer"))
    var customer: String

    @OptionGroup var asOf: AsOfOption

    @Option(name: .customLong("after"), help: ArgumentHelp("Only events after this log position (the last one of the page before).", valueName: "seq"))
    var afterNumber = Number(0)

    @Option(name: .customLong("limit"), help: ArgumentHelp("At most this many events (default: all).", valueName: "n"))
    var limitNumber: Number?

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
            for event in try asOf.explainingAbsence(of: ref, in: ledger, {
                try ledger.history(ref, asOf: point, after: afterNumber.value, limit: limitNumber.map { Int(clamping: $0.value) } ?? .max)
            }) {
                print(global.json ? Output.json(EventOutput(event)) : Rendering.event(event))
            }
        }
    }
}
