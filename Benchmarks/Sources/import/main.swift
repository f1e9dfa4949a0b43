import BenchSupport
import Foundation
import IdentityLedger

// Suite 6: `importFile` rows/s and peak memory for generated CSVs of 100k and 1M rows
// (matched by external_id, fully durable, 1000-row commits). Each import runs in a child
// process of this executable, so its peak RSS (VmHWM) is its own; the CSV is generated
// by the parent beforehand (unmeasured).

let args = Arguments()
let scratch = ScratchDirectory("import")

if args.has("child") {
    let csv = args.string("child", "")
    let store = args.string("store", "")
    let rssBefore = currentRSS()
    let ledger = try Ledger.open(path: store, options: .init(durability: .full, initialMapSize: 1 << 30))
    var summary: ImportSummary?
    let seconds = try await time { summary = try await ledger.importFile(at: csv, matchBy: "external_id", errors: "/dev/null") }
    let s = summary!
    print("{\"seconds\":\(seconds),\"rows\":\(s.rows),\"created\":\(s.created),\"updated\":\(s.updated),\"rejected\":\(s.rejected),\"peak\":\(peakRSS()),\"before\":\(rssBefore),\"anon\":\(currentAnonRSS()),\"file\":\(currentFileRSS())}")
    exit(0)
}
defer { scratch.remove() }

let sizes = args.string("rows", args.quick ? "20000,100000" : "100000,1000000").split(separator: ",").compactMap { Int($0) }
print("## Import (suite 6)\n")
print("Machine: \(machineSummary()). CSV from `workload --csv ROWS` (seed 1): external_id, email (access), phone, discount_card, name, city, at; ~2% updates, ~0.5% rejected rows, ~0.5% each the junk email test@test.com (not access) and the shop's phone.")

var rows: [ReportRow] = []
for size in sizes {
    let csv = scratch.sub("rows-\(size).csv")
    progress("writing a \(size)-row CSV")
    try writeImportCSV(rows: size, seed: UInt64(args.int("seed", 1)), to: csv)
    let bytes = (try FileManager.default.attributesOfItem(atPath: csv)[.size] as? NSNumber)?.intValue ?? 0
    progress("importing \(size) rows in a child process")
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = ["--child", csv, "--store", scratch.sub("store-\(size)")]
    let pipe = Pipe()
    child.standardOutput = pipe
    try child.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    child.waitUntilExit()
    guard let object = try JSONSerialization.jsonObject(with: output) as? [String: Any],
          let seconds = object["seconds"] as? Double, let peak = object["peak"] as? Int, let before = object["before"] as? Int else {
        print("import of \(size) rows failed: \(String(decoding: output, as: UTF8.self))")
        continue
    }
    let anon = object["anon"] as? Int ?? 0, file = object["file"] as? Int ?? 0
    let created = object["created"] as? Int ?? 0, updated = object["updated"] as? Int ?? 0, rejected = object["rejected"] as? Int ?? 0
    rows.append(ReportRow("import \(formatCount(Double(size))) rows (\(bytes >> 20) MiB CSV; \(created) created, \(updated) updated, \(rejected) rejected)",
                          "\(rate(size, seconds)) rows (\(String(format: "%.1f", seconds)) s)",
                          baseline: "peak RSS \(peak >> 20) MiB (\(before >> 20) MiB before); at the end \(anon >> 20) MiB heap + \(file >> 20) MiB mapped store pages"))
    try? FileManager.default.removeItem(atPath: scratch.sub("store-\(size)"))
    try? FileManager.default.removeItem(atPath: csv)
}
printTable("Import throughput and memory", rows)
