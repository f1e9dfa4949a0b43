import BenchSupport
import Foundation
import IdentityLedger
import LMDB

// Suite 4: `Ledger.rebuild` (replay every event through the projector into a fresh
// environment, then swap) beside the raw equivalent: read every log entry and
// MDB_APPEND it into a fresh environment, in the same 10 000-entry transactions,
// without sync until the end, then one sync.

let args = Arguments()
let eventsWanted = args.int("events", args.quick ? 50_000 : 300_000)
let iterations = args.int("iterations", args.quick ? 1 : 3)
let config = WorkloadConfig(customers: args.int("customers", eventsWanted / 10), events: eventsWanted, seed: UInt64(args.int("seed", 1)))
let scratch = ScratchDirectory("rebuild")
defer { scratch.remove() }
let store = scratch.sub("store")

progress("building a store of \(eventsWanted) commands")
do {
    let ledger = try Ledger.open(path: store, options: .init(durability: .noSync, initialMapSize: 1 << 30))
    try await executeBatches(ledger, commands(config)[...], batchSize: 10_000)
}
let events = try { () throws -> Int in
    let ledger = try Ledger.open(path: store)
    return try logCount(path: store)
}()

print("## Rebuild (suite 4)\n")
print("Machine: \(machineSummary()). Store: \(events) events (\(eventsWanted) workload commands), \(directorySize(store) >> 20) MiB; \(iterations) iteration(s), median reported.")

var rebuild = Samples()
var replayOnly = Samples()
var raw = Samples()
for iteration in 0..<iterations {
    progress("rebuild \(iteration + 1)/\(iterations)")
    rebuild.add(try time { try Ledger.rebuild(path: store) })

    // The replay alone (no digests, no swap), as `replayLog(into:)` does it.
    let replayPath = scratch.sub("replay-\(iteration)")
    do {
        let ledger = try Ledger.open(path: store)
        replayOnly.add(try time { try ledger.replayLog(into: replayPath) })
    }
    try? FileManager.default.removeItem(atPath: replayPath)

    progress("raw scan + append \(iteration + 1)/\(iterations)")
    let rawPath = scratch.sub("raw-\(iteration)")
    raw.add(try time {
        let source = try Environment.open(path: store, configuration: .init(databases: [.init("log")]))
        let target = try openRaw(rawPath, durability: .noSync)
        let sourceLog = try source.database("log")
        let targetLog = try target.database("log")
        try source.read { txn in
            var batch: [Entry] = []
            batch.reserveCapacity(10_000)
            func flush() throws {
                try target.write { out in
                    for entry in batch { try out.put(targetLog, key: entry.key, value: entry.value, flags: .append) }
                }
                batch.removeAll(keepingCapacity: true)
            }
            try txn.forEach(sourceLog, prefix: []) { entry in
                batch.append(entry)
                if batch.count == 10_000 { try flush() }
                return true
            }
            try flush()
        }
        try target.sync()
    })
    try? FileManager.default.removeItem(atPath: rawPath)
}

let r = raw.median / rebuild.median
let q = raw.median / replayOnly.median
printTable("Rebuild throughput", [
    ReportRow("`Ledger.rebuild` (replay + comparison with the live projections + digests + swap)", rate(events, rebuild.median) + " events",
              baseline: "raw scan + append \(rate(events, raw.median)) events", ratio: ratio(r), target: "≥ 0.5x: \(verdict(r >= 0.5))"),
    ReportRow("`replayLog(into:)` (replay only)", rate(events, replayOnly.median) + " events",
              baseline: "raw scan + append \(rate(events, raw.median)) events", ratio: ratio(q)),
])
