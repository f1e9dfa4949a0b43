import ArgumentParser
import IdentityLedger

struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the customers holding a value (normalized first), with whether it grants access on each.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The value to look up.", valueName: "type=value"))
    var identifier: String

    @OptionGroup var asOf: AsOfOption

    func validate() throws {
        try global.validateStore()
        _ = try ArgumentParsing.identifier(identifier, option: "TYPE=VALUE")
    }

    func run() async throws {
        try await global.run {
            let identifier = try ArgumentParsing.identifier(identifier, option: "TYPE=VALUE")
            let holders = try global.openLedger(create: false).lookup(identifier, asOf: asOf.value)
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
