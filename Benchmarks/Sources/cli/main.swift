import BenchSupport
import Foundation
import IdentityLedger

// Suite 7: `idledger ingest` of the workload's JSON Lines (a child process, from spawn to
// exit) beside the library running the same commands in-process with `execute(batch:)`
// in batches of 64, the most lines ingest commits together: what the command line costs
// on top of the engine (reading, parsing, printing a result per line). Durable and nosync.
// The executable is `IDLEDGER_BIN`, by default the main package's release build, which
// `Benchmarks/run.sh` builds first.

let args = Arguments()
let lines = args.int("lines", args.quick ? 5_000 : 20_000)
let iterations = args.int("iterations", args.quick ? 1 : 3)
let executable = ProcessInfo.processInfo.environment["IDLEDGER_BIN"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent() // Benchmarks/Sources/cli
        .appendingPathComponent("../../../.build/release/idledger").standardized.path
guard FileManager.default.isExecutableFile(atPath: executable) else {
    print("idledger not found at \(executable): build it with `swift build -c release --product idledger` or set IDLEDGER_BIN")
    exit(1)
}
let scratch = ScratchDirectory("cli")
defer { scratch.remove() }

let events = Array(Workload(WorkloadConfig(customers: lines / 10, events: lines, seed: UInt64(args.int("seed", 1)))))
let commands = events.map(\.command)
let file = scratch.sub("workload.jsonl")
try (events.map(\.jsonLine).joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)

print("## Command-line ingest (suite 7)\n")
print("Machine: \(machineSummary()). \(lines) workload lines (seed 1); \(iterations) iteration(s), median reported; `idledger` at \(executable).")

var rows: [ReportRow] = []
for durable in [true, false] {
    var library = Samples(), cli = Samples()
    var events = (library: 0, cli: 0)
    for iteration in 0..<iterations {
        progress("\(durable ? "durable" : "nosync") \(iteration + 1)/\(iterations): library")
        let libraryStore = scratch.sub("library-\(durable)-\(iteration)")
        do {
            let ledger = try Ledger.open(path: libraryStore, options: .init(durability: durable ? .full : .noSync))
            library.add(try await time { try await executeBatches(ledger, commands[...], batchSize: 64) })
        }
        events.library = try logCount(path: libraryStore)

        progress("\(durable ? "durable" : "nosync") \(iteration + 1)/\(iterations): idledger ingest")
        let cliStore = scratch.sub("cli-\(durable)-\(iteration)")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["ingest", file, "--json", "--db", cliStore]
        child.environment = ProcessInfo.processInfo.environment.merging(["IDLEDGER_DURABILITY": durable ? "full" : "nosync"]) { _, new in new }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        cli.add(try time {
            try child.run()
            child.waitUntilExit()
        })
        events.cli = try logCount(path: cliStore)
        try? FileManager.default.removeItem(atPath: libraryStore)
        try? FileManager.default.removeItem(atPath: cliStore)
    }
    // The same commands give the same log, apart from times.
    guard events.library == events.cli else {
        print("the CLI wrote \(events.cli) events, the library \(events.library): not the same work")
        exit(1)
    }
    rows.append(ReportRow("`idledger ingest`, \(durable ? "durable" : "nosync") (\(events.cli) events)", rate(lines, cli.median) + " lines",
                          baseline: "library `execute(batch:)` of 64: \(rate(lines, library.median)) commands",
                          ratio: ratio(library.median / cli.median)))
}
printTable("Command-line ingest beside the library", rows)
