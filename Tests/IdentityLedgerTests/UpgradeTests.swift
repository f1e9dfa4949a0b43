import Foundation
import Testing
@testable import IdentityLedger

/// A store written in an older store format is never rewritten as a side effect of opening
/// it: `open` fails with `upgradeRequired` and leaves its data file byte for byte as it was,
/// until the upgrade is asked for (`Options.upgrade`, `idledger upgrade`).
///
/// Serialized: an upgrade needs the store's lock exclusively, and a child process this test
/// process spawns meanwhile holds a copy of every descriptor, the lock's included, until its
/// `exec` closes it, which can make a rebuild here fail with `storeInUse` for a moment.
@Suite(.serialized) struct UpgradeTests {
    static let olderFormats = Array(1..<Ledger.storeFormat)

    /// A copy of the fixture of store format `format` in a fresh directory.
    static func copyOfFixture(_ format: UInt64, _ name: String = "older") throws -> String {
        let path = temporaryPath(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: FormatFixtureTests.fixture(format: format), toPath: path + "/data.mdb")
        return path
    }

    private func dataFile(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb"))
    }

    /// The files of the store directory other than LMDB's lock file (its reader table, which
    /// any open creates and which holds nothing of the store).
    private func storeFiles(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0 != "lock.mdb" }.sorted()
    }

    private func errorCode(_ output: CLIProcess.Output) -> String? {
        let line = output.stderr.split(separator: "\n").last.map(String.init) ?? ""
        let error = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: String]]
        return error?["error"]?["code"]
    }

    @Test(arguments: olderFormats)
    func openingAnOlderStoreWithoutTheOptionFailsAndLeavesItsFilesAsTheyWere(format: UInt64) throws {
        let path = try Self.copyOfFixture(format)
        let before = try dataFile(path)
        let wanted = LedgerError.upgradeRequired(found: Int(format), wanted: Int(Ledger.storeFormat))
        #expect(throws: wanted) { _ = try Ledger.open(path: path) }
        // The tool's path for commands that write: refused the same way, before any work.
        #expect(throws: wanted) { _ = try LazyLedger(path: path) }
        // Still older: a second open is refused too (the first recorded nothing).
        #expect(throws: wanted) { _ = try Ledger.open(path: path, options: .init(durability: .noSync)) }
        #expect(try dataFile(path) == before)
        #expect(try storeFiles(path) == ["data.mdb"])
        #expect(wanted.code == "upgradeRequired")
        #expect(wanted.description.contains("idledger upgrade") && wanted.description.contains("format \(format)"))
    }

    @Test(arguments: olderFormats)
    func theUpgradeOptionAndLedgerUpgradeKeepEveryEvent(format: UInt64) throws {
        let events = try Ledger.open(path: try Self.copyOfFixture(format), options: .init(upgrade: true)).events(limit: .max)
        #expect(events.count == 9)

        let path = try Self.copyOfFixture(format)
        var reported: [Ledger.ReplayProgress] = []
        let summary = try Ledger.upgrade(path: path, progress: { reported.append($0) })
        #expect(summary.found == Int(format) && summary.format == Int(Ledger.storeFormat))
        #expect(summary.rebuild?.events == 9)
        #expect(reported.last.map { "\($0.events)/\($0.total)" } == "9/9")
        try withStore(path) { ledger throws in
            #expect(try ledger.events(limit: .max) == events)
            #expect(try ledger.verify().isValid)
        }
        // Now current: nothing to do, and nothing written.
        let after = try dataFile(path)
        let again = try Ledger.upgrade(path: path)
        #expect(again.found == Int(Ledger.storeFormat) && again.rebuild == nil)
        #expect(try dataFile(path) == after)
    }

    @Test func aStoreOfTheCurrentFormatOpensWithOrWithoutTheOption() throws {
        let path = try Self.copyOfFixture(Ledger.storeFormat, "current")
        #expect(try Ledger.open(path: path).events(limit: .max).count == 9)
        #expect(try Ledger.open(path: path, options: .init(upgrade: true)).events(limit: .max).count == 9)
    }

    /// Deciding comes before anything that would write: a read-only store of an older format
    /// is refused with `upgradeRequired`, not with `readOnly` (which opening the databases an
    /// older format lacks would give).
    @Test(.enabled(if: StoreFaultTests.isRoot, "a bind mount needs root"))
    func aReadOnlyOlderStoreIsRefusedWithUpgradeRequired() throws {
        let path = try Self.copyOfFixture(1)
        let before = try dataFile(path)
        let mountPoint = temporaryPath("readonly-older")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try StoreFaultTests.command("/bin/mount", ["--bind", path, mountPoint]) == 0 else {
            Issue.record("cannot bind-mount \(path); this test needs mount permission")
            return
        }
        defer { _ = try? StoreFaultTests.command("/bin/umount", ["-l", mountPoint]) }
        guard try StoreFaultTests.command("/bin/mount", ["-o", "remount,ro,bind", mountPoint]) == 0 else {
            Issue.record("cannot remount \(mountPoint) read-only")
            return
        }
        #expect(throws: LedgerError.upgradeRequired(found: 1, wanted: Int(Ledger.storeFormat))) {
            _ = try Ledger.open(path: mountPoint)
        }
        #expect(try dataFile(path) == before)
    }

    @Test(arguments: olderFormats)
    func everyCommandRefusesAnOlderStoreUntilIdledgerUpgradeUpgradesIt(format: UInt64) throws {
        let path = try Self.copyOfFixture(format)
        let before = try dataFile(path)
        for arguments in [["show", "email=ann@example.com"], ["identify", "--id", "email=new@example.com"], ["verify"], ["stats"]] {
            let out = try CLIProcess.run(arguments + ["--db", path, "--json"])
            #expect(out.status == 1 && errorCode(out) == "upgradeRequired", "\(arguments[0]): \(out.status) \(out.stderr)")
        }
        let plain = try CLIProcess.run(["show", "email=ann@example.com", "--db", path])
        #expect(plain.status == 1 && plain.stderr.contains("idledger upgrade"), "\(plain.stderr)")
        #expect(try dataFile(path) == before)

        let upgrade = try CLIProcess.run(["upgrade", "--db", path, "--json"])
        #expect(upgrade.status == 0, "\(upgrade.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(upgrade.stdout.utf8)) as? [String: Any]
        #expect(result?["upgraded"] as? Bool == true)
        #expect(result?["from"] as? Int == Int(format) && result?["format"] as? Int == Int(Ledger.storeFormat))
        #expect(result?["events"] as? Int == 9)
        #expect(upgrade.stderr.isEmpty, "no progress with --json")

        let show = try CLIProcess.run(["show", "email=ann@example.com", "--db", path, "--json"])
        #expect(show.status == 0 && show.stdout.contains("ann@example.com"), "\(show.stderr)")
        let verify = try CLIProcess.run(["verify", "--db", path, "--json"])
        #expect(verify.status == 0 && verify.stdout.contains(#""ok":true"#), "\(verify.stderr)")

        let again = try CLIProcess.run(["upgrade", "--db", path])
        #expect(again.status == 0 && again.stdout == "already at format \(Ledger.storeFormat)\n", "\(again.stdout) \(again.stderr)")
        let againJSON = try CLIProcess.run(["upgrade", "--db", path, "--json"])
        let current = try JSONSerialization.jsonObject(with: Data(againJSON.stdout.utf8)) as? [String: Any]
        #expect(current?["upgraded"] as? Bool == false && current?["events"] is NSNull)
    }

    @Test func idledgerUpgradeShowsProgressOnATerminal() throws {
        let path = try Self.copyOfFixture(1)
        let out = try CLIProcess.runWithTerminalStderr(["upgrade", "--db", path])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("upgrade: 9/9 events (100%)"), "\(out.stderr)")
        #expect(out.stdout.hasPrefix("upgraded from format 1 to \(Ledger.storeFormat): 9 events"), "\(out.stdout)")
        #expect(try CLIProcess.run(["show", "email=ann@example.com", "--db", path]).status == 0)
    }

    @Test func idledgerUpgradeWithoutAStoreIsStoreNotFound() throws {
        let out = try CLIProcess.run(["upgrade", "--db", temporaryPath("none"), "--json"])
        #expect(out.status == 1 && errorCode(out) == "storeNotFound", "\(out.stderr)")
    }
}
