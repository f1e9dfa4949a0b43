import ArgumentParser
import IdentityLedger

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every active customer, one per line (JSON Lines with --json), by ID, from one snapshot.")

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let json = global.json
            try global.openLedger().forEachActiveCustomer { customer in
                print(json ? Output.json(CustomerOutput(customer)) : Rendering.customerLine(customer))
            }
        }
    }
}
