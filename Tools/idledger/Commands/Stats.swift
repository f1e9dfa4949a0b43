import ArgumentParser
import IdentityLedger

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print counts of events, customers and index entries.")

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let s = try global.openLedger().statistics()
            if global.json {
                print(Output.json(StatsOutput(s)))
            } else {
                print("events            \(s.events)")
                for kind in s.eventsByKind.keys.sorted() { print("  \(kind)  \(s.eventsByKind[kind]!)") }
                print("customers         \(s.customers) (\(s.activeCustomers) active, \(s.mergedCustomers) merged)")
                print("identifier values \(s.identifierValues)")
                print("access values     \(s.accessValues)")
                print("recorded declines \(s.recordedDeclines)")
                print("map size          \(s.mapSize)")
            }
        }
    }
}
