import ArgumentParser
import IdentityLedger

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every active customer, one per line (JSON Lines with --json), by ID, from one snapshot.",
        discussion: "With --as-of, the customers that were active then, as they were then.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var asOf: AsOfOption

    @Option(name: .customLong("limit"), help: ArgumentHelp("At most this many customers, the lowest IDs first (default: all).", valueName: "n"))
    var limitNumber: Number?

    var limit: Int? { limitNumber.map { Int(clamping: $0.value) } }

    func validate() throws {
        try global.validateStore()
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await global.run {
            let json = global.json
            let ledger = try global.openLedger()
            try asOf.warnIfPastTheEnd(ledger, json: global.json)
            try ledger.forEachActiveCustomer(asOf: try asOf.value, limit: limit ?? .max) { customer in
                print(json ? Output.json(CustomerOutput(customer)) : Rendering.customerLine(customer))
            }
        }
    }
}
