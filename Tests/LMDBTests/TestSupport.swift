import Foundation
import Testing
@testable import LMDB

/// A fresh, unique directory under the system temporary directory, removed by `cleanup()`.
struct TempDir {
    let url: URL
    var path: String { url.path }

    init(_ label: String = "lmdb") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("LMDBTests-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: url)
    }

    /// A subdirectory path (not created).
    func sub(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Runs `body` with a fresh temp directory and removes it afterwards.
func withTempDir<T>(_ label: String = "lmdb", _ body: (TempDir) throws -> T) throws -> T {
    let dir = try TempDir(label)
    defer { dir.cleanup() }
    return try body(dir)
}

func withTempDir<T>(_ label: String = "lmdb", _ body: (TempDir) async throws -> T) async throws -> T {
    let dir = try TempDir(label)
    defer { dir.cleanup() }
    return try await body(dir)
}

/// Opens an environment in a fresh subdirectory of `dir`.
func openEnv(
    _ dir: TempDir,
    _ databases: [Environment.DatabaseSpec] = [.init("main")],
    initialMapSize: Int = 8 << 20,
    durability: Environment.Durability = .noSync
) throws -> Environment {
    try Environment.open(
        path: dir.sub("env"),
        configuration: .init(databases: databases, initialMapSize: initialMapSize, durability: durability)
    )
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func string(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

/// A deterministic pseudo-random generator (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Result of running a child process to completion.
struct ProcessResult {
    var status: Int32
    var output: String
}

/// Runs `executable` with `arguments` and returns its exit status and combined output.
func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// The first of `candidates` that exists and is executable, else one found on PATH.
func findExecutable(_ name: String, candidates: [String] = []) -> String? {
    let fm = FileManager.default
    for path in candidates where fm.isExecutableFile(atPath: path) { return path }
    let pathVar = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in pathVar.split(separator: ":") {
        let path = "\(dir)/\(name)"
        if fm.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Calls the synchronous `write` (inside an async function plain `env.write` picks the async overload).
@discardableResult
func syncWrite<T>(_ env: Environment, _ body: (WriteTransaction) throws -> T) throws -> T {
    try env.write(body)
}
