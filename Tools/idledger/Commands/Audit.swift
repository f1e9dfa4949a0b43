import ArgumentParser
import IdentityLedger

struct Audit: AsyncParsableCommand {
    enum Report: String, ExpressibleByArgument, CaseIterable {
        case duplicates, config, quality
    }

    static let configuration = CommandConfiguration(
        abstract: "Audit duplicates, configuration and integration quality: why duplicate profiles stay apart.",
        discussion: """
            duplicates: pairs of active customers sharing a contact or soft value, with the guards that \
            keep each pair apart. config: types that block merges on conflict and types that can grant \
            access. quality: identifiers sent as properties (identifierInProperties) and counts by source. \
            Without a report name, all three.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "duplicates, config or quality (default: all).")
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
                }
            }
            print(global.json ? Output.json(output) : Rendering.audit(output))
        }
    }
}
