import ArgumentParser
import IdentityLedger

struct Lookup: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "List the customers holding a value (normalized first), with whether it grants access on each.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The value to look up.", valueName: "type=value"))
    var identifier: String

    @OptionGroup var asOf: AsOfOption

    var identifierArguments: [String] { [identifier] }

    func validate() throws {
        try global.validateStore()
        _ = try ArgumentParsing.identifier(identifier, option: "TYPE=VALUE")
    }

    func run() async throws {
        try await global.run {
            let ledger = try global.openLedger()
            try asOf.warnIfPastTheEnd(ledger, json: global.json)
            // Printed as stored: "0044 20 7946 0958" is looked up, and shown, as +442079460958,
            // by the schema in force at that point (a type may since have been removed).
            let identifier = try ledger.schema(asOf: asOf.value).normalize(try ArgumentParsing.identifier(identifier, option: "TYPE=VALUE"))
            let holders = try ledger.lookup(identifier, asOf: asOf.value)
            if global.json {
                print(Output.json(LookupOutput(
                    type: identifier.type, value: identifier.value,
                    holders: holders.map { LookupOutput.Holder(customer: $0.customer, access: $0.access) })))
            } else if holders.isEmpty {
                print("no customer holds \(identifier)")
            } else {
                for holder in holders { print("customer \(holder.customer)" + (holder.access ? " (access)" : "")) }
            }
        }
    }
}
