import Foundation
import IdentityLedger
import LMDB

/// The generated workload as engine commands, made before any measurement.
public func commands(_ config: WorkloadConfig) -> [Command] {
    Workload(config).map(\.command)
}

/// Outcome counts of a batch of commands, to show the engine and SQLite resolved alike.
public struct Outcomes: Sendable, CustomStringConvertible {
    public var ok = 0
    public var errors: [String: Int] = [:]
    public init() {}
    public var description: String {
        let failed = errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(ok) ok" + (failed.isEmpty ? "" : ", " + failed)
    }
    public mutating func add(_ result: Result<CommandResult, LedgerError>) {
        switch result {
        case .success: ok += 1
        case .failure(let error): errors[error.code, default: 0] += 1
        }
    }
}

/// Runs `commands` through `execute(batch:)`, `batchSize` at a time.
@discardableResult
public func executeBatches(_ ledger: Ledger, _ commands: ArraySlice<Command>, batchSize: Int) async throws -> Outcomes {
    var outcomes = Outcomes()
    var start = commands.startIndex
    while start < commands.endIndex {
        let end = min(start + batchSize, commands.endIndex)
        for result in try await ledger.execute(batch: Array(commands[start..<end])) { outcomes.add(result) }
        start = end
    }
    return outcomes
}

/// The log of an engine store as raw (key, value) pairs, grouped by the command that
/// wrote them: the exact bytes the raw-append baseline writes.
public func logByCommand(_ ledger: Ledger, path: String) throws -> [[Entry]] {
    // The ledger keeps the environment open; `Environment.open` hands back that instance.
    let env = try Environment.open(path: path, configuration: .init(databases: [.init("log")]))
    let log = try env.database("log")
    let entries: [Entry] = try env.read { txn in
        var all: [Entry] = []
        try txn.forEach(log, prefix: []) { all.append($0); return true }
        return all
    }
    var groups: [[Entry]] = []
    var from: UInt64 = 1
    var current: UInt64 = 0
    while true {
        let events = try ledger.events(from: from, limit: 100_000)
        guard let last = events.last else { break }
        for event in events {
            let entry = entries[Int(event.seq) - 1]
            if event.commandSeq != current || groups.isEmpty {
                groups.append([entry])
                current = event.commandSeq
            } else {
                groups[groups.count - 1].append(entry)
            }
        }
        from = last.seq + 1
    }
    return groups
}

/// The physical limit: appends `groups` (each one command's events) to a fresh LMDB
/// environment with `MDB_APPEND`, `batchSize` commands per durable commit.
public func rawAppend(_ env: Environment, _ groups: ArraySlice<[Entry]>, batchSize: Int) throws {
    let log = try env.database("log")
    var start = groups.startIndex
    while start < groups.endIndex {
        let end = min(start + batchSize, groups.endIndex)
        try env.write { txn in
            for group in groups[start..<end] {
                for entry in group { try txn.put(log, key: entry.key, value: entry.value, flags: .append) }
            }
        }
        start = end
    }
}

public func openRaw(_ path: String, durability: Environment.Durability = .full) throws -> Environment {
    try Environment.open(path: path, configuration: .init(databases: [.init("log")], initialMapSize: 1 << 30, durability: durability))
}

/// Disk usage of a directory's files, in bytes.
public func directorySize(_ path: String) -> Int {
    let files = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
    return files.reduce(0) { sum, file in
        let attributes = try? FileManager.default.attributesOfItem(atPath: (path as NSString).appendingPathComponent(file))
        return sum + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
    }
}

/// Events in an engine store's log (read through the environment the ledger holds open).
public func logCount(path: String) throws -> Int {
    let env = try Environment.open(path: path, configuration: .init(databases: [.init("log")]))
    let log = try env.database("log")
    return try env.read { try $0.count(log) }
}

/// Durable commits so far in the environment at `path` (LMDB's last transaction ID).
public func commitCount(path: String) throws -> Int {
    try Environment.open(path: path, configuration: .init(databases: [.init("log")])).lastTransactionID
}
