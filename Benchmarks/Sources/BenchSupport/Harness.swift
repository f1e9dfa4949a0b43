import Foundation

// A plain harness instead of ordo-one/benchmark: see BENCHMARKS.md ("Harness") for why.
// Every suite measures only the region inside `time { }`; setup happens outside it.

/// Monotonic seconds.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Seconds `body` took.
public func time(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

public func time(_ body: () async throws -> Void) async rethrows -> Double {
    let start = now()
    try await body()
    return now() - start
}

/// Order statistics of a set of samples (seconds).
public struct Samples: Sendable {
    public private(set) var values: [Double]
    public init(_ values: [Double] = []) { self.values = values.sorted() }
    /// Kept sorted; the place is found by binary search (a linear one was 15% of an as-of
    /// run's samples with 20 000 queries, between the timed calls).
    public mutating func add(_ value: Double) {
        var low = 0, high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] > value { high = middle } else { low = middle + 1 }
        }
        values.insert(value, at: low)
    }
    public var count: Int { values.count }
    /// Nearest-rank percentile, `q` in 0...1.
    public func percentile(_ q: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let rank = Int((q * Double(values.count)).rounded(.up))
        return values[min(max(rank - 1, 0), values.count - 1)]
    }
    public var median: Double { percentile(0.5) }
    public var p99: Double { percentile(0.99) }
    public var mean: Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
}

/// One line of a suite's table: a figure, its baseline from the same run, their ratio,
/// and the target that ratio is held to.
public struct ReportRow {
    public var name: String
    public var figure: String
    public var baseline: String
    public var ratio: String
    public var target: String
    public init(_ name: String, _ figure: String, baseline: String = "", ratio: String = "", target: String = "") {
        self.name = name
        self.figure = figure
        self.baseline = baseline
        self.ratio = ratio
        self.target = target
    }
}

/// Prints a Markdown table to stdout (progress goes to stderr).
public func printTable(_ title: String, _ rows: [ReportRow]) {
    print("\n### \(title)\n")
    print("| measurement | figure | baseline (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows {
        print("| \(row.name) | \(row.figure) | \(row.baseline) | \(row.ratio) | \(row.target) |")
    }
}

public func progress(_ message: String) {
    FileHandle.standardError.write(Data("[\(String(format: "%7.1f", now() - processStart))s] \(message)\n".utf8))
}

private let processStart = now()

public func rate(_ count: Int, _ seconds: Double) -> String { formatCount(Double(count) / seconds) + "/s" }

public func formatCount(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e4 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}

public func ms(_ seconds: Double) -> String {
    seconds < 0.001 ? String(format: "%.1f µs", seconds * 1e6) : String(format: "%.2f ms", seconds * 1e3)
}

public func ratio(_ value: Double) -> String { value >= 10 ? String(format: "%.1fx", value) : String(format: "%.2fx", value) }

public func verdict(_ met: Bool) -> String { met ? "met" : "**not met**" }

/// Peak resident set size of this process so far (`VmHWM`), in bytes.
public func peakRSS() -> Int { procStatus("VmHWM") }
/// Current resident set size (`VmRSS`), in bytes.
public func currentRSS() -> Int { procStatus("VmRSS") }
/// Current anonymous (heap) resident memory (`RssAnon`), in bytes: RSS without LMDB's
/// file-backed map pages, which count in `VmRSS`/`VmHWM` but are page cache the kernel may drop.
public func currentAnonRSS() -> Int { procStatus("RssAnon") }
public func currentFileRSS() -> Int { procStatus("RssFile") }

private func procStatus(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let number = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return number * 1024
    }
    return 0
}

/// Command-line flags shared by the suites: `--quick`, `--iterations N`, `--dir PATH`,
/// and suite-specific `--name value` pairs.
public struct Arguments {
    public let quick: Bool
    private let values: [String: String]
    public init(_ arguments: [String] = CommandLine.arguments) {
        var values: [String: String] = [:]
        var quick = false
        var i = 1
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--quick" {
                quick = true
            } else if arg.hasPrefix("--"), i + 1 < arguments.count {
                values[String(arg.dropFirst(2))] = arguments[i + 1]
                i += 1
            }
            i += 1
        }
        self.quick = quick
        self.values = values
    }
    public func int(_ name: String, _ fallback: Int) -> Int { values[name].flatMap { Int($0) } ?? fallback }
    public func string(_ name: String, _ fallback: String) -> String { values[name] ?? fallback }
    public func has(_ name: String) -> Bool { values[name] != nil }
}

/// A scratch directory for stores, removed with `remove()`; under `$BENCH_DIR` or /tmp.
public struct ScratchDirectory {
    public let path: String
    public init(_ name: String) {
        let root = ProcessInfo.processInfo.environment["BENCH_DIR"] ?? NSTemporaryDirectory()
        path = (root as NSString).appendingPathComponent("idledger-bench-\(name)-\(getpid())")
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The machine, for the report header.
public func machineSummary() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
    let memory = ProcessInfo.processInfo.physicalMemory
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(memory >> 30) GiB"
}
