import BenchSupport
import Foundation
import IdentityLedger
import LMDB

// Suite 5: as-of latency (`customer(asOf:)`, `lookup(asOf:)` at random log positions) at
// 100k, 1M and 10M events, twice: at random positions of each store (the customers asked
// about grow with the stream), and the smallest store's questions asked again in every
// store (same answers, so only the store size differs). One growing store is built from
// one workload stream with `execute(batch:)` in 10 000-command batches under `.noSync`
// (setup, unmeasured) and measured as it passes each size. Stores are cached between runs under
// `$BENCH_CACHE` (default /tmp/idledger-bench-cache); `--no-cache 1` rebuilds them.

let args = Arguments()
let sizes = args.string("sizes", args.quick ? "10000,100000" : "100000,1000000,10000000").split(separator: ",").compactMap { Int($0) }
let queries = args.int("queries", args.quick ? 500 : 2_000)
let seed = UInt64(args.int("seed", 1))
let largest = sizes.max()!
// About one customer per ten events, as in the other suites.
let config = WorkloadConfig(customers: args.int("customers", largest / 10), events: largest + largest / 10, seed: seed)
let cacheRoot = ProcessInfo.processInfo.environment["BENCH_CACHE"] ?? "/tmp/idledger-bench-cache"
let useCache = args.int("no-cache", 0) == 0
let scratch = ScratchDirectory("asof")
defer { scratch.remove() }
let fm = FileManager.default

print("## As-of latency (suite 5)\n")
print("Machine: \(machineSummary()). Workload seed \(seed), \(config.customers) customers over the stream; \(queries) queries per figure at random log positions (seeded), each timed alone.")

struct Result {
    var size: Int
    var customer: Samples
    var lookup: Samples
    /// The same queries again: the map's pages are then in this process's page table.
    var customerAgain: Samples
    var lookupAgain: Samples
    /// Mean identifiers held by the customers queried (what a read decodes).
    var identifiers: Double
    var bytes: Int
    var built: Double?
    /// The first size's questions asked again in this store (first pass, repeat pass).
    var same: Samples
    var sameAgain: Samples
    /// Mean `holdings` entries of the customers of the same questions: stored, and stepped
    /// through by a read as of the asked position.
    var sameHoldings: (stored: Double, scanned: Double)
}
var results: [Result] = []
// The questions of the smallest store, asked again in every larger one. The stores are one
// growing stream, so the answers are the same; only the store around them grows.
var sameTargets: [(position: UInt64, customer: CustomerID, identifier: Identifier)] = []
struct Answer: Equatable {
    var customer: Customer?
    var holders: [String]?
}
var sameAnswers: [Answer] = []
var workload = Workload(config)
var consumed = 0
var working: String? = nil
// Bump the version when the workload or the store format changes: a cached store holds an
// older stream (v5: store format 2; v6: store format 3).
let cacheKey = "asof-v6-s\(seed)-c\(config.customers)"

func markerPath(_ dir: String) -> String { (dir as NSString).appendingPathComponent("commands-consumed") }

/// The marker holds how many commands a cached store consumed and which build of the
/// stream it belongs to: stores built at different times carry different event times, so
/// a larger store is used only with smaller ones of its own build ("" for markers older
/// than this rule).
func readMarker(_ dir: String) -> (consumed: Int, build: String)? {
    guard let text = try? String(contentsOfFile: markerPath(dir), encoding: .utf8) else { return nil }
    let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
    guard let consumed = parts.first.flatMap({ Int($0) }) else { return nil }
    return (consumed, parts.count > 1 ? parts[1] : "")
}
var build: String? = nil

for size in sizes.sorted() {
    let cached = (cacheRoot as NSString).appendingPathComponent("\(cacheKey)-\(size)")
    let path: String
    var buildSeconds: Double? = nil
    if useCache, let (n, cachedBuild) = readMarker(cached), build == nil || build == cachedBuild {
        build = cachedBuild
        progress("using cached store \(cached)")
        path = cached
        // Later sizes continue the same stream from where this store stopped.
        workload = Workload(config)
        for _ in 0..<n { _ = workload.next() }
        consumed = n
    } else {
        let target = useCache ? cached : scratch.sub("store-\(size)")
        try? fm.removeItem(atPath: target)
        try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if let working { try fm.copyItem(atPath: working, toPath: target) }
        progress("building \(size) events into \(target) (from \(consumed) commands)")
        let start = now()
        do {
            // A cached store of an older store format is upgraded (a rebuild: same events).
            let ledger = try Ledger.open(path: target, options: .init(durability: .noSync, initialMapSize: 1 << 32, upgrade: true))
            var events = (try? logCount(path: target)) ?? 0
            while events < size {
                var chunk: [Command] = []
                chunk.reserveCapacity(10_000)
                while chunk.count < 10_000, let event = workload.next() { chunk.append(event.command) }
                guard !chunk.isEmpty else { break }
                try await executeBatches(ledger, chunk[...], batchSize: chunk.count)
                consumed += chunk.count
                events = try logCount(path: target)
                if consumed % 500_000 < 10_000 { progress("  \(events) events") }
            }
        }
        buildSeconds = now() - start
        if build == nil { build = UUID().uuidString }
        try "\(consumed) \(build!)".write(toFile: markerPath(target), atomically: true, encoding: .utf8)
        path = target
    }
    working = path

    let ledger = try Ledger.open(path: path, options: .init(initialMapSize: 1 << 32, upgrade: true))
    let events = try logCount(path: path)
    // Query targets, outside the measured region: an `identified` event at a random position
    // gives a customer and a value that exist as of that position.
    var rng = SeededRandom(seed: seed &+ UInt64(size))
    var targets: [(position: UInt64, customer: CustomerID, identifier: Identifier)] = []
    while targets.count < queries {
        let position = UInt64(1 + rng.below(events))
        guard let event = try ledger.events(from: position, limit: 1).first,
              case .identified(let customer, _, let identifiers, _, _, _) = event.body, let first = identifiers.first else { continue }
        targets.append((position, customer, first.identifier))
    }
    for target in targets.prefix(100) { _ = try? ledger.customer(.id(target.customer), asOf: .seq(target.position)) }
    progress("measuring \(queries) customer(asOf:) and lookup(asOf:) at \(events) events")
    func pass() -> (Samples, Samples) {
        var customer = Samples(), lookup = Samples()
        for target in targets {
            let start = now()
            _ = try? ledger.customer(.id(target.customer), asOf: .seq(target.position))
            customer.add(now() - start)
        }
        for target in targets {
            let start = now()
            _ = try? ledger.lookup(target.identifier, asOf: .seq(target.position))
            lookup.add(now() - start)
        }
        return (customer, lookup)
    }
    let (customer, lookup) = pass()
    let (customerAgain, lookupAgain) = pass()
    if sameTargets.isEmpty { sameTargets = targets }
    // One figure per question: `customer(asOf:)` then `lookup(asOf:)`, after the passes above.
    func samePass() -> (Samples, [Answer]) {
        var samples = Samples(), answers: [Answer] = []
        for target in sameTargets {
            let start = now()
            let found = try? ledger.customer(.id(target.customer), asOf: .seq(target.position))
            let holders = try? ledger.lookup(target.identifier, asOf: .seq(target.position))
            samples.add(now() - start)
            answers.append(Answer(customer: found, holders: holders?.map { "\($0.customer):\($0.access)" }))
        }
        return (samples, answers)
    }
    progress("asking the \(sameTargets.count) questions of the smallest store")
    let (same, answers) = samePass()
    let (sameAgain, _) = samePass()
    if sameAnswers.isEmpty { sameAnswers = answers }
    guard answers == sameAnswers else {
        fatalError("the smallest store's questions got different answers at \(events) events: the cached stores are not one stream")
    }
    let held = targets.reduce(0) { $0 + ((try? ledger.customer(.id($1.customer), asOf: .seq($1.position)))?.identifiers.count ?? 0) }
    // Diagnostic: the `holdings` entries of the customers asked about (the ledger's open
    // environment is handed back), all of them and those a read as of the asked position
    // steps through: keys are customer ID, then the position where the holding began.
    let env = try Environment.open(path: path, configuration: .init(databases: [.init("holdings")]))
    let holdings = try env.database("holdings")
    let (stored, scanned) = try env.read { txn in
        var stored = 0, scanned = 0
        for target in sameTargets {
            try txn.forEachInPlace(holdings, prefix: withUnsafeBytes(of: target.customer.bigEndian) { Array($0) }) { key, _ in
                stored += 1
                if UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) <= target.position { scanned += 1 }
                return true
            }
        }
        return (stored, scanned)
    }
    results.append(Result(size: events, customer: customer, lookup: lookup, customerAgain: customerAgain, lookupAgain: lookupAgain,
                          identifiers: Double(held) / Double(targets.count), bytes: directorySize(path), built: buildSeconds,
                          same: same, sameAgain: sameAgain,
                          sameHoldings: (Double(stored) / Double(sameTargets.count), Double(scanned) / Double(sameTargets.count))))
}

var rows: [ReportRow] = []
let base = results.first!
for result in results {
    let c = result.customer.median / base.customer.median
    let l = result.lookup.median / base.lookup.median
    let isLargest = result.size == results.last!.size && results.count > 1
    let store = "\(formatCount(Double(result.size))) events, \(result.bytes >> 20) MiB, \(String(format: "%.1f", result.identifiers)) identifiers per customer read" + (result.built.map { String(format: ", built in %.0f s", $0) } ?? ", cached")
    rows.append(ReportRow("`customer(asOf:)` p50 / p99 — \(store)", "\(ms(result.customer.median)) / \(ms(result.customer.p99))",
                          baseline: "\(formatCount(Double(base.size))) events: \(ms(base.customer.median))", ratio: ratio(c),
                          target: isLargest ? "≤ 1.5x: \(verdict(c <= 1.5))" : ""))
    rows.append(ReportRow("`lookup(asOf:)` p50 / p99 — \(formatCount(Double(result.size))) events", "\(ms(result.lookup.median)) / \(ms(result.lookup.p99))",
                          baseline: "\(formatCount(Double(base.size))) events: \(ms(base.lookup.median))", ratio: ratio(l),
                          target: isLargest ? "≤ 1.5x: \(verdict(l <= 1.5))" : ""))
}
for result in results {
    let c = result.customerAgain.median / base.customerAgain.median
    let l = result.lookupAgain.median / base.lookupAgain.median
    rows.append(ReportRow("repeat pass (pages mapped) — \(formatCount(Double(result.size))) events: `customer` / `lookup` p50",
                          "\(ms(result.customerAgain.median)) / \(ms(result.lookupAgain.median))",
                          baseline: "\(formatCount(Double(base.size))) events: \(ms(base.customerAgain.median)) / \(ms(base.lookupAgain.median))",
                          ratio: "\(ratio(c)) / \(ratio(l))"))
}
for result in results {
    let first = result.same.median / base.same.median
    let again = result.sameAgain.median / base.sameAgain.median
    let isLargest = result.size == results.last!.size && results.count > 1
    rows.append(ReportRow("same questions (the \(formatCount(Double(base.size)))-event store's, same answers; the customer has \(String(format: "%.1f", result.sameHoldings.stored)) `holdings` entries, a read steps through \(String(format: "%.1f", result.sameHoldings.scanned))), `customer` + `lookup` p50, first / repeat pass — \(formatCount(Double(result.size))) events",
                          "\(ms(result.same.median)) / \(ms(result.sameAgain.median))",
                          baseline: "\(formatCount(Double(base.size))) events: \(ms(base.same.median)) / \(ms(base.sameAgain.median))",
                          ratio: "\(ratio(first)) / \(ratio(again))",
                          target: isLargest ? "≤ 1.5x: \(verdict(first <= 1.5)) / \(verdict(again <= 1.5))" : ""))
}
printTable("As-of latency by store size", rows)
