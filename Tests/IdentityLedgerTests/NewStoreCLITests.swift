import Foundation
import Testing
@testable import IdentityLedger

/// A writing command creates the store on a new path; when it is refused (or every `ingest`
/// line fails) nothing is left behind, not even an empty store, while `init` keeps the store
/// it creates and an existing store is never removed.
@Suite struct NewStoreCLITests {
    @Test func aRefusedFirstWriteLeavesNoStore() throws {
        let root = temporaryPath("new-stores")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let refusals: [(String, [String], String)] = [
            ("merge", ["merge", "1", "2", "--actor", "ops"], ""),
            ("identify", ["identify", "--id", "email=bad"], ""),
            ("ingest", ["ingest", "-"], #"{"op":"identify","ids":{"email":"bad"}}"# + "\n"),
        ]
        for (name, arguments, input) in refusals {
            let path = root + "/" + name
            let run = try CLIProcess.run(arguments + ["--db", path], input: input)
            #expect(run.status != 0, "\(name)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(name) left \(path) behind")
        }
        // A directory that was there before stays, without the store's files.
        let existing = root + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        #expect(try CLIProcess.run(["identify", "--id", "email=bad", "--db", existing]).status == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)
        // One good ingest line keeps the store; init keeps the empty store it creates.
        let partly = root + "/partly"
        let ingest = try CLIProcess.run(["ingest", "-", "--db", partly], input: #"{"op":"identify","ids":{"email":"bad"}}"# + "\n" + #"{"op":"identify","ids":{"email":"a@example.com"}}"# + "\n")
        #expect(ingest.status == 2)
        #expect(try Ledger.open(path: partly).events(limit: .max).count == 2)
        let created = root + "/created"
        #expect(try CLIProcess.run(["init", "--db", created]).status == 0)
        #expect(try CLIProcess.run(["identify", "--id", "email=bad", "--db", created]).status == 1)
        #expect(FileManager.default.fileExists(atPath: created + "/data.mdb"))
    }

    @Test func removeIfUnusedKeepsAStoreWithEvents() async throws {
        let empty = temporaryPath("unused")
        _ = try Ledger.open(path: empty)
        #expect(Ledger.removeIfUnused(path: empty))
        #expect(!FileManager.default.fileExists(atPath: empty + "/data.mdb"))
        let used = try await makeLedger()
        _ = try await used.identify("email=a@example.com")
        #expect(!Ledger.removeIfUnused(path: used.env.path))
        #expect(try used.events(limit: .max).count == 2)
    }
}
