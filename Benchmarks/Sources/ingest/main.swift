import BenchSupport
import Foundation
import IdentityLedger
import LMDB

// Suites 1 and 2: durable ingest with resolution through `execute(batch:)` (batch sizes
// 1, 100, 1000) and through concurrent `execute` (group commit), beside the physical
// limit (raw MDB_APPEND of the very bytes the engine wrote, same batches, durable) and
// beside the SQLite baseline (same workload, same batches, WAL + synchronous=FULL).
// Each configuration starts from a fresh store prefilled (unmeasured) with the first
// `--prefill` events of the workload; the next events are measured.

let args = Arguments()
let quick = args.quick
let iterations = args.int("iterations", quick ? 1 : 3)
let prefill = args.int("prefill", quick ? 5_000 : 20_000)
let customers = args.int("customers", quick ? 5_000 : 20_000)
let tasks = args.int("tasks", 16)
let sizes: [(batch: Int, commands: Int)] = [
    (1, args.int("commands-1", quick ? 300 : 1_000)),
    (100, args.int("commands-100", quick ? 5_000 : 20_000)),
    (1000, args.int("commands-1000", quick ? 10_000 : 50_000)),
]
let concurrentCommands = args.int("commands-concurrent", quick ? 2_000 : 8_000)
let largest = max(sizes.map(\.commands).max()!, concurrentCommands)
let config = WorkloadConfig(customers: customers, events: prefill + largest, seed: UInt64(args.int("seed", 1)))
let scratch = ScratchDirectory("ingest")
defer { scratch.remove() }

// `--profile-commands N`: only the engine, N commands in batches of 1000 without sync, for
// an instruction-count profile (valgrind --tool=callgrind) that machine load cannot skew.
if args.has("profile-commands") {
    let n = args.int("profile-commands", 5_000)
    let all = commands(WorkloadConfig(customers: customers, events: prefill + n, seed: config.seed))
    let ledger = try Ledger.open(path: scratch.sub("profile"), options: .init(durability: .noSync, initialMapSize: 1 << 30))
    try await executeBatches(ledger, all[0..<prefill], batchSize: 10_000)
    let outcomes = try await executeBatches(ledger, all[prefill...], batchSize: 1000)
    print("profile run: \(outcomes)")
    scratch.remove()
    exit(0)
}

progress("generating \(config.events) workload events (\(customers) customers)")
let events = Array(Workload(config))
let allCommands = events.map(\.command)
print("## Ingest (suites 1 and 2)\n")
print("Machine: \(machineSummary()). Workload: seed \(config.seed), \(customers) customers, prefill \(prefill) events, \(iterations) iteration(s), median reported.")

struct Figures {
    var engine = Samples(), raw = Samples(), sqlite = Samples()
    var events = 0
    var engineOutcomes = Outcomes()
    var sqliteOk = 0
    var sqliteErrors: [String: Int] = [:]
    var engineActive = 0
    var sqliteActive: Int64 = 0
}

var rows: [ReportRow] = []
var summary: [(Int, Figures, Int)] = []
for (batch, count) in sizes {
    var figures = Figures()
    let measured = allCommands[prefill..<(prefill + count)]
    for iteration in 0..<iterations {
        let tag = "b\(batch)-\(iteration)"
        // Engine.
        let enginePath = scratch.sub("engine-\(tag)")
        var groups: [[Entry]] = []
        var before = 0
        do {
            let ledger = try Ledger.open(path: enginePath, options: .init(durability: .full, initialMapSize: 1 << 30))
            try await executeBatches(ledger, allCommands[0..<prefill], batchSize: 10_000)
            before = try logCount(path: enginePath)
            progress("engine batch \(batch): \(count) commands")
            var outcomes = Outcomes()
            let seconds = try await time { outcomes = try await executeBatches(ledger, measured, batchSize: batch) }
            figures.engine.add(seconds)
            figures.engineOutcomes = outcomes
            groups = try logByCommand(ledger, path: enginePath)
            figures.events = try logCount(path: enginePath) - before
            var active = 0
            try ledger.forEachActiveCustomer { _ in active += 1 }
            figures.engineActive = active
        }
        try? FileManager.default.removeItem(atPath: enginePath)

        // Raw append of the same bytes: split where the measured commands began.
        let firstMeasured = groups.firstIndex { group in
            group.first.map { Int($0.key.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).bigEndian }) > before } ?? false
        } ?? groups.count
        do {
            let rawPath = scratch.sub("raw-\(tag)")
            let env = try openRaw(rawPath)
            try rawAppend(env, groups[0..<firstMeasured], batchSize: 1_000_000)
            progress("raw batch \(batch): \(groups.count - firstMeasured) command groups")
            figures.raw.add(try time { try rawAppend(env, groups[firstMeasured...], batchSize: batch) })
        }
        try? FileManager.default.removeItem(atPath: scratch.sub("raw-\(tag)"))

        // SQLite.
        do {
            let sqlitePath = scratch.sub("sqlite-\(tag).db")
            let sqlite = try SQLiteBaseline(path: sqlitePath)
            var start = 0
            while start < prefill {
                try sqlite.run(batch: events[start..<min(start + 10_000, prefill)])
                start += 10_000
            }
            progress("sqlite batch \(batch): \(count) commands")
            var ok = 0
            var errors: [String: Int] = [:]
            figures.sqlite.add(try time {
                var start = prefill
                while start < prefill + count {
                    for result in try sqlite.run(batch: events[start..<min(start + batch, prefill + count)]) {
                        switch result {
                        case .success: ok += 1
                        case .failure(let failure): errors[failure.code, default: 0] += 1
                        }
                    }
                    start += batch
                }
            })
            figures.sqliteOk = ok
            figures.sqliteErrors = errors
            figures.sqliteActive = try sqlite.activeCustomers()
        }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch.sub("sqlite-\(tag).db") + suffix) }
    }
    summary.append((batch, figures, count))
    let engine = figures.engine.median, raw = figures.raw.median, sqlite = figures.sqlite.median
    rows.append(ReportRow("engine, batch \(batch) (\(count) commands, \(figures.events) events)",
                          "\(rate(count, engine)) commands, \(rate(figures.events, engine)) events",
                          baseline: "raw append \(rate(figures.events, raw)) events", ratio: ratio(raw / engine), target: "≥ 0.25x: \(verdict(raw / engine >= 0.25))"))
    rows.append(ReportRow("SQLite baseline, batch \(batch)", "\(rate(count, sqlite)) commands",
                          baseline: "engine \(rate(count, engine)) commands", ratio: ratio(sqlite / engine) + " (engine / SQLite)", target: "≥ 3x: \(verdict(sqlite / engine >= 3))"))
}

// Group commit: `tasks` tasks each await their own `execute`, fully durable.
do {
    let path = scratch.sub("engine-concurrent")
    let ledger = try Ledger.open(path: path, options: .init(durability: .full, initialMapSize: 1 << 30))
    try await executeBatches(ledger, allCommands[0..<prefill], batchSize: 10_000)
    let measured = Array(allCommands[prefill..<(prefill + concurrentCommands)])
    let commitsBefore = try commitCount(path: path)
    progress("engine concurrent: \(concurrentCommands) commands from \(tasks) tasks")
    let seconds = try await time {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for index in stride(from: task, to: measured.count, by: tasks) {
                        _ = try? await ledger.execute(measured[index])
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let commits = try commitCount(path: path) - commitsBefore
    let perCommit = Double(concurrentCommands) / Double(max(commits, 1))
    let batch1 = summary.first { $0.0 == 1 }!
    let sequential = Double(batch1.2) / batch1.1.engine.median
    let rawSingle = Double(batch1.2) / batch1.1.raw.median
    rows.append(ReportRow("engine, \(tasks) tasks × `execute` (group commit; \(commits) commits, \(String(format: "%.1f", perCommit)) commands/commit)",
                          "\(rate(concurrentCommands, seconds)) commands",
                          baseline: "sequential batch 1: \(formatCount(sequential))/s; raw 1-command commits: \(formatCount(rawSingle))/s",
                          ratio: ratio(Double(concurrentCommands) / seconds / sequential) + " vs sequential"))
}
try? FileManager.default.removeItem(atPath: scratch.sub("engine-concurrent"))

printTable("Durable ingest with resolution", rows)
print("\nOutcomes of the measured commands (engine vs SQLite baseline, same commands):\n")
for (batch, figures, _) in summary {
    let sqliteErrors = figures.sqliteErrors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    print("- batch \(batch): engine \(figures.engineOutcomes), \(figures.engineActive) active customers; SQLite \(figures.sqliteOk) ok\(sqliteErrors.isEmpty ? "" : ", " + sqliteErrors), \(figures.sqliteActive) active customers")
}
