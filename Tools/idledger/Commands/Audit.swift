import ArgumentParser
import IdentityLedger

struct Audit: AsyncParsableCommand {
    enum Report: String, ExpressibleByArgument, CaseIterable {
        case duplicates, config, quality, values
    }

    static let configuration = CommandConfiguration(
        abstract: "Audit duplicates, configuration, integration quality and junk values: why duplicate profiles stay apart.",
        discussion: """
            duplicates: pairs of active customers sharing a contact or soft value, with the guards that \
            keep each pair apart. config: types that block merges on conflict and types that can grant \
            access, and each type's blocked values and value limits. quality: identifiers sent as properties \
            (identifierInProperties) and counts by source. \
            values: stored values set apart as junk, sharedValue (held by at least the type's maxHolders \
            active customers, so no longer a match path) and blockedValue (blocked by the schema now, \
            stored before), each with its number of holders. Without a report name, all four.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "duplicates, config, quality or values (default: all).")
    var report: Report?

    func validate() throws { try global.validateStore() }

    func run() async throws {
        try await global.run {
            let ledger = try global.openLedger()
            let reports = report.map { [$0] } ?? Report.allCases
            var output = AuditOutput()
            for report in reports {
                switch report {
                case .duplicates: output.duplicates = try ledger.auditDuplicates().map(DuplicatePairOutput.init)
                case .config: output.config = ConfigurationOutput(try ledger.auditConfiguration())
                case .quality: output.quality = QualityOutput(try ledger.auditQuality())
                case .values: output.values = try ledger.auditJunkValues().map(JunkValueOutput.init)
                }
            }
            print(global.json ? Output.json(output) : Rendering.audit(output))
        }
    }
}
