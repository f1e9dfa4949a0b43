import ArgumentParser
import Foundation
import IdentityLedger

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the projections aside and compare each with the live one, byte for byte.",
        discussion: """
            Reads one snapshot, so it may run while the store is in use; the scratch copy is \
            written beside the store and removed. First checks every page of the data file. Exits 1 \
            with projectionMismatch (naming the first differing projection and key), corruptEvent \
            (naming the event's position) or corruptStore (naming a damaged page).
            """)

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let ledger = try global.openLedger()
            let report = try ReplayProgressDisplay.showing("verify", json: global.json) { progress throws(LedgerError) in
                try ledger.verify(progress: progress)
            }
            if global.json {
                print(Output.json(VerifyOutput(
                    ok: report.isValid, events: report.events, seconds: report.seconds,
                    mismatch: report.mismatch.map { MismatchOutput(projection: $0.projection, key: $0.key) },
                    digests: report.digests)))
            } else if report.isValid {
                print(String(format: "ok: %llu events, %d projections identical (%.2fs)", report.events, report.digests.count, report.seconds))
            }
            if let mismatch = report.mismatch {
                throw LedgerError.projectionMismatch(projection: mismatch.projection, key: mismatch.key)
            }
        }
    }
}

/// `{"ok":true,"events":N,"seconds":…,"mismatch":null|{"projection":…,"key":…},"digests":{…}}`
struct VerifyOutput: Encodable {
    var ok: Bool
    var events: UInt64
    var seconds: Double
    var mismatch: MismatchOutput?
    var digests: [String: String]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(events, forKey: .events)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(mismatch, forKey: .mismatch) // null when ok, rather than absent
        try container.encode(digests, forKey: .digests)
    }

    enum CodingKeys: String, CodingKey { case ok, events, seconds, mismatch, digests }
}

struct MismatchOutput: Encodable {
    var projection: String
    var key: String
}
