import BenchSupport
import Foundation
import IdentityLedger
import LMDB

// Suite 3: single-command durable latency. One task awaits `execute` for one command at a
// time (no other writer, so every command is its own commit and sync), beside a bare
// one-record LMDB commit of the same size, fully durable, in the same run.

let args = Arguments()
let samples = args.int("samples", args.quick ? 300 : 2_000)
let prefill = args.int("prefill", args.quick ? 5_000 : 20_000)
let warmup = 50
let config = WorkloadConfig(customers: args.int("customers", prefill / 2), events: prefill + warmup + samples, seed: UInt64(args.int("seed", 1)))
let scratch = ScratchDirectory("latency")
defer { scratch.remove() }
let all = commands(config)

print("## Single-command durable latency (suite 3)\n")
print("Machine: \(machineSummary()). \(samples) commands after a prefill of \(prefill) events, one at a time, fully durable.")

var engine = Samples()
var eventBytes = 0
do {
    let path = scratch.sub("engine")
    let ledger = try Ledger.open(path: path, options: .init(durability: .full, initialMapSize: 1 << 30))
    try await executeBatches(ledger, all[0..<prefill], batchSize: 10_000)
    for command in all[prefill..<(prefill + warmup)] { _ = try? await ledger.execute(command) }
    progress("engine: \(samples) single commands")
    for command in all[(prefill + warmup)...] {
        let start = now()
        _ = try? await ledger.execute(command)
        engine.add(now() - start)
    }
    let groups = try logByCommand(ledger, path: path)
    let last = groups.suffix(samples)
    eventBytes = last.reduce(0) { $0 + $1.reduce(0) { $0 + $1.value.count } } / max(last.count, 1)
}

// The bare commit: one put of a record the size of a command's events, then commit + sync.
var bare = Samples()
var bareAsync = Samples()
do {
    let env = try openRaw(scratch.sub("raw"))
    let log = try env.database("log")
    let value = [UInt8](repeating: 7, count: eventBytes)
    var key: UInt64 = 0
    func put() throws {
        key += 1
        let k = withUnsafeBytes(of: key.bigEndian) { Array($0) }
        try env.write { txn in try txn.put(log, key: k, value: value, flags: .append) }
    }
    for _ in 0..<warmup { try put() }
    progress("raw: \(samples) one-record commits (synchronous write)")
    for _ in 0..<samples {
        let start = now()
        try put()
        bare.add(now() - start)
    }
    // The same through the async write the engine's path uses (task hop to the writer thread).
    progress("raw: \(samples) one-record commits (async write)")
    for _ in 0..<samples {
        key += 1
        let k = withUnsafeBytes(of: key.bigEndian) { Array($0) }
        let start = now()
        try await env.write { txn in try txn.put(log, key: k, value: value, flags: .append) }
        bareAsync.add(now() - start)
    }
}

// Diagnostic: a raw commit that dirties several B-trees the way a command does (an append
// to a log plus one random-key put in each of three prefilled databases), to show how much
// of the gap is the number of pages a commit writes rather than the engine's CPU.
var spread = Samples()
do {
    let env = try Environment.open(path: scratch.sub("spread"), configuration: .init(
        databases: ["log", "a", "b", "c"].map { .init($0) }, initialMapSize: 1 << 30, durability: .full
    ))
    let dbs = try ["log", "a", "b", "c"].map(env.database)
    var rng = SeededRandom(seed: 7)
    let value = [UInt8](repeating: 7, count: max(eventBytes, 80))
    var seq: UInt64 = 0
    func commit(_ puts: Int) throws {
        // Keys are drawn outside the closure, which runs on the writer thread.
        let appended = (0..<puts).map { _ in seq += 1; return withUnsafeBytes(of: seq.bigEndian) { Array($0) } }
        var random: [[UInt8]] = []
        for _ in 0..<puts * 3 {
            let key = rng.next()
            random.append(withUnsafeBytes(of: key) { Array($0) })
        }
        try env.write { txn in
            for (i, key) in appended.enumerated() {
                try txn.put(dbs[0], key: key, value: value, flags: .append)
                for (j, db) in dbs.dropFirst().enumerated() { try txn.put(db, key: random[3 * i + j], value: value) }
            }
        }
    }
    try commit(prefill)  // trees as deep as the engine's after its prefill
    for _ in 0..<warmup { try commit(1) }
    progress("raw: \(samples) commits touching 4 databases")
    for _ in 0..<samples {
        let start = now()
        try commit(1)
        spread.add(now() - start)
    }
}

let p50 = engine.median / bare.median, p99 = engine.p99 / bare.p99
printTable("Durable latency", [
    ReportRow("engine `execute`, p50", ms(engine.median), baseline: "bare commit p50 \(ms(bare.median))", ratio: ratio(p50), target: "≤ 1.5x: \(verdict(p50 <= 1.5))"),
    ReportRow("engine `execute`, p99", ms(engine.p99), baseline: "bare commit p99 \(ms(bare.p99))", ratio: ratio(p99), target: "≤ 1.5x: \(verdict(p99 <= 1.5))"),
    ReportRow("bare commit via async `write`, p50 / p99", "\(ms(bareAsync.median)) / \(ms(bareAsync.p99))", baseline: "\(eventBytes)-byte record", ratio: ratio(engine.median / bareAsync.median) + " (engine p50 / this p50)"),
    ReportRow("raw commit of 4 puts in 4 databases (append + 3 random keys), p50 / p99", "\(ms(spread.median)) / \(ms(spread.p99))", baseline: "bare commit p50 \(ms(bare.median))", ratio: ratio(spread.median / bare.median) + " (diagnostic: pages per commit)"),
])
