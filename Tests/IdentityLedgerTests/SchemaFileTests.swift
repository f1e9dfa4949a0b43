import Foundation
import Testing
@testable import IdentityLedger
@testable import idledger

/// Schema files (`init --schema`, `schema set`) are read strictly: a typo in a key must not
/// switch a guard off, so unknown keys, wrong value types, duplicate keys and trailing commas
/// are refused with the type (index and name) and the key (docs/decisions.md, "JSON input").
struct SchemaFileTests {
    /// Writes `text` to a file of its own and returns the path.
    static func file(_ text: String) throws -> String {
        let path = temporaryPath("schema.json")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    @Test(arguments: [
        // A misspelled guard was read as the guard switched off.
        (#"{"types":[{"name":"loyalty","kind":"unique","blockMergeOnConfict":true}]}"#,
         [#"types[0] "loyalty""#, #"unknown field "blockMergeOnConfict""#]),
        (#"{"types":[{"name":"email","kind":"contact"},{"name":"loyalty","kind":"unique","canGrantAcess":true}]}"#,
         [#"types[1] "loyalty""#, #"unknown field "canGrantAcess""#]),
        (#"{"types":[{"name":"email","kind":"contact"}],"version":2}"#, [#"unknown field "version""#]),
        // The second of two keys was dropped, and a trailing comma taken.
        (#"{"types":[{"name":"loyalty","kind":"unique","blockMergeOnConflict":true,"blockMergeOnConflict":false}]}"#,
         [#"duplicate key "blockMergeOnConflict""#, "byte 73"]),
        (#"{"types":[{"name":"loyalty","kind":"unique"},]}"#, ["trailing comma", "byte 46"]),
        // Wrong value types, named by type and key.
        (#"{"types":[{"name":"loyalty","kind":"unique","blockMergeOnConflict":"yes"}]}"#,
         [#"types[0] "loyalty""#, #""blockMergeOnConflict" must be true or false"#]),
        (#"{"types":[{"name":"loyalty","kind":"uniq"}]}"#, [#"types[0] "loyalty""#, #""kind""#, "uniq"]),
        (#"{"types":[{"name":"phone","kind":"contact","normalize":"e164"}]}"#, [#"types[0] "phone""#, #""normalize""#, "e164"]),
        (#"{"types":[{"name":"phone","kind":"contact","normalize":"phone","defaultCallingCode":44}]}"#,
         [#"types[0] "phone""#, #""defaultCallingCode" must be a string"#]),
        (#"{"types":[{"name":5,"kind":"soft"}]}"#, ["types[0]", #""name" must be a string"#]),
        (#"{"types":[{"kind":"soft"}]}"#, ["types[0]", #"missing field "name""#]),
        (#"{"types":["email"]}"#, ["types[0]", "must be an object"]),
        (#"{"types":{"name":"email"}}"#, [#""types" must be an array"#]),
        (#"{}"#, [#"missing field "types""#]),
        (#"[]"#, ["must be a JSON object"]),
    ])
    func badSchemaFilesAreRefused(text: String, fragments: [String]) throws {
        let path = try Self.file(text)
        do {
            let schema = try loadSchema(path)
            Issue.record("accepted \(text) as \(schema)")
        } catch let error as LedgerError {
            #expect(error.code == "invalidSchema", "\(error)")
            for fragment in fragments {
                #expect(error.description.contains(fragment), "\(text): \(error.description)")
            }
        }
    }

    /// What `schema show --json` prints is read back as the same schema; absent and `null`
    /// optional keys take their defaults.
    @Test func schemaShowOutputReadsBack() throws {
        let custom = Schema(types: Schema.default.types + [
            IdentifierType(name: "uk_phone", kind: .contact, normalize: .phone, defaultCallingCode: "44"),
        ])
        #expect(try loadSchema(Self.file(Output.json(custom))) == custom)
        let minimal = try loadSchema(Self.file(#"{"types":[{"name":"loyalty","kind":"unique","normalize":null,"canGrantAccess":null}]}"#))
        #expect(minimal == Schema(types: [IdentifierType(name: "loyalty", kind: .unique)]))
    }

    /// `schema set` with a misspelled key is refused and the schema in force stays.
    @Test func schemaSetRefusesAMisspelledKey() throws {
        let path = temporaryPath()
        #expect(try CLIProcess.run(["init", "--db", path]).status == 0)
        let file = try Self.file(#"{"types":[{"name":"loyalty","kind":"unique","blockMergeOnConfict":true}]}"#)
        let run = try CLIProcess.run(["schema", "set", file, "--db", path, "--json"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("invalidSchema") && run.stderr.contains("blockMergeOnConfict"), "\(run.stderr)")
        #expect(try Ledger.open(path: path).schema() == .default)
    }

    /// A schema `init --schema` or `schema set` refuses (here a soft type that grants access)
    /// creates nothing: no store and no directory, and a directory that was there stays as it
    /// was. The store used to be created first, with the default schema.
    @Test func anInvalidSchemaCreatesNoStore() throws {
        let file = try Self.file(#"{"types":[{"name":"cookie","kind":"soft","canGrantAccess":true}]}"#)
        let path = temporaryPath()
        let run = try CLIProcess.run(["init", "--db", path, "--schema", file, "--json"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("invalidSchema") && run.stderr.contains("canGrantAccess"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path))

        let empty = temporaryPath()
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try CLIProcess.run(["init", "--db", empty, "--schema", file]).status == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty) == [])

        let other = temporaryPath()
        #expect(try CLIProcess.run(["schema", "set", file, "--db", other]).status == 1)
        #expect(!FileManager.default.fileExists(atPath: other))

        // An existing store keeps its log and schema.
        let existing = temporaryPath()
        #expect(try CLIProcess.run(["identify", "--db", existing, "--id", "email=a@example.com"]).status == 0)
        #expect(try CLIProcess.run(["init", "--db", existing, "--schema", file]).status == 1)
        let ledger = try Ledger.open(path: existing)
        #expect(try ledger.statistics().events == 2)
        #expect(try ledger.schema() == .default)
    }
}
