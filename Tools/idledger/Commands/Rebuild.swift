import ArgumentParser
import Foundation
import IdentityLedger

struct Rebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute every projection from the log, offline, and swap the result in atomically.",
        discussion: """
            The store must be offline: rebuild fails with storeInUse if another process has it open, \
            and while it runs every other command on the store fails with storeInUse. It replays \
            the log into <db>/rebuild-tmp, then moves the new data file over the store's in one \
            rename; a crash at any point leaves a valid store at <db>. \
            Progress is shown on stderr when it is a terminal. See docs/rebuild.md.
            """)

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try global.validateStore()
    }

    func run() async throws {
        try await global.run {
            let path = try global.existingStorePath()
            let options = try global.ledgerOptions()
            let summary = try ReplayProgressDisplay.showing("rebuild", json: global.json) { progress throws(LedgerError) in
                try Ledger.rebuild(path: path, options: options, progress: progress)
            }
            let rate = summary.seconds > 0 ? Double(summary.events) / summary.seconds : 0
            if global.json {
                print(Output.json(RebuildOutput(
                    events: summary.events, seconds: summary.seconds, eventsPerSecond: rate,
                    changedProjections: summary.changedProjections, digests: summary.digests)))
            } else {
                let changed = summary.changedProjections.isEmpty
                    ? "no projection changed" : "changed: " + summary.changedProjections.joined(separator: ", ")
                print(String(format: "rebuilt %llu events in %.2fs (%.0f events/s); %@", summary.events, summary.seconds, rate, changed))
            }
        }
    }
}

/// `{"events":N,"seconds":…,"eventsPerSecond":…,"changedProjections":[…],"digests":{…}}`
struct RebuildOutput: Encodable {
    var events: UInt64
    var seconds: Double
    var eventsPerSecond: Double
    var changedProjections: [String]
    var digests: [String: String]
}
