import Foundation
import Testing
@testable import IdentityLedger

/// Writes `contents` to a new temporary file named `name`.
func importFixture(_ name: String, _ contents: [UInt8]) throws -> String {
    let path = temporaryPath(name)
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(contents).write(to: URL(fileURLWithPath: path))
    return path
}

func importFixture(_ name: String, _ text: String) throws -> String { try importFixture(name, Array(text.utf8)) }

/// Puts `replacement`, opened read-only, in place of this process's open descriptor of the
/// file at `path` (found through /proc/self/fd), so that its next read fails as reading
/// `replacement` would. False when no descriptor of that file is open.
func replaceOpenDescriptor(of path: String, with replacement: String) -> Bool {
    var target = stat()
    guard stat(path, &target) == 0 else { return false }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        guard let fd = Int32(name) else { continue }
        var opened = stat()
        guard stat("/proc/self/fd/\(name)", &opened) == 0, opened.st_dev == target.st_dev, opened.st_ino == target.st_ino else { continue }
        let other = open(replacement, O_RDONLY)
        guard other >= 0 else { return false }
        defer { close(other) }
        return dup2(other, fd) >= 0
    }
    return false
}

/// The errors file's lines, decoded.
func rejections(_ path: String) throws -> [ImportRejection] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
        try JSONDecoder().decode(ImportRejection.self, from: Data($0.utf8))
    }
}

struct ImportTests {
    @Test func createsUpdatesAndAttachesByMatchKey() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=ann@example.com", "cookie=c1", properties: ["tier": "silver"])
        let file = try importFixture("in.csv", """
            email,external_id,phone,tier,city
            ann@example.com,E-1,+44 20 7946 0958,gold,
            bob@example.com,E-2,,,Leeds

            """)
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(summary.rows == 2 && summary.created == 1 && summary.updated == 1 && summary.rejected == 0)
        #expect(summary.resumedAfterRow == nil && !summary.alreadyFinished)
        let ann = try ledger.customer(.id(1))
        #expect(Set(ann.identifiers.map(\.identifier.description)) == ["email=ann@example.com", "cookie=c1", "external_id=E-1", "phone=+442079460958"])
        #expect(ann.properties["tier"] == "gold")
        // An empty cell writes nothing.
        #expect(ann.properties["city"] == nil)
        #expect(try ledger.owner("external_id=E-2") == 2)
        #expect(try ledger.customer(.id(2)).properties["city"] == "Leeds")
        let events = try ledger.events(from: 1, limit: 100)
        #expect(events.map(\.kind).suffix(4) == ["importStarted", "identified", "identified", "importFinished"])
        #expect(events.suffix(3).dropLast().map(\.row) == [1, 2])
        #expect(events.suffix(4).allSatisfy { $0.importId == summary.importId })
        #expect(try ledger.verify().isValid)
    }

    /// `access:` cells: true or false in any case and with spaces around, an empty cell is
    /// false, anything else refuses the row.
    @Test func accessCellsAreTrueOrFalse() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "external_id,email,access:email\nE-1,a@x.com,true\nE-2,b@x.com, TRUE \nE-3,c@x.com,False\nE-4,d@x.com,\nE-5,e@x.com,yes\n")
        let summary = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".errors")
        #expect(summary.created == 4 && summary.rejected == 1)
        #expect(try ledger.lookup(Identifier(type: "email", value: "a@x.com")).map(\.access) == [true])
        #expect(try ledger.lookup(Identifier(type: "email", value: "b@x.com")).map(\.access) == [true])
        #expect(try ledger.lookup(Identifier(type: "email", value: "c@x.com")).map(\.access) == [false])
        #expect(try ledger.lookup(Identifier(type: "email", value: "d@x.com")).map(\.access) == [false])
        let rejected = try rejections(file + ".errors")
        #expect(rejected.map(\.row) == [5] && rejected.map(\.column) == ["access:email"])
    }

    /// `at` cells are strict times (no February 30), with spaces around them allowed.
    @Test func atCellsAreTimesWithSpacesAroundThemAllowed() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "external_id,at\nE-1, 2026-10-02T12:00:00Z \nE-2,2026-02-30T12:00:00Z\nE-3,2026-10-02 12:00:00Z\n")
        let summary = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".errors")
        #expect(summary.created == 1 && summary.rejected == 2)
        let imported = try ledger.events(from: 1, limit: 100).filter { $0.kind == "identified" }
        #expect(imported.map(\.occurredAt) == [1_790_942_400_000])
        #expect(try rejections(file + ".errors").map(\.column) == ["at", "at"])

        // A JSON Lines `at` is a string, taken as it is, as an ingest line's.
        let lines = try importFixture("in.jsonl", #"{"ids":{"external_id":"E-9"},"at":" 2026-10-02T12:00:00Z"}"# + "\n")
        let jsonSummary = try await ledger.importFile(at: lines, matchBy: "external_id", errors: lines + ".errors")
        #expect(jsonSummary.rejected == 1)
    }

    @Test func importsNeverMerge() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("external_id=E-1")
        try await ledger.identify("email=ann@example.com")
        // identify would merge these two; the import matches by external_id and leaves email's holder alone.
        let file = try importFixture("in.csv", "external_id,email\nE-1,ann@example.com\n")
        let summary = try await ledger.importFile(at: file, matchBy: "external_id")
        #expect(summary.updated == 1)
        #expect(try ledger.lookup(Identifier(type: "email", value: "ann@example.com")).map(\.customer) == [1, 2])
        #expect(try ledger.events(from: 1, limit: 100).allSatisfy { $0.kind != "merged" })
    }

    @Test func csvRejectionsCarryRowColumnCodeAndOwner() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("external_id=OWNED")
        try await ledger.identify("email=login@example.com", access: ["email"])
        try await ledger.identify("email=shared@example.com", "external_id=S1")
        try await ledger.identify("email=shared@example.com", "external_id=S2")
        try await ledger.identify("external_id=M1", "email=m1@example.com", access: ["email"])
        let file = try importFixture("in.csv", [UInt8]("""
            external_id,email,access:email,access:loyalty,customer_id,at,name
            A1,not-an-email,,,,,bad value
            A2,a2@example.com,,yes,,,unknown access type
            A3,a3@example.com,,,C-9,,identifier column not in the schema
            A4,a4@example.com,,,,,too,many
            A5,"a5@example.com"x,,,,,bad quoting
            OWNED,a7@example.com,,,,,unique owned by customer 1
            A8,login@example.com,true,,,,matches the access owner
            A9,a9@example.com,maybe,,,,bad boolean
            A10,a10@example.com,,,,yesterday,bad time
            ,,,,,,no identifiers
            A12,shared@example.com,,,,,several holders of the match value
            A13,m1@example.com,true,,,,unique conflict with the matched customer
            A14,a14@example.com,,,,,
            """.utf8) + [0x0A] + Array("A15,a15@example.com,,,,,bad ".utf8) + [0xFF, 0x0A])
        let errors = file + ".errors.jsonl"
        let summary = try await ledger.importFile(at: file, matchBy: "email", errors: errors)
        #expect(summary.rows == 14 && summary.rejected == 12 && summary.created == 1 && summary.updated == 1)
        #expect(summary.errorsFile == errors)
        let found = try rejections(errors)
        #expect(found.map(\.row) == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 14])
        #expect(found.map(\.code) == [
            "invalidIdentifierValue", "unknownIdentifierType", "unknownIdentifierType", "wrongColumnCount", "malformedQuoting",
            "duplicateUniqueIdentifier", "invalidInput", "invalidInput", "noIdentifiers",
            "ambiguousCustomer", "mergeBlocked", "invalidUTF8",
        ])
        #expect(found.map(\.column) == [
            "email", "access:loyalty", "customer_id", nil, "email", "external_id", "access:email", "at", nil,
            "email", "email", "name",
        ])
        #expect(found[5].customer == 1 && found[5].message.contains("customer 1"))
        #expect(found[10].customer == 5 && found[10].message.contains("uniqueIdConflict"))
        // A blocked match carries every guard's result (behaviour §5.6), and only it does.
        #expect(found[10].guards?.map(\.guard) == [.uniqueIdConflict, .accessContactsDiffer])
        #expect(found[10].guards?.map(\.passed) == [false, true])
        #expect(found[10].guards?.first?.evidence.map(\.identifier.description) == ["external_id=A13", "external_id=M1"])
        #expect(found.filter { $0.guards != nil }.map(\.row) == [12])
        #expect(found.map(\.line) == [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 15])
        // Matched by email through its access owner, which gains the row's other values.
        #expect(try ledger.owner("external_id=A8") == 2)
        #expect(try ledger.owner("external_id=A14") == 6)
    }

    @Test func accessValueOfAnotherCustomerIsRefused() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=login@example.com", "external_id=OWNER", access: ["email"])
        let file = try importFixture("in.csv", "external_id,email,access:email\nNEW,login@example.com,true\nNEW2,login@example.com,false\n")
        let summary = try await ledger.importFile(at: file, matchBy: "external_id", errors: file + ".errors")
        #expect(summary.rejected == 1 && summary.created == 1)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["accessContactInUse"])
        #expect(found.first?.customer == 1 && found.first?.column == "email")
        // Without the access flag the contact is simply shared.
        #expect(try ledger.lookup(Identifier(type: "email", value: "login@example.com")).map(\.customer) == [1, 2])
    }

    @Test func matchingByContactUsesItsAccessOwner() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("phone=+442079460958", "external_id=H1")
        try await ledger.identify("phone=+442079460958", "external_id=H2", access: ["phone"])
        let file = try importFixture("in.jsonl", """
            {"ids":{"phone":"+44 20 7946 0958"},"properties":{"plan":"family"},"at":"2026-01-01T00:00:00Z"}
            {"ids":{"phone":"+442079460958","cookie":["k1","k2"]}}
            {"ids":{"email":"x@example.com"},"access":["cookie"]}
            {"ids":{"loyalty":"L1"}}
            not json
            {"ids":{"email":"y@example.com"},"eventId":"e1"}
            {"ids":{"phone":"+442079460958"},"properties":{"a":1,}}
            ["ids"]
            """)
        let summary = try await ledger.importFile(at: file, matchBy: "phone", errors: file + ".errors")
        #expect(summary.updated == 2 && summary.rejected == 6)
        #expect(try ledger.customer(.id(2)).properties["plan"] == "family")
        #expect(try ledger.owner("cookie=k1") == 2)
        let found = try rejections(file + ".errors")
        #expect(found.map(\.code) == ["accessNotAllowedForType", "unknownIdentifierType", "invalidJSON", "invalidInput", "invalidJSON", "invalidJSON"])
        #expect(found.map(\.column) == ["access", "ids.loyalty", nil, "eventId", nil, nil])
        #expect(found[2].message == "not valid JSON at byte 1: expected null")
        #expect(found[4].message == "not valid JSON at byte 54: expected a key after ',' (a trailing comma is not JSON)")
        #expect(found[5].message == "the line is not a JSON object")
    }

    @Test func headerProblemsStartNothing() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=a@example.com")
        let before = try ledger.fingerprint()
        for header in ["email,name,email\n", "email,,name\n", "email,\"name\n", "name,city\n"] {
            let file = try importFixture("in.csv", header + "a@example.com,x,y\n")
            await #expect(throws: LedgerError.self) { try await ledger.importFile(at: file, matchBy: "email") }
        }
        let file = try importFixture("in.csv", "email\nb@example.com\n")
        let error = await ledgerError { _ = try await ledger.importFile(at: file, matchBy: "loyalty") }
        #expect(error?.code == "unknownIdentifierType")
        #expect(try ledger.fingerprint() == before)
    }

    /// A file that cannot be read (a directory: its first read fails) is an error naming it
    /// and the system's reason, not an empty input, and the import starts nothing.
    @Test(arguments: ["d.csv", "d.jsonl", "missing.csv"])
    func anUnreadableFileIsAnErrorAndStartsNothing(_ name: String) async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=a@example.com")
        let path = temporaryPath(name)
        if !name.hasPrefix("missing") { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        let error = try await expectRefused(ledger, code: "fileNotReadable") {
            _ = try await ledger.importFile(at: path, matchBy: "email", errors: path + ".errors")
        }
        #expect(error?.description == "cannot read \(path): \(name.hasPrefix("missing") ? "No such file or directory" : "Is a directory")")
        #expect(!FileManager.default.fileExists(atPath: path + ".errors"))
    }

    /// A read error part-way through the rows stops the import with `fileNotReadable`: the
    /// batches committed before it stay, the import is not finished, and a re-run resumes.
    /// The error is real: after the first batch the open file's descriptor is replaced by
    /// one of a directory, so the reader's next `read` fails with EISDIR.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/fd")))
    func aReadErrorMidFileLeavesTheImportUnfinishedAndResumable() async throws {
        // Over 1 MiB, so that the rows pass reads the file in two chunks.
        let rows = (1...1200).map { "E\($0),\(String(repeating: "x", count: 1000))" }
        let file = try importFixture("in.csv", "external_id,note\n" + rows.joined(separator: "\n") + "\n")
        let tuning = ImportTuning(batchSize: 100)
        let ledger = try await makeLedger()
        var broken = false
        let error = await ledgerError {
            _ = try await ledger.importFile(at: file, format: nil, matchBy: "external_id", importId: "mid", errors: nil, progress: { _ in
                if !broken { broken = replaceOpenDescriptor(of: file, with: (file as NSString).deletingLastPathComponent) }
            }, tuning: tuning)
        }
        #expect(broken)
        #expect(error?.code == "fileNotReadable")
        #expect(error?.description == "cannot read \(file): Is a directory")
        let state = try ledger.snapshot { try $0.importState("mid") }
        let committed = try #require(state?.lastRow)
        #expect(state?.finished == nil)
        #expect(committed >= 200 && committed < 1200 && committed % 100 == 0, "\(committed)")
        #expect(try ledger.events(from: 1, limit: .max).allSatisfy { $0.kind != "importFinished" })

        let resumed = try await ledger.importFile(
            at: file, format: nil, matchBy: "external_id", importId: "mid", errors: nil, progress: nil, tuning: tuning)
        #expect(resumed.resumedAfterRow == committed && !resumed.alreadyFinished)
        #expect((resumed.rows, resumed.created, resumed.rejected) == (1200, 1200, 0))
        #expect(try ledger.verify().isValid)
    }

    /// An errors file that is the input itself, by its own path, a symbolic link, a `..`
    /// detour or a hard link, is refused before anything is written: it used to be emptied.
    @Test func anErrorsFileThatIsTheInputIsRefused() async throws {
        let ledger = try await makeLedger()
        try await ledger.identify("email=a@example.com")
        let contents = "email,name\nb@example.com,Bob\nbad,Bad\n"
        let file = try importFixture("c.csv", contents)
        let directory = (file as NSString).deletingLastPathComponent
        let link = directory + "/link.jsonl", hardLink = directory + "/hard.jsonl"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        try FileManager.default.linkItem(atPath: file, toPath: hardLink)
        let detour = directory + "/../" + (directory as NSString).lastPathComponent + "/c.csv"
        for errors in [file, link, detour, hardLink] {
            let error = try await expectRefused(ledger, code: "invalidInput") {
                _ = try await ledger.importFile(at: file, matchBy: "email", errors: errors)
            }
            #expect(error?.description.contains(errors) == true, "\(String(describing: error))")
            #expect(try String(contentsOfFile: file, encoding: .utf8) == contents)
        }
        // The input named through the link, the errors file by its own path: the same file too.
        try await expectRefused(ledger, code: "invalidInput") {
            _ = try await ledger.importFile(at: link, format: .csv, matchBy: "email", errors: file)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == contents)
    }

    @Test func rerunOfAFinishedImportIsANoOp() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "email,name\na@example.com,Ann\nbad,Bob\n")
        let first = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        let before = try ledger.fingerprint()
        let again = try await ledger.importFile(at: file, matchBy: "email", errors: file + ".errors")
        #expect(again.alreadyFinished)
        #expect(again.importId == first.importId)
        #expect((again.rows, again.created, again.updated, again.rejected) == (2, 1, 0, 1))
        #expect(try ledger.fingerprint() == before)
        #expect(try rejections(file + ".errors").count == 1)
    }

    @Test func aDifferentFileUnderTheSameImportIdFails() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.csv", "email\na@example.com\n")
        _ = try await ledger.importFile(at: file, matchBy: "email", importId: "crm-2026-11")
        let other = try importFixture("in.csv", "email\nb@example.com\n")
        try await expectRefused(ledger, code: "importSourceChanged") {
            _ = try await ledger.importFile(at: other, matchBy: "email", importId: "crm-2026-11")
        }
    }

    /// 23 rows (some rejected, some updating rows of the same file) in batches of 3.
    private static let resumeFile: String = {
        var lines = ["external_id,email,access:email,name"]
        for i in 1...23 {
            switch i % 7 {
            case 3: lines.append("X\(i),not-an-email,,bad \(i)")
            case 5: lines.append("X\(i - 4),again\(i)@example.com,,update of \(i - 4)")
            case 6: lines.append("X\(i),shared@example.com,true,dup access \(i)")
            default: lines.append("X\(i),user\(i)@example.com,true,name \(i)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test(arguments: [1, 2, 5, 7, 8])
    func resumeAfterACrashEqualsAnUninterruptedImport(stopAfter batches: Int) async throws {
        let tuning = ImportTuning(batchSize: 3)
        let file = try importFixture("in.csv", Self.resumeFile)

        let straight = try await makeLedger()
        let expected = try await straight.importFile(
            at: file, format: nil, matchBy: "external_id", importId: nil, errors: file + ".straight", progress: nil, tuning: tuning)

        let crashed = try await makeLedger()
        let errors = file + ".crashed"
        var interrupted = tuning
        interrupted.stopAfterBatches = batches
        _ = await ledgerError {
            _ = try await crashed.importFile(at: file, format: nil, matchBy: "external_id", importId: nil, errors: errors, progress: nil, tuning: interrupted)
        }
        // A crash can also leave rejections of an uncommitted batch behind; the resume drops them.
        let stale = ImportErrorsFile.line(ImportRejection(row: 999, line: 1000, column: nil, code: "x", message: "stale")) + "\n"
        let handle = FileHandle(forWritingAtPath: errors)!
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(stale.utf8))
        try handle.close()

        let committed = try crashed.snapshot { try $0.importState(expected.importId) }?.lastRow
        var reports: [ImportProgress] = []
        let resumed = try await crashed.importFile(
            at: file, format: nil, matchBy: "external_id", importId: nil, errors: errors, progress: { reports.append($0) }, tuning: tuning)
        #expect(committed != nil && resumed.resumedAfterRow == committed)
        #expect((resumed.rows, resumed.created, resumed.updated, resumed.rejected) == (expected.rows, expected.created, expected.updated, expected.rejected))
        #expect(reports.allSatisfy { $0.rows - $0.rowsThisRun == committed })
        // Byte-identical: the same log and the same projections.
        #expect(try crashed.events(from: 1, limit: .max) == straight.events(from: 1, limit: .max))
        #expect(try crashed.projectionDigests() == straight.projectionDigests())
        #expect(try String(contentsOfFile: errors, encoding: .utf8) == String(contentsOfFile: file + ".straight", encoding: .utf8))
        #expect(try crashed.verify().isValid)
    }

    @Test func resumeNeverAppliesARowTwice() async throws {
        let ledger = try await makeLedger()
        let file = try importFixture("in.jsonl", (1...10).map { #"{"ids":{"external_id":"E\#($0)"},"properties":{"n":"\#($0)"}}"# }.joined(separator: "\n"))
        _ = await ledgerError {
            _ = try await ledger.importFile(at: file, format: nil, matchBy: "external_id", importId: "j", errors: nil, progress: nil,
                                            tuning: ImportTuning(batchSize: 4, stopAfterBatches: 2))
        }
        #expect(try ledger.events(from: 1, limit: .max).filter { $0.importId == "j" && $0.row != nil }.map(\.row) == (1...8).map { $0 })
        let summary = try await ledger.importFile(at: file, format: .jsonl, matchBy: "external_id", importId: "j", errors: nil, progress: nil,
                                                  tuning: ImportTuning(batchSize: 4))
        #expect(summary.resumedAfterRow == 8 && summary.created == 10 && summary.rows == 10)
        let rows = try ledger.events(from: 1, limit: .max).compactMap(\.row)
        #expect(rows == (1...10).map { $0 })
    }
}
