import ArgumentParser
import Foundation
import IdentityLedger

struct Upgrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upgrade a store written in an older store format to this version's.",
        discussion: """
            Every other command refuses a store of an older format with upgradeRequired and leaves \
            it as it is. upgrade rebuilds it (as rebuild does: offline, storeInUse if another process \
            has it open), keeping the log, so every position and outcome stays; a store already in \
            this version's format is left as it is. Progress is shown on stderr when it is a terminal.
            """)

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let path = try global.existingStorePath()
            let options = try global.ledgerOptions()
            let summary = try ReplayProgressDisplay.showing("upgrade", json: global.json) { progress throws(LedgerError) in
                try Ledger.upgrade(path: path, options: options, progress: progress)
            }
            if global.json {
                print(Output.json(UpgradeOutput(
                    upgraded: summary.rebuild != nil, from: summary.found, format: summary.format,
                    events: summary.rebuild?.events, seconds: summary.rebuild?.seconds)))
            } else if let rebuild = summary.rebuild {
                print(String(format: "upgraded from format %d to %d: %llu events replayed in %.2fs",
                             summary.found, summary.format, rebuild.events, rebuild.seconds))
            } else {
                print("already at format \(summary.format)")
            }
        }
    }
}

/// `{"upgraded":true,"from":1,"format":4,"events":N,"seconds":…}`; `events` and `seconds`
/// are null when the store was already in the current format.
struct UpgradeOutput: Encodable {
    var upgraded: Bool
    var from: Int
    var format: Int
    var events: UInt64?
    var seconds: Double?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(upgraded, forKey: .upgraded)
        try container.encode(from, forKey: .from)
        try container.encode(format, forKey: .format)
        try container.encode(events, forKey: .events) // null rather than absent
        try container.encode(seconds, forKey: .seconds)
    }

    enum CodingKeys: String, CodingKey { case upgraded, from, format, events, seconds }
}
