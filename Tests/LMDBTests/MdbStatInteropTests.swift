import Foundation
import Testing
@testable import LMDB

private let mdbStat = findExecutable("mdb_stat", candidates: ["/usr/bin/mdb_stat"])

@Suite(.enabled(if: mdbStat != nil, "mdb_stat (lmdb-utils) is not installed"))
struct MdbStatInteropTests {
    @Test func mdbStatReadsAnEnvironmentThisLayerWrote() throws {
        try withTempDir("mdbstat") { dir in
            let env = try openEnv(dir, [.init("customers"), .init("links")], durability: .full)
            let customers = try env.database("customers")
            let links = try env.database("links")
            try env.write { txn in
                for i: UInt8 in 1...3 { try txn.put(customers, key: [i], value: [i, i]) }
                for v: UInt8 in 1...5 { try txn.put(links, key: [9, v], value: [v]) }
            }
            let all = try runProcess(mdbStat!, ["-a", env.path])
            #expect(all.status == 0, "\(all.output)")
            #expect(all.output.contains("Status of customers"), "\(all.output)")
            #expect(all.output.contains("Status of links"), "\(all.output)")

            let one = try runProcess(mdbStat!, ["-s", "customers", env.path])
            #expect(one.status == 0, "\(one.output)")
            #expect(one.output.contains("Entries: 3"), "\(one.output)")
            let linkStat = try runProcess(mdbStat!, ["-s", "links", env.path])
            #expect(linkStat.output.contains("Entries: 5"), "\(linkStat.output)")

            let missing = try runProcess(mdbStat!, ["-s", "nonexistent", env.path])
            #expect(missing.status != 0)
        }
    }
}
