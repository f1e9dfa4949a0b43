import BenchSupport
import Foundation

// Prints the seeded workload as `idledger ingest` JSON Lines, or with `--csv ROWS` writes
// an import CSV. The suites use the same generator in-process (BenchSupport/Workload.swift).
//   workload --customers 10000 --events 100000 --seed 1 > w.jsonl
//   workload --csv 100000 --seed 1 --out rows.csv
let args = Arguments()
let seed = UInt64(args.int("seed", 1))
if args.has("csv") {
    let out = args.string("out", "import.csv")
    try writeImportCSV(rows: args.int("csv", 100_000), seed: seed, to: out)
    FileHandle.standardError.write(Data("wrote \(out)\n".utf8))
} else {
    let config = WorkloadConfig(customers: args.int("customers", 10_000), events: args.int("events", 100_000), seed: seed)
    var buffer = ""
    buffer.reserveCapacity(1 << 20)
    for event in Workload(config) {
        buffer += event.jsonLine
        buffer += "\n"
        if buffer.utf8.count >= 1 << 20 {
            FileHandle.standardOutput.write(Data(buffer.utf8))
            buffer.removeAll(keepingCapacity: true)
        }
    }
    FileHandle.standardOutput.write(Data(buffer.utf8))
}
