import Foundation
import Testing
@testable import LMDB

/// Dropping resident mapped pages loses nothing and lowers this process's file-backed RSS.
struct MappedPagesTests {
    static func rssFileKilobytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func releasedPagesReadBackUnchanged() throws {
        try withTempDir("mapped") { dir in
            let env = try openEnv(dir, [.init("kv")], initialMapSize: 256 << 20)
            let kv = try env.database("kv")
            let value = [UInt8](repeating: 7, count: 4096)
            try syncWrite(env) { txn in
                for n in 0..<20_000 { try txn.put(kv, key: Array(String(n).utf8), value: value) }
            }
            func readAll() throws -> Int {
                try env.read { txn in
                    var total = 0
                    try txn.forEach(kv, prefix: []) { entry in total += entry.value.count; return true }
                    return total
                }
            }
            #expect(try readAll() == 20_000 * 4096)
            let before = Self.rssFileKilobytes()
            env.releaseMappedPages()
            let after = Self.rssFileKilobytes()
            // 80 MB of values were resident; most of it must be gone from this process.
            #expect(before - after > 40_000, "RssFile \(before) kB → \(after) kB")
            #expect(try readAll() == 20_000 * 4096)
        }
    }
}
