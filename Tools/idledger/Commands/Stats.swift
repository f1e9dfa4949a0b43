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
                print(Self.render(s))
            }
        }
    }

    /// Labels in one column, counts right-aligned in the next, then any remark:
    /// ```
    /// events             7
    ///   identified       4
    /// customers          4  (3 active, 1 merged)
    /// map size          64  MiB (67108864 bytes)
    /// ```
    static func render(_ s: Statistics) -> String {
        var rows: [(label: String, value: String, remark: String)] = [("events", String(s.events), "")]
        rows += s.eventsByKind.keys.sorted().map { ("  " + $0, String(s.eventsByKind[$0]!), "") }
        rows += [
            ("customers", String(s.customers), "(\(s.activeCustomers) active, \(s.mergedCustomers) merged)"),
            ("identifier values", String(s.identifierValues), ""),
            ("access values", String(s.accessValues), ""),
            ("recorded declines", String(s.recordedDeclines), ""),
        ]
        let size = humanSize(s.mapSize)
        rows.append(("map size", size.number, "\(size.unit) (\(s.mapSize) bytes)"))
        let labelWidth = rows.map(\.label.count).max()!, valueWidth = rows.map(\.value.count).max()!
        return rows.map { row in
            let line = row.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: valueWidth - row.value.count) + row.value
            return row.remark.isEmpty ? line : line + "  " + row.remark
        }.joined(separator: "\n")
    }

    /// Bytes in binary units, at most one decimal: `64`/`MiB`, `1.5`/`GiB`, `512`/`bytes`.
    static func humanSize(_ bytes: Int) -> (number: String, unit: String) {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes), index = 0
        while value >= 1024, index < units.count - 1 { value /= 1024; index += 1 }
        let number = index == 0 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.1f", value)
        return (number, units[index])
    }
}
